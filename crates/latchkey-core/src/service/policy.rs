//! Hand-out policies: who may take an account's raw token or credential out of Latchkey. The one
//! check, [`Latchkey::check_handout`], runs on the raw hand-out path only (`access_token*`,
//! `read_credential`); calls through Latchkey (`call_api`) use the token inside and answer to
//! grants alone. The consumer is the caller: for the CLI, the program that ran it.

use super::Latchkey;
use crate::api::Access;
use crate::consent::{ConsentAnswer, ConsentPurpose, ConsentRequest};
use crate::error::{Error, Result};
use crate::model::{Account, AccountId, Actor, HandoutPolicy};
use crate::store::{AuditAction, AuditOutcome};

/// Asks the person in the running app whether `consumer` may take the account's raw token.
/// `Ok(None)`: no app is running to ask.
async fn ask_desktop_app(
    core: &Latchkey,
    consumer: &str,
    account: &AccountId,
    access: Access,
) -> Result<Option<ConsentAnswer>> {
    let request = ConsentRequest {
        consumer: consumer.to_owned(),
        account: account.clone(),
        access,
        purpose: ConsentPurpose::Token,
    };
    core.ask_app(&request).await
}

/// Why an `ask` account refuses a consumer, or `None` when it may go ahead. An app that could not
/// ask (no answer in time, a broken reply) refuses like a missing one: exit 4, with the way to allow.
fn refusal(answer: Result<Option<ConsentAnswer>>) -> Option<String> {
    match answer {
        Ok(Some(ConsentAnswer::Once | ConsentAnswer::Always)) => None,
        Ok(Some(ConsentAnswer::Deny)) => Some("you declined it in Latchkey".into()),
        Ok(None) => Some("it has no grant, and Latchkey's app is not running to ask you".into()),
        Err(e) => {
            let detail = match e {
                Error::AppUnreachable(why) => why,
                other => other.to_string(),
            };
            Some(format!("it has no grant, and Latchkey's app could not ask you ({detail})"))
        }
    }
}

/// The consumer an actor stands for: the CLI's caller without its process id; `None` for the
/// person in the app's window, who would be the one asked.
pub(super) fn consumer_of(actor: &Actor) -> Option<&str> {
    match actor {
        Actor::User => None,
        Actor::Cli { caller } => Some(strip_pid(caller)),
        other => Some(other.as_str()),
    }
}

/// `/usr/bin/git (pid 42)` → `/usr/bin/git`.
fn strip_pid(caller: &str) -> &str {
    match caller.rsplit_once(" (pid ") {
        Some((program, pid))
            if pid
                .strip_suffix(')')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            program
        }
        _ => caller,
    }
}

/// A consumer's name as a shell word, for the command printed in a refusal.
fn shell_word(s: &str) -> String {
    if s.contains(['"', '$', '`', '\\', '!']) {
        format!("'{}'", s.replace('\'', r"'\''"))
    } else {
        format!("\"{s}\"")
    }
}

impl Latchkey {
    /// Sets who may take the account's raw token or credential: `open` (any local program,
    /// audited), `ask` (a program with a full-access grant, or one the person allows in the running
    /// app) or `closed` (none; calls through Latchkey still work under grants). Audited.
    pub fn set_handout_policy(
        &self,
        id: &AccountId,
        policy: HandoutPolicy,
        actor: &Actor,
    ) -> Result<Account> {
        let _working = self.working();
        self.store().set_handout_policy(id, policy, actor)
    }

    /// Refuses, audited, a raw hand-out the account's policy does not allow to this caller.
    pub(super) async fn check_handout(&self, account: &Account, actor: &Actor) -> Result<()> {
        let reference = format!("{}:{}", account.connection, account.identifier);
        match account.handout {
            HandoutPolicy::Open => Ok(()),
            HandoutPolicy::Closed => Err(self.refuse_handout(
                account,
                actor,
                "hand-out policy closed",
                format!(
                    "{reference}'s hand-out policy is closed: its token or credential does not leave \
                     Latchkey (agents with a grant can still call its API through Latchkey). To allow \
                     it: latchkey accounts policy {reference} open"
                ),
            )?),
            HandoutPolicy::Ask => {
                let Some(consumer) = consumer_of(actor) else { return Ok(()) };
                let grant = self.grant_for(consumer, &account.id)?;
                if grant.as_ref().is_some_and(|g| g.access == Access::Full) {
                    self.store().touch_grant(consumer, &account.id)?;
                    return Ok(());
                }
                let why = if grant.is_some() {
                    // A read grant allows GET and HEAD through Latchkey; a raw token allows anything.
                    Some("its grant is read-only, which a raw token would exceed".to_owned())
                } else {
                    refusal(ask_desktop_app(self, consumer, &account.id, Access::Full).await)
                };
                let Some(why) = why else { return Ok(()) };
                Err(self.refuse_handout(
                    account,
                    actor,
                    &format!("hand-out policy ask: {why}"),
                    format!(
                        "{} may not take {reference}'s token: its hand-out policy is ask and {why}. \
                         To allow it: latchkey grants add {} {reference} --access full",
                        shell_word(consumer),
                        shell_word(consumer)
                    ),
                )?)
            }
        }
    }

    fn refuse_handout(
        &self,
        account: &Account,
        actor: &Actor,
        detail: &str,
        sentence: String,
    ) -> Result<Error> {
        self.audit_refused_read(account, actor, detail)?;
        Ok(Error::HandoutRefused(sentence))
    }

    /// Records that a program reported the account's credential refused by the server it was
    /// sent to (git's `erase`). An API key or password cannot be renewed here; the row is the trace.
    pub fn record_credential_refused(&self, id: &AccountId, by: &str, actor: &Actor) -> Result<()> {
        let account = self.get_account(id)?;
        self.audit(
            id,
            &account.connection,
            AuditAction::CredentialRefused,
            actor,
            AuditOutcome::Failed,
            &format!("{by} reported that the server refused the credential"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_answer_decides_an_ask() {
        assert_eq!(refusal(Ok(Some(ConsentAnswer::Once))), None);
        assert_eq!(refusal(Ok(Some(ConsentAnswer::Always))), None);
        assert_eq!(refusal(Ok(Some(ConsentAnswer::Deny))).as_deref(), Some("you declined it in Latchkey"));
        assert!(refusal(Ok(None)).is_some_and(|why| why.contains("not running")));
        let broken = refusal(Err(Error::AppUnreachable("no answer in time".into())));
        assert!(
            broken.is_some_and(|why| why.contains("could not ask you") && why.contains("no answer in time"))
        );
    }

    #[test]
    fn the_consumer_is_the_callers_program() {
        let cli = |c: &str| Actor::Cli { caller: c.into() };
        assert_eq!(consumer_of(&cli("/usr/bin/git (pid 42)")), Some("/usr/bin/git"));
        assert_eq!(consumer_of(&cli("/opt/my tool (pid 1) (pid 7)")), Some("/opt/my tool (pid 1)"));
        assert_eq!(consumer_of(&cli("claude-desktop")), Some("claude-desktop"));
        assert_eq!(consumer_of(&cli("x (pid )")), Some("x (pid )"));
        assert_eq!(consumer_of(&cli("x (pid 1a)")), Some("x (pid 1a)"));
        assert_eq!(consumer_of(&Actor::User), None);
        assert_eq!(consumer_of(&Actor::System), Some("system"));
    }

    #[test]
    fn the_printed_command_quotes_the_consumer_for_a_shell() {
        assert_eq!(shell_word("/usr/bin/bash"), "\"/usr/bin/bash\"");
        assert_eq!(shell_word("/tmp/it's $HOME"), r#"'/tmp/it'\''s $HOME'"#);
    }
}
