//! What other programs take from an account: `exec` (tokens in a child's environment), git's
//! credential-helper protocol, the SASL initial responses mail clients send, and API-key and
//! basic-auth accounts entered from the command line.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::Duration;

use latchkey_core::config::ConnectionKind;
use latchkey_core::model::{Account, AccountFilter, AccountStatus, Actor};
use latchkey_core::secret::{Credential, Secret};
use latchkey_core::{AccessToken, Error, Latchkey};

use crate::{Failure, Outcome, resolve, shorten};

/// An account's token as a program takes it: an OAuth access token (refreshed first when fewer
/// than `min_valid` remain) or an API key, audited as `token.read` either way. A basic-auth
/// password is not a token: handing it out is refused.
pub async fn hand_out(
    core: &Latchkey,
    account: &Account,
    min_valid: Duration,
    scopes: &[String],
    actor: &Actor,
) -> Outcome<AccessToken> {
    let conn = core.connection(account.connection.as_str())?;
    match conn.kind {
        ConnectionKind::OAuth2(_) => {
            Ok(core.access_token_with_scopes(&account.id, min_valid, scopes, actor).await?)
        }
        ConnectionKind::ApiKey if !scopes.is_empty() => {
            Err(Failure::Usage("--scope applies to OAuth accounts only; an API key has no scopes.".into()))
        }
        ConnectionKind::ApiKey => match core.read_credential(&account.id, actor).await? {
            Credential::ApiKey(key) => Ok(AccessToken { token: key, expires_at: None, scopes: Vec::new() }),
            _ => Err(Failure::Core(Error::CredentialsMissing)),
        },
        ConnectionKind::BasicAuth => Err(Failure::Core(Error::WrongConnectionType {
            connection: account.connection.to_string(),
            kind: "a basic-auth",
            what: "its password is not handed out as a token.",
        })),
    }
}

/// The SASL forms `latchkey token --format` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Raw,
    Json,
    Xoauth2,
    Oauthbearer,
}

/// The name mail servers know the account by: its identity's email, else its identifier.
pub fn mail_user(account: &Account) -> &str {
    account.identity.as_ref().and_then(|i| i.email.as_deref()).unwrap_or(&account.identifier)
}

/// XOAUTH2's initial response: base64 of `user=USER\x01auth=Bearer TOKEN\x01\x01`.
pub fn xoauth2(user: &str, token: &Secret) -> Secret {
    Secret::new(base64(format!("user={user}\x01auth=Bearer {}\x01\x01", token.expose()).as_bytes()))
}

/// OAUTHBEARER's (RFC 7628) initial response, without host and port (both optional):
/// base64 of `n,a=USER,\x01auth=Bearer TOKEN\x01\x01`. `,` and `=` in the name are escaped as the
/// GS2 header requires.
pub fn oauthbearer(user: &str, token: &Secret) -> Secret {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    Secret::new(base64(format!("n,a={user},\x01auth=Bearer {}\x01\x01", token.expose()).as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `latchkey exec`: fetches every token first (an account that needs the user stops it before the
/// command runs), then runs the command with them in its environment only, and ends with its
/// status. A termination signal is passed on to the command, whose status then ends this process.
pub async fn exec(
    core: &Latchkey,
    envs: &[String],
    min_valid: Duration,
    command: &[String],
    actor: &Actor,
) -> Outcome {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for spec in envs {
        let usage = |why: &str| {
            Failure::Usage(format!("--env “{}”: {why} Write NAME=CONNECTION:IDENTIFIER.", shorten(spec)))
        };
        let (name, reference) = spec.split_once('=').ok_or_else(|| usage("it has no “=”."))?;
        let valid = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(usage("the name is not an environment variable name (letters, digits, _)."));
        }
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(usage("the name is given twice."));
        }
        pairs.push((name, reference));
    }
    let Some((program, args)) = command.split_first() else {
        return Err(Failure::Usage("exec needs a command after --.".into()));
    };
    let mut accounts = Vec::new();
    for (name, reference) in &pairs {
        accounts.push((*name, resolve(core, reference)?));
    }
    let mut tokens = Vec::new();
    for (name, account) in &accounts {
        tokens.push((*name, hand_out(core, account, min_valid, &[], actor).await?.token));
    }
    let mut child = tokio::process::Command::new(program);
    child.args(args);
    for (name, token) in &tokens {
        child.env(name, token.expose());
    }
    // The signal handler leaves the ending to us while the command runs.
    let _wait_for_the_child = latchkey_core::signals::critical();
    let mut child = child.spawn().map_err(|e| {
        Failure::Core(Error::InvalidInput(format!("Could not run “{}”: {e}", shorten(program))))
    })?;
    drop(tokens);
    let status = tokio::select! {
        status = child.wait() => status,
        signal = latchkey_core::signals::termination_requested() => {
            #[cfg(unix)]
            if let (Some(pid), Ok(signal)) = (
                child.id().and_then(|p| i32::try_from(p).ok()),
                nix::sys::signal::Signal::try_from(signal),
            ) {
                // Not yet reaped, so the pid is still the child's.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
            }
            child.wait().await
        }
    }
    .map_err(|e| Failure::Core(Error::InvalidInput(format!("Could not wait for the command: {e}"))))?;
    Err(Failure::Exit(exit_status(status)))
}

fn exit_status(status: std::process::ExitStatus) -> u8 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    status.code().map_or(1, |c| u8::try_from(c & 0xff).unwrap_or(1))
}

/// `latchkey git-credential`: git's credential-helper protocol. Saying nothing (exit 0, no output)
/// is how a helper tells git it has no answer; git then asks its other helpers or the user.
pub async fn git_credential(core: &Latchkey, account: Option<&str>, action: &str, actor: &Actor) -> Outcome {
    let mut request: HashMap<String, String> = HashMap::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line
            .map_err(|e| Failure::Core(Error::InvalidInput(format!("Could not read git's request: {e}"))))?;
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once('=') {
            request.insert(key.to_owned(), value.to_owned());
        }
    }
    if action != "get" && action != "erase" {
        // `store`, and any action a later git adds: nothing to keep, the tokens live here.
        return Ok(());
    }
    let account = match account {
        Some(reference) => resolve(core, reference)?,
        None => match account_for_host(core, &request)? {
            Some(a) => a,
            None => return Ok(()),
        },
    };
    let conn = core.connection(account.connection.as_str())?;
    if action == "erase" {
        // git sends this after the server refused the credential: the next `get` gets a new token.
        // An API key or password cannot be renewed here; the refusal is recorded for the person.
        if conn.oauth().is_some() {
            core.refresh_now(&account.id, actor).await?;
        } else {
            core.record_credential_refused(&account.id, "git", actor)?;
        }
        return Ok(());
    }
    let token = hand_out(core, &account, Duration::from_secs(60), &[], actor).await?.token;
    let username = conn.git_username.clone().unwrap_or_else(|| account.identifier.clone());
    let line = |s: &str| !s.is_empty() && !s.contains(['\n', '\r', '\0']);
    if !line(&username) || !line(token.expose()) {
        return Err(Failure::Core(Error::InvalidInput(
            "The username or token cannot be written in git's line-based protocol.".into(),
        )));
    }
    let mut out = std::io::stdout().lock();
    write!(out, "username={username}\npassword={}\n", token.expose()).map_err(Failure::Output)?;
    Ok(())
}

/// The account whose connection serves the request's host over HTTPS; with several, the one
/// named by the request's username. `None`: not ours to answer.
fn account_for_host(core: &Latchkey, request: &HashMap<String, String>) -> Outcome<Option<Account>> {
    if request.get("protocol").map(String::as_str) != Some("https") {
        return Ok(None);
    }
    let Some(host) = request.get("host").map(|h| h.to_ascii_lowercase()) else { return Ok(None) };
    let mut candidates = Vec::new();
    for conn in core.connections().iter().filter(|c| c.git_hosts.contains(&host)) {
        let filter = AccountFilter { connection: Some(conn.id.clone()), ..AccountFilter::default() };
        candidates.extend(
            core.list_connected_accounts(&filter)?.into_iter().filter(|a| a.status != AccountStatus::Pending),
        );
    }
    if candidates.len() > 1
        && let Some(user) = request.get("username")
    {
        candidates.retain(|a| &a.identifier == user);
    }
    match candidates.len() {
        0 | 1 => Ok(candidates.pop()),
        _ => {
            let names: Vec<String> =
                candidates.iter().map(|a| format!("{}:{}", a.connection, a.identifier)).collect();
            let _ = writeln!(
                std::io::stderr(),
                "latchkey: several accounts serve {}: {}. Name one with `latchkey git-credential --account REF` \
                 in the helper line, or put its identifier as the username in the remote URL.",
                crate::render::printable(&host),
                crate::render::printable(&names.join(", "))
            );
            Ok(None)
        }
    }
}

/// `latchkey accounts add`: an API-key or basic-auth account with the secret from standard input;
/// an account that exists gets the new secret (rotation).
pub async fn add_account(
    core: &Latchkey,
    reference: &str,
    secret_stdin: bool,
    username: Option<String>,
    actor: &Actor,
) -> Outcome {
    if !secret_stdin {
        return Err(Failure::Usage(
            "accounts add reads the secret from standard input: give --secret-stdin.".into(),
        ));
    }
    let usage = |why: String| {
        Failure::Usage(format!(
            "“{}” is not an account reference: {why} Write CONNECTION:IDENTIFIER.",
            shorten(reference)
        ))
    };
    let (connection, identifier) =
        reference.split_once(':').ok_or_else(|| usage("it has no colon.".into()))?;
    latchkey_core::model::check_identifier(identifier).map_err(|e| usage(e.to_string()))?;
    let conn = core.connection(connection)?;
    let credential = match (&conn.kind, username) {
        (ConnectionKind::BasicAuth, None) => {
            return Err(Failure::Usage(format!("{} is a basic-auth connection: give --username.", conn.id)));
        }
        (ConnectionKind::BasicAuth, Some(username)) => Credential::Basic { username, password: read_line()? },
        (ConnectionKind::ApiKey, Some(_)) => {
            return Err(Failure::Usage(format!("{} takes an API key: --username does not apply.", conn.id)));
        }
        (_, _) => Credential::ApiKey(read_line()?),
    };
    match core.get_connected_account(conn.id.as_str(), identifier) {
        Ok(existing) => {
            let a = core.rotate_credential(&existing.id, credential, actor).await?;
            outln!("Replaced the secret of {}:{}; it is {}.", a.connection, a.identifier, a.status);
        }
        Err(e) if e.code() == latchkey_core::ErrorCode::NotFound => {
            let a = core.add_credential_account(conn.id.as_str(), identifier, credential, actor).await?;
            outln!("Added {}:{}; it is {}.", a.connection, a.identifier, a.status);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// One line from standard input, its line ending trimmed. Never echoed.
fn read_line() -> Outcome<Secret> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::Core(Error::InvalidInput(format!("Could not read the secret from standard input: {e}")))
    })?;
    let secret = line.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err(Failure::Core(Error::InvalidInput("The secret on standard input is empty.".into())));
    }
    Ok(Secret::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn xoauth2_is_googles_example() {
        // Google's XOAUTH2 documentation: user=someuser@example.com, token ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg.
        let token = Secret::new("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
        assert_eq!(
            xoauth2("someuser@example.com", &token).expose(),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn oauthbearer_is_the_rfc_7628_gs2_form() {
        let token = Secret::new("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
        // Built by hand: "n,a=user@example.com,\x01auth=Bearer <token>\x01\x01".
        let plain =
            "n,a=user@example.com,\u{1}auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\u{1}\u{1}";
        assert_eq!(oauthbearer("user@example.com", &token).expose(), base64(plain.as_bytes()));
        assert_eq!(
            oauthbearer("user@example.com", &token).expose(),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
        );
        let plain = "n,a=a=3Db=2Cc,\u{1}auth=Bearer t\u{1}\u{1}";
        assert_eq!(oauthbearer("a=b,c", &Secret::new("t")).expose(), base64(plain.as_bytes()));
    }
}
