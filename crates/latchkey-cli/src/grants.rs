//! `latchkey grants …`: which apps and agents may call which account's API through Latchkey.

use clap::Subcommand;
use latchkey_core::Latchkey;
use latchkey_core::api::Access;
use latchkey_core::model::Actor;

use crate::{Failure, Outcome, render, resolve, shorten};

/// The longest `--for`: ten years.
const MAX_FOR: i64 = 10 * 365 * 86_400;

#[derive(Subcommand)]
pub enum GrantsCmd {
    /// List the grants: consumer, account, access, end, last use.
    List {
        /// One JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Allow CONSUMER (an MCP client's name, a program's path) to call the account's API.
    Add {
        /// An MCP client's name (its `clientInfo.name`, or `latchkey mcp --consumer`), or a program's
        /// executable path.
        consumer: String,
        /// CONNECTION:IDENTIFIER
        account: String,
        /// read (GET and HEAD only) or full (any method; under the `ask` hand-out policy, also the
        /// raw token for the program CONSUMER names).
        #[arg(long, default_value = "read", value_parser = ["read", "full"])]
        access: String,
        /// How long the grant lasts, such as 30m, 12h, 7d (default: until removed).
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
    },
    /// Remove CONSUMER's grant on the account.
    Remove {
        /// As given to `grants add`.
        consumer: String,
        /// CONNECTION:IDENTIFIER
        account: String,
    },
}

pub fn run(core: &Latchkey, cmd: GrantsCmd, actor: &Actor) -> Outcome {
    match cmd {
        GrantsCmd::List { json } => render::grants(core, &core.grants()?, json),
        GrantsCmd::Add { consumer, account, access, duration } => {
            let account = resolve(core, &account)?;
            let access: Access = access.parse().map_err(Failure::Usage)?;
            let until = duration.as_deref().map(parse_duration).transpose()?.map(|d| now() + d);
            let grant = core.add_grant(&consumer, &account.id, access, until, actor)?;
            let until = grant
                .until
                .map(|u| format!(" until {}", latchkey_core::model::rfc3339(u)))
                .unwrap_or_default();
            outln!(
                "{} may now call {}:{} with {} access{until}.",
                render::printable(&grant.consumer),
                account.connection,
                render::printable(&account.identifier),
                grant.access.as_str()
            );
            Ok(())
        }
        GrantsCmd::Remove { consumer, account } => {
            let account = resolve(core, &account)?;
            let what = format!(
                "{} on {}:{}",
                render::printable(&consumer),
                account.connection,
                render::printable(&account.identifier)
            );
            if core.remove_grant(&consumer, &account.id, actor)? {
                outln!("Removed the grant of {what}.");
            } else {
                outln!("There was no grant of {what}; nothing to do.");
            }
            Ok(())
        }
    }
}

/// `30m`, `12h`, `7d` (also `s`), in seconds; at most ten years.
fn parse_duration(s: &str) -> Outcome<i64> {
    let bad =
        || Failure::Usage(format!("“{}” is not a duration: use for example 30m, 12h or 7d.", shorten(s)));
    let Some(unit) = s.chars().last() else { return Err(bad()) };
    let n = &s[..s.len() - unit.len_utf8()];
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let total = n.parse::<i64>().ok().and_then(|n| n.checked_mul(seconds)).ok_or_else(bad)?;
    if total == 0 || total > MAX_FOR {
        return Err(Failure::Usage(format!(
            "“{}” must be more than nothing and at most ten years.",
            shorten(s)
        )));
    }
    Ok(total)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_read_their_units_and_refuse_the_rest() {
        assert!(matches!(parse_duration("30m"), Ok(1800)));
        assert!(matches!(parse_duration("12h"), Ok(43_200)));
        assert!(matches!(parse_duration("7d"), Ok(604_800)));
        for bad in
            ["", "d", "7", "7w", "-1d", "0h", "1.5h", "3650000d", "99999999999999999999d", "é", "1é", "éd"]
        {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
