//! `latchkey`: the command-line companion. Scripts and local agents ask it for a fresh token instead
//! of running their own OAuth; every hand-out is recorded with the caller. It links the core only
//! (no GUI libraries), so it runs over SSH wherever a keychain is reachable.

/// `println!` that hands a closed or failing standard output back as a [`Failure`] instead of
/// panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::Failure::Output)?
    }};
}

mod consumers;
mod grants;
mod mcp;
mod render;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use latchkey_core::config::ConnectionType;
use latchkey_core::model::{Account, AccountFilter, AccountStatus, Actor, HandoutPolicy};
use latchkey_core::protocol::RedirectStrategy;
use latchkey_core::store::AuditQuery;
use latchkey_core::{Error, ErrorCode, Latchkey, Options, paths};

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  anything else
  2  usage (unknown command or flag, bad value)
  3  no such connection or account
  4  the account needs you: re-authorize it, or resume it (also: a device sign-in was
     declined or its code expired), or its hand-out policy refuses this program (the
     line on standard error says which command allows it)
  5  the keychain is unavailable or locked
  6  the provider or the network is unreachable
  130  interrupted (Ctrl-C)
  141  standard output was closed before everything was written (as for git and coreutils,
       which a closed pipe ends by SIGPIPE)
Otherwise `exec` ends with its command's status (128 + N when signal N ended it).";

/// The most `--min-valid` accepts: a year.
const MAX_MIN_VALID: u64 = 365 * 86_400;

/// Fresh tokens for scripts and local agents, every use recorded.
///
/// Accounts are named CONNECTION:IDENTIFIER, for example `demo:alice@example.test`. Programs take
/// an account's token with `token`, `exec` and `git-credential`, as its hand-out policy (`accounts
/// policy`) allows; AI agents call its API through `mcp`, under `grants`, and never see a token.
/// `connect --device` signs in where no browser can open (SSH, a server).
#[derive(Parser)]
#[command(name = "latchkey", version, after_help = EXIT_CODES)]
struct Cli {
    /// The data folder (metadata and audit trail).
    #[arg(long, global = true, env = "LATCHKEY_DATA_DIR", value_name = "DIR", display_order = 100)]
    data_dir: Option<std::path::PathBuf>,
    /// The connections file.
    #[arg(long, global = true, env = "LATCHKEY_CONNECTIONS", value_name = "FILE", display_order = 100)]
    connections: Option<std::path::PathBuf>,
    /// The keychain namespace (service name), to keep profiles and tests apart.
    #[arg(long, global = true, env = "LATCHKEY_KEYCHAIN_SERVICE", value_name = "NAME", display_order = 100)]
    keychain_service: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The configured connections.
    #[command(subcommand)]
    Connections(Box<ConnectionsCmd>),
    /// Connected accounts.
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Which apps and agents may call an account's API through Latchkey (consent and accounting).
    #[command(subcommand)]
    Grants(grants::GrantsCmd),
    /// Connect an account: sign in in the browser, come back through a loopback redirect; or with
    /// --device, approve a code on any other device (RFC 8628).
    Connect {
        /// The connection's name (`latchkey connections list`).
        connection: String,
        /// The account's name (default: the identity the provider reports, such as the email).
        #[arg(long)]
        identifier: Option<String>,
        /// Print the authorization URL instead of opening the browser.
        #[arg(long)]
        no_browser: bool,
        /// Sign in without a browser here: print a code to enter at the provider's page on any
        /// device (GitHub, Microsoft, Google for a few scopes, OpenID providers that offer it).
        #[arg(long, conflicts_with = "no_browser")]
        device: bool,
        /// JSON lines: first {"authorization_url"} (with --no-browser) or the device code's
        /// {"verification_uri", "verification_uri_complete", "user_code", "expires_in"}, then the
        /// account.
        #[arg(long)]
        json: bool,
    },
    /// Print an access token (or an API key) alone, refreshing it first if it is about to expire.
    Token {
        /// CONNECTION:IDENTIFIER
        account: String,
        /// Refresh first when fewer seconds than this remain (at most a year, 31536000).
        #[arg(long, default_value_t = 60, value_name = "SECONDS",
              value_parser = clap::value_parser!(u64).range(..=MAX_MIN_VALID))]
        min_valid: u64,
        /// Refuse unless the account was granted this scope (repeatable).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Print {"access_token", "expires_at", "scopes"} (the same as --format json).
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// raw (the token), json, or a SASL initial response: xoauth2, oauthbearer.
        #[arg(long, value_enum, default_value = "raw")]
        format: consumers::Format,
    },
    /// Run a command with fresh tokens in its environment (never on its command line).
    ///
    /// Every token is fetched before CMD runs: an account that needs you stops it with exit 4.
    /// Otherwise `exec` ends with CMD's status, and passes SIGINT, SIGTERM and SIGHUP on to it.
    Exec {
        /// NAME=CONNECTION:IDENTIFIER: the variable NAME holds that account's token (repeatable).
        #[arg(long = "env", value_name = "NAME=REF", required = true)]
        envs: Vec<String>,
        /// Refresh first when fewer seconds than this remain (at most a year, 31536000).
        #[arg(long, default_value_t = 60, value_name = "SECONDS",
              value_parser = clap::value_parser!(u64).range(..=MAX_MIN_VALID))]
        min_valid: u64,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// git's credential helper: `git config --global credential.https://github.com.helper '!latchkey git-credential'`.
    GitCredential {
        /// Answer with this account (default: the one whose connection serves the host).
        #[arg(long, value_name = "REF")]
        account: Option<String>,
        /// get, store or erase (git gives it).
        action: String,
    },
    /// Revoke the account's access at the provider and delete its tokens.
    Revoke(Ref),
    /// Keep the tokens but stop refreshing them and handing them out.
    Suspend(Ref),
    /// Bring a suspended account back.
    Resume(Ref),
    /// Remove the account from Latchkey (revoking it first when it is active).
    Delete(Ref),
    /// An MCP server on standard input and output for AI agents: they call your accounts' APIs
    /// through Latchkey, with your consent, and never see a token.
    Mcp {
        /// The name for grants and the audit trail (default: the client's name from `initialize`).
        #[arg(long, value_name = "NAME")]
        consumer: Option<String>,
    },
    /// The audit trail.
    Audit {
        /// Only this account's rows (CONNECTION:IDENTIFIER).
        #[arg(long, value_name = "REF")]
        account: Option<String>,
        /// RFC 3339 time, or an age such as 30m, 24h, 7d.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// JSON lines, one row each.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        #[arg(long)]
        csv: bool,
    },
}

// Parsed once per run: the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum ConnectionsCmd {
    /// List the connections: the catalog's providers and your own.
    List {
        /// One JSON array, with each connection's `redirect_uri` and `api_base`.
        #[arg(long)]
        json: bool,
    },
    /// Add a custom connection (OAuth 2.0 / OpenID Connect, API key or basic auth).
    Add {
        /// Lowercase letters, digits and dashes; accounts are named NAME:IDENTIFIER.
        name: String,
        /// oauth2, api-key or basic-auth.
        #[arg(long = "type", value_name = "TYPE", default_value = "oauth2")]
        kind: String,
        /// The display name (default: NAME).
        #[arg(long)]
        display_name: Option<String>,
        /// The issuer: endpoints come from its discovery document, `issuer` checked.
        #[arg(long, conflicts_with_all = ["authorize_url", "token_url"])]
        issuer: Option<String>,
        /// The authorization endpoint, without discovery (with --token-url).
        #[arg(long, requires = "token_url", value_name = "URL")]
        authorize_url: Option<String>,
        /// The token endpoint (with --authorize-url).
        #[arg(long, requires = "authorize_url", value_name = "URL")]
        token_url: Option<String>,
        /// The RFC 7009 revocation endpoint, if the provider has one.
        #[arg(long, value_name = "URL")]
        revoke_url: Option<String>,
        /// Where the account's identity (subject, email, name) comes from.
        #[arg(long, value_name = "URL")]
        userinfo_url: Option<String>,
        /// The RFC 8628 device authorization endpoint, for `connect --device` (with an issuer, its
        /// discovery document says).
        #[arg(long, conflicts_with = "issuer", value_name = "URL")]
        device_authorization_url: Option<String>,
        /// Your OAuth client's ID, from the provider's developer page.
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// Read the client secret from standard input (it goes to the keychain).
        #[arg(long)]
        client_secret_stdin: bool,
        /// Space-separated scopes.
        #[arg(long)]
        scopes: Option<String>,
        /// loopback (the default: works from this command and from the app), loopback-localhost
        /// or deep-link (the app only).
        #[arg(long, default_value = "loopback")]
        redirect: String,
        /// The provider's API base URL, where calls through Latchkey send the token (https; http on
        /// loopback only).
        #[arg(long, value_name = "URL")]
        api_base: Option<String>,
    },
    /// Configure a connection, for example a catalog entry: `latchkey connections set gmail --client-id …`.
    Set {
        /// The connection's name (`latchkey connections list`).
        name: String,
        /// Your OAuth client's ID, from the provider's developer page.
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// Read the client secret from standard input (it goes to the keychain).
        #[arg(long)]
        client_secret_stdin: bool,
        /// Delete the stored client secret.
        #[arg(long, conflicts_with = "client_secret_stdin")]
        clear_client_secret: bool,
        /// Space-separated scopes (accounts then need re-authorization).
        #[arg(long)]
        scopes: Option<String>,
        /// Turn it on again.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Turn it off (Inactive): no sign-ins with it.
        #[arg(long)]
        disable: bool,
    },
    /// Remove a custom connection that has no accounts.
    Remove {
        /// The connection's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum AccountsCmd {
    /// List accounts.
    List {
        /// Only this connection's accounts.
        #[arg(long)]
        connection: Option<String>,
        /// pending, active, expired, revoked, error or suspended.
        #[arg(long)]
        status: Option<String>,
        /// One JSON array of accounts.
        #[arg(long)]
        json: bool,
    },
    /// One account in detail.
    Show {
        /// CONNECTION:IDENTIFIER
        account: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// One harmless call to the provider's identity endpoint with the account's token.
    Test {
        /// CONNECTION:IDENTIFIER
        account: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Add an API-key or basic-auth account, or replace the secret of one (rotation).
    Add {
        /// CONNECTION:IDENTIFIER
        account: String,
        /// Read the key or password from standard input (its first line).
        #[arg(long)]
        secret_stdin: bool,
        /// The username of a basic-auth account.
        #[arg(long)]
        username: Option<String>,
    },
    /// Who may take the account's raw token: open, ask or closed (without a value: print it).
    Policy {
        /// CONNECTION:IDENTIFIER
        account: String,
        /// open (any local program, audited), ask (programs with a full-access grant, or allowed
        /// in the running app) or closed (none; agents call its API through Latchkey).
        policy: Option<String>,
    },
}

#[derive(Args)]
struct Ref {
    /// CONNECTION:IDENTIFIER
    account: String,
}

/// Why a command stopped.
pub enum Failure {
    Core(Error),
    /// A malformed value on the command line (exit 2, as clap's own usage errors).
    Usage(String),
    /// Writing the output failed; a closed pipe (`| head`) ends the command quietly.
    Output(std::io::Error),
    /// Ctrl-C (or SIGTERM, SIGHUP: the signal's number) during a sign-in.
    Interrupted(i32),
    /// A core error after which nothing was changed, saying so first.
    Untouched(&'static str, Error),
    /// End with this status, nothing more to say (`exec` passing its command's status on).
    Exit(u8),
}

/// A locked keychain stops a configuration change before anything is written: say so.
fn untouched(e: Error, what: &'static str) -> Failure {
    if e.code() == ErrorCode::KeychainUnavailable { Failure::Untouched(what, e) } else { Failure::Core(e) }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Core(e)
    }
}

type Outcome<T = ()> = Result<T, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: a command is one sequence of steps, and a hand-out should not pay for starting
    // and waking workers. Keychain calls still go to a blocking thread.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(Failure::Core(Error::Storage(e.to_string()))),
    };
    let run = async {
        // A refresh in flight finishes storing its answer before SIGINT, SIGTERM or SIGHUP end us.
        latchkey_core::signals::defer_termination()
            .map_err(|e| Failure::Core(Error::Storage(e.to_string())))?;
        run(cli).await
    };
    let outcome = runtime.block_on(run).and_then(|()| std::io::stdout().flush().map_err(Failure::Output));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(failure: Failure) -> ExitCode {
    let (code, line) = match failure {
        Failure::Core(e) => (exit_code(&e), e.to_string()),
        Failure::Usage(why) => (2, why),
        Failure::Untouched(what, e) => (exit_code(&e), format!("{what}: {e}")),
        Failure::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return ExitCode::from(141),
        Failure::Exit(code) => return ExitCode::from(code),
        Failure::Output(e) => (1, format!("cannot write the output: {e}")),
        Failure::Interrupted(signal) => (
            u8::try_from(128 + signal).unwrap_or(130),
            "interrupted: the sign-in was cancelled and nothing was stored.".into(),
        ),
    };
    // Nothing more can be said when standard error is gone too.
    let _ = writeln!(std::io::stderr(), "latchkey: {}", render::printable(&line));
    ExitCode::from(code)
}

fn exit_code(e: &Error) -> u8 {
    match (e, e.code()) {
        (Error::Suspended | Error::HandoutRefused(_), _) => 4,
        (_, ErrorCode::NotFound) => 3,
        (_, ErrorCode::ReauthNeeded) => 4,
        (_, ErrorCode::KeychainUnavailable) => 5,
        (_, ErrorCode::Network | ErrorCode::ProviderError) => 6,
        _ => 1,
    }
}

async fn open_core(cli: &Cli) -> Result<Latchkey, Error> {
    let data_dir = match &cli.data_dir {
        Some(d) => d.clone(),
        None => paths::data_dir()?,
    };
    let connections_file = match &cli.connections {
        Some(f) => f.clone(),
        None => paths::connections_file()?,
    };
    let service = cli.keychain_service.clone().unwrap_or_else(paths::keychain_service);
    let (core, _) = Latchkey::open(Options::standard(data_dir, connections_file, service)?).await?;
    Ok(core)
}

/// `latchkey connections …`
async fn connections(core: &Latchkey, cmd: ConnectionsCmd, actor: &Actor) -> Outcome {
    match cmd {
        ConnectionsCmd::List { json } => render::connections(core, json),
        ConnectionsCmd::Add {
            name,
            kind,
            display_name,
            issuer,
            authorize_url,
            token_url,
            revoke_url,
            userinfo_url,
            device_authorization_url,
            client_id,
            client_secret_stdin,
            scopes,
            redirect,
            api_base,
        } => {
            // Parsed as `connections.toml` reads them, with the same sentence for a wrong value.
            let named = |why: String| Error::InvalidInput(format!("Connection “{name}”: {why}."));
            let kind: ConnectionType = kind.parse().map_err(named)?;
            let redirect = match kind {
                ConnectionType::OAuth2 => Some(redirect.parse::<RedirectStrategy>().map_err(named)?),
                _ => None,
            };
            let new = latchkey_core::NewConnection {
                id: name,
                name: display_name,
                kind,
                issuer,
                authorize_url,
                token_url,
                revocation_url: revoke_url,
                userinfo_url,
                device_authorization_url,
                client_id,
                client_secret: if client_secret_stdin { Some(read_secret()?) } else { None },
                scopes: scopes.map(|s| s.split_whitespace().map(str::to_owned).collect()),
                redirect,
                api_base,
            };
            let conn =
                core.add_connection(new, actor).await.map_err(|e| untouched(e, "Nothing was added"))?;
            let (status, _) = core.connection_status(&conn)?;
            outln!("Added {} ({}); it is {}.", conn.id, conn.kind.as_str(), status.as_str());
            if let Some(o) = conn.oauth() {
                outln!(
                    "Register this redirect URI at the provider: {}",
                    o.redirect.registered_uri(paths::IDENTIFIER, conn.id.as_str())
                );
            }
            Ok(())
        }
        ConnectionsCmd::Set {
            name,
            client_id,
            client_secret_stdin,
            clear_client_secret,
            scopes,
            enable,
            disable,
        } => {
            let change = latchkey_core::ConnectionChange {
                client_id: client_id.map(|c| Some(c).filter(|c| !c.trim().is_empty())),
                client_secret: if clear_client_secret {
                    Some(None)
                } else if client_secret_stdin {
                    Some(Some(read_secret()?))
                } else {
                    None
                },
                scopes: scopes.map(|s| s.split_whitespace().map(str::to_owned).collect()),
                enabled: if enable {
                    Some(true)
                } else if disable {
                    Some(false)
                } else {
                    None
                },
            };
            let conn = core
                .configure_connection(&name, change, actor)
                .await
                .map_err(|e| untouched(e, "Nothing was changed"))?;
            let (status, _) = core.connection_status(&conn)?;
            outln!("{} is {}.", conn.id, status.as_str());
            Ok(())
        }
        ConnectionsCmd::Remove { name } => {
            core.remove_connection(&name, actor).await?;
            outln!("Removed {name}.");
            Ok(())
        }
    }
}

/// A secret from standard input: its first line, without the line ending. Never echoed.
fn read_secret() -> Result<latchkey_core::secret::Secret, Error> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Error::InvalidInput(format!("Could not read the client secret from standard input: {e}"))
    })?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    if secret.trim().is_empty() {
        return Err(Error::InvalidInput("The client secret on standard input is empty.".into()));
    }
    Ok(latchkey_core::secret::Secret::new(secret))
}

/// The caller, for the audit trail and hand-out policies: the parent process's executable path
/// (its name where the path cannot be read) and pid.
fn caller() -> Actor {
    #[cfg(unix)]
    {
        let ppid = std::os::unix::process::parent_id();
        let path = std::fs::read_link(format!("/proc/{ppid}/exe"))
            .ok()
            .and_then(|p| p.to_str().map(str::to_owned))
            .filter(|p| !p.is_empty() && !p.chars().any(char::is_control));
        let name = path.or_else(|| {
            std::fs::read_to_string(format!("/proc/{ppid}/comm")).map(|s| s.trim().to_owned()).ok()
        });
        Actor::Cli { caller: format!("{} (pid {ppid})", name.as_deref().unwrap_or("unknown")) }
    }
    #[cfg(not(unix))]
    {
        Actor::Cli { caller: "unknown".into() }
    }
}

/// Resolves CONNECTION:IDENTIFIER; a malformed one is a usage error.
fn resolve(core: &Latchkey, reference: &str) -> Outcome<Account> {
    let usage = |why: String| {
        Failure::Usage(format!(
            "“{}” is not an account reference: {why} Write CONNECTION:IDENTIFIER, for example demo:work.",
            shorten(reference)
        ))
    };
    let (connection, identifier) =
        reference.split_once(':').ok_or_else(|| usage("it has no colon.".into()))?;
    if connection.is_empty() {
        return Err(usage("the connection before the colon is missing.".into()));
    }
    latchkey_core::model::ConnectionId::new(connection).map_err(|e| usage(e.to_string()))?;
    latchkey_core::model::check_identifier(identifier).map_err(|e| usage(e.to_string()))?;
    Ok(core.get_connected_account(connection, identifier)?)
}

/// A value as quoted back in an error line: at most 60 characters.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_owned(),
    }
}

async fn run(cli: Cli) -> Outcome {
    let core = open_core(&cli).await?;
    let actor = caller();
    match cli.command {
        Command::Connections(cmd) => connections(&core, *cmd, &actor).await,
        Command::Grants(cmd) => grants::run(&core, cmd, &actor),
        Command::Mcp { consumer } => {
            let data_dir = cli.data_dir.map_or_else(paths::data_dir, Ok)?;
            mcp::serve(core, consumer, &data_dir).await
        }
        Command::Accounts(AccountsCmd::List { connection, status, json }) => {
            let filter = AccountFilter {
                connection: connection.map(|c| core.connection(&c).map(|c| c.id.clone())).transpose()?,
                status: status
                    .map(|s| {
                        s.parse::<AccountStatus>().map_err(|_| {
                            Failure::Usage(format!(
                                "“{}” is not a status: use pending, active, expired, revoked, error or suspended.",
                                shorten(&s)
                            ))
                        })
                    })
                    .transpose()?,
                label: None,
            };
            render::accounts(&core, &core.list_connected_accounts(&filter)?, json)
        }
        Command::Accounts(AccountsCmd::Show { account, json }) => {
            render::account(&core, &resolve(&core, &account)?, json)
        }
        Command::Accounts(AccountsCmd::Test { account, json }) => {
            let account = resolve(&core, &account)?;
            let identity = core.test_account(&account.id, &actor).await?;
            render::identity(&identity, json)
        }
        Command::Connect { connection, identifier, no_browser, device, json } => {
            let account = if device {
                connect_device(&core, &connection, identifier.as_deref(), json, &actor).await?
            } else {
                connect(&core, &connection, identifier.as_deref(), no_browser, json, &actor).await?
            };
            // A successful sign-in with a note (no refresh token was issued): said where a script
            // and a person both see it.
            if let Some(note) = &account.last_error {
                let _ = writeln!(std::io::stderr(), "latchkey: warning: {}", render::printable(note));
            }
            render::account(&core, &account, json)
        }
        Command::Accounts(AccountsCmd::Policy { account, policy }) => {
            let account = resolve(&core, &account)?;
            let reference = format!("{}:{}", account.connection, render::printable(&account.identifier));
            match policy {
                None => outln!("{}", render::handout_words(account.handout)),
                Some(p) => {
                    let p: HandoutPolicy =
                        p.parse().map_err(|why: String| Failure::Usage(format!("{why}.")))?;
                    let a = core.set_handout_policy(&account.id, p, &actor)?;
                    outln!("{reference}'s hand-out policy is {}.", render::handout_words(a.handout));
                }
            }
            Ok(())
        }
        Command::Accounts(AccountsCmd::Add { account, secret_stdin, username }) => {
            consumers::add_account(&core, &account, secret_stdin, username, &actor).await
        }
        Command::Token { account, min_valid, scopes, json, format } => {
            let account = resolve(&core, &account)?;
            let min_valid = Duration::from_secs(min_valid);
            let token = consumers::hand_out(&core, &account, min_valid, &scopes, &actor).await?;
            match if json { consumers::Format::Json } else { format } {
                consumers::Format::Raw => render::token(&token, false),
                consumers::Format::Json => render::token(&token, true),
                consumers::Format::Xoauth2 => {
                    outln!("{}", consumers::xoauth2(consumers::mail_user(&account), &token.token).expose());
                    Ok(())
                }
                consumers::Format::Oauthbearer => {
                    outln!(
                        "{}",
                        consumers::oauthbearer(consumers::mail_user(&account), &token.token).expose()
                    );
                    Ok(())
                }
            }
        }
        Command::Exec { envs, min_valid, command } => {
            consumers::exec(&core, &envs, Duration::from_secs(min_valid), &command, &actor).await
        }
        Command::GitCredential { account, action } => {
            consumers::git_credential(&core, account.as_deref(), &action, &actor).await
        }
        Command::Revoke(r) => {
            let account = resolve(&core, &r.account)?;
            if account.status == AccountStatus::Revoked {
                outln!("{}:{} is already revoked; nothing to do.", account.connection, account.identifier);
                return Ok(());
            }
            let outcome = core.revoke(&account.id, &actor).await?;
            outln!("{}", outcome.message);
            Ok(())
        }
        Command::Suspend(r) => {
            let a = core.suspend(&resolve(&core, &r.account)?.id, &actor).await?;
            outln!("{}:{} is suspended: its tokens are kept but not handed out.", a.connection, a.identifier);
            Ok(())
        }
        Command::Resume(r) => {
            let a = core.resume(&resolve(&core, &r.account)?.id, &actor).await?;
            outln!("{}:{} is {}.", a.connection, a.identifier, a.status);
            Ok(())
        }
        Command::Delete(r) => {
            let a = resolve(&core, &r.account)?;
            core.delete_connected_account(&a.id, &actor).await?;
            outln!("{}:{} was removed from Latchkey.", a.connection, a.identifier);
            Ok(())
        }
        Command::Audit { account, since, json, csv } => {
            let query = AuditQuery {
                account: account.map(|a| resolve(&core, &a).map(|a| a.id)).transpose()?,
                since: since.as_deref().map(parse_since).transpose()?,
                until: None,
            };
            let entries = core.audit_trail(&query)?;
            let text = if json {
                latchkey_core::audit::to_json_lines(&entries)
            } else if csv {
                latchkey_core::audit::to_csv(&entries)
            } else {
                return render::audit(&entries);
            };
            std::io::stdout().write_all(text.as_bytes()).map_err(Failure::Output)
        }
    }
}

/// RFC 3339, or an age: `30m`, `24h`, `7d`.
fn parse_since(s: &str) -> Outcome<i64> {
    let bad = || {
        Failure::Usage(format!(
            "“{}” is not a time: use RFC 3339 (2026-01-31T12:00:00Z) or an age such as 30m, 24h, 7d.",
            shorten(s)
        ))
    };
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let unit = |suffix: char, seconds: i64| {
        s.strip_suffix(suffix)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|n| (n, seconds))
    };
    let (n, seconds) = unit('s', 1)
        .or_else(|| unit('m', 60))
        .or_else(|| unit('h', 3600))
        .or_else(|| unit('d', 86_400))
        .ok_or_else(bad)?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    // An age beyond the epoch means everything.
    Ok(n.parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds))
        .map_or(0, |age| now.saturating_sub(age).max(0)))
}

/// `latchkey connect`: signs in through the loopback redirect. A sign-in that ends without success
/// (an error, the 10-minute limit, Ctrl-C) leaves no unnamed Pending account behind.
async fn connect(
    core: &Latchkey,
    connection: &str,
    identifier: Option<&str>,
    no_browser: bool,
    json: bool,
    actor: &Actor,
) -> Outcome<Account> {
    let link = core.get_authorization_link(connection, identifier, actor).await?;
    let placeholder = link.account.id.clone();
    let give_up = |failure: Failure| -> Failure {
        core.cancel_authorization(&placeholder);
        let _ = core.discard_placeholder(&placeholder, actor);
        failure
    };
    let Some(wait) = link.loopback else {
        let name = core.connection(connection).map(|c| c.name).unwrap_or_default();
        // Not switched to the device flow by itself: a script's first JSON line would change
        // shape, and the provider may need it enabled for the client (GitHub's "Enable Device Flow").
        let instead = if core.device_flow_supported(connection).await.is_ok() {
            format!("Connect it from the app, or here with a code: latchkey connect {connection} --device")
        } else {
            "Connect it from the app.".into()
        };
        return Err(give_up(Failure::Core(Error::ConnectionNotReady(
            name,
            format!(
                "its provider sends the browser back to the Latchkey app (a deep link), not to this \
                 command. {instead}"
            ),
        ))));
    };
    // Ctrl-C, SIGTERM or SIGHUP while waiting: the sign-in is cancelled and its placeholder removed
    // before the process ends (the section holds the signal until then).
    let _cleanup_first = latchkey_core::signals::critical();
    let url = link.url;
    let shown = if no_browser {
        if json {
            writeln!(std::io::stdout(), "{}", serde_json::json!({ "authorization_url": url.as_str() }))
        } else {
            writeln!(std::io::stdout(), "Open this address in a browser to sign in:\n\n  {url}\n")
        }
        .and_then(|()| std::io::stdout().flush())
        .map_err(Failure::Output)
    } else {
        let _ = writeln!(std::io::stderr(), "Opening your browser to sign in…");
        latchkey_core::browser::open_in_browser(url.as_str()).map_err(|e| {
            Failure::Core(Error::InvalidInput(format!("{e} Use --no-browser and open the address yourself.")))
        })
    };
    if let Err(failure) = shown {
        return Err(give_up(failure));
    }
    tokio::select! {
        done = core.finish_loopback(wait) => done.map_err(|e| give_up(Failure::Core(e.error))),
        signal = latchkey_core::signals::termination_requested() => Err(give_up(Failure::Interrupted(signal))),
    }
}

/// `latchkey connect --device`: prints where to go and the code to enter (with `--json`, one JSON
/// line), then waits for the approval. Ctrl-C, a denial or the code's end leave no unnamed account.
async fn connect_device(
    core: &Latchkey,
    connection: &str,
    identifier: Option<&str>,
    json: bool,
    actor: &Actor,
) -> Outcome<Account> {
    let sign_in = core.start_device_authorization(connection, identifier, actor).await?;
    // Ctrl-C, SIGTERM or SIGHUP while waiting: the placeholder goes before the process ends.
    let _cleanup_first = latchkey_core::signals::critical();
    let complete = sign_in.verification_uri_complete.as_ref().map(url::Url::as_str);
    let mut out = std::io::stdout();
    let shown = if json {
        // In the documented order (serde_json's objects sort their keys).
        let text = |v: &str| serde_json::Value::from(v).to_string();
        let first = format!(
            "{{\"verification_uri\":{},\"verification_uri_complete\":{},\"user_code\":{},\"expires_in\":{}}}",
            text(sign_in.verification_uri.as_str()),
            complete.map_or("null".into(), text),
            text(&sign_in.user_code),
            sign_in.expires_in.as_secs(),
        );
        writeln!(out, "{first}")
    } else {
        writeln!(out, "Open {} on any device", sign_in.verification_uri)
            .and_then(|()| writeln!(out, "and enter the code {}", sign_in.user_code))
            .and_then(|()| match complete {
                Some(url) => writeln!(out, "(or open {url}, which has the code in it)"),
                None => Ok(()),
            })
    }
    .and_then(|()| out.flush());
    if let Err(e) = shown {
        core.abandon_device_authorization(sign_in, actor);
        return Err(Failure::Output(e));
    }
    let minutes = sign_in.expires_in.as_secs().div_ceil(60);
    let _ = writeln!(std::io::stderr(), "Waiting for the approval (the code expires in {minutes} min)…");
    let signal = std::sync::atomic::AtomicI32::new(0);
    let stop = async {
        signal
            .store(latchkey_core::signals::termination_requested().await, std::sync::atomic::Ordering::SeqCst)
    };
    match core.finish_device_authorization(sign_in, stop).await {
        Ok(account) => Ok(account),
        Err(e) => match signal.load(std::sync::atomic::Ordering::SeqCst) {
            0 => Err(Failure::Core(e.error)),
            number => Err(Failure::Interrupted(number)),
        },
    }
}
