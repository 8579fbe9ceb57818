//! The real `latchkey` binary against what an attacker or an accident hands it: garbage arguments
//! for every subcommand, a closed standard output, a umask that lets others read, processes killed
//! or interrupted during a sign-in, an emptied database. No keychain is reachable here (the D-Bus
//! address points nowhere), so none of this needs a session; commands that need the keychain say
//! so with exit code 5.

mod common;
#[path = "../../latchkey-core/tests/it/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Env {
    dir: tempfile::TempDir,
    data: PathBuf,
    connections: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("data");
        let connections = dir.path().join("config").join("connections.toml");
        Env { data, connections, dir }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = common::latchkey(args);
        c.current_dir(self.dir.path())
            .env("LATCHKEY_DATA_DIR", &self.data)
            .env("LATCHKEY_CONNECTIONS", &self.connections)
            .env("LATCHKEY_KEYCHAIN_SERVICE", "latchkey-hostile-test")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null());
        c
    }

    /// Runs with a deadline (a command must never wait for a browser here): a watchdog kills it
    /// after 30 s, which the caller's exit-status check then reports.
    fn run(&self, args: &[&str], stdout: Stdio) -> Output {
        let child = self.cmd(args).stdout(stdout).stderr(Stdio::piped()).spawn().expect("spawn latchkey");
        let pid = child.id().to_string();
        let (done, ended) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if ended.recv_timeout(Duration::from_secs(30)).is_err() {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        });
        let out = child.wait_with_output().expect("output");
        let _ = done.send(());
        watchdog.join().expect("watchdog");
        out
    }

    fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args, Stdio::piped());
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(code),
            "latchkey {}\nstdout: {stdout}\nstderr: {stderr}",
            shown(args)
        );
        stdout.into_owned()
    }
}

/// An argument list as a test failure shows it (100 KB arguments shortened).
fn shown(args: &[&str]) -> String {
    let short: Vec<String> = args
        .iter()
        .map(|a| {
            if a.chars().count() > 40 {
                format!("{}…({} bytes)", a.chars().take(20).collect::<String>(), a.len())
            } else {
                format!("{a:?}")
            }
        })
        .collect();
    short.join(" ")
}

/// A pipe whose reading end is already closed, as `latchkey … | head -c0` leaves it.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

fn garbage() -> Vec<String> {
    let mut values: Vec<String> = [
        "",
        " ",
        "é",
        "-",
        "--",
        "-x",
        "--frobnicate",
        ":",
        "a:",
        ":b",
        "a:b:c",
        "é:é",
        "\u{202e}evil",
        "\u{7}bell",
        "line\nbreak",
        "tab\there",
        "99999999999999999999999999",
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
        "-1",
        "1e309",
        "NaN",
        "é1d",
        "1é",
        "9999999999999999d",
        "../../../../etc/passwd",
        "%00",
        "demo:alice@example.test",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    values.push("x".repeat(100_000));
    values.push("é".repeat(50_000));
    values.push(format!("a:{}", "💥".repeat(25_000)));
    values
}

/// Every subcommand and sub-subcommand, each argument and option value in turn replaced by `G`.
const SHAPES: &[&[&str]] = &[
    &["G"],
    &["connections", "G"],
    &["connections", "list", "G"],
    &["connections", "list", "--json", "G"],
    &["connections", "add", "G"],
    &["connections", "add", "G", "--type", "api-key"],
    &["connections", "add", "x", "--type", "G"],
    &["connections", "add", "x", "--display-name", "G", "--type", "basic-auth"],
    &["connections", "add", "x", "--issuer", "G", "--client-id", "c"],
    &["connections", "add", "x", "--authorize-url", "G", "--token-url", "G", "--client-id", "c"],
    &[
        "connections",
        "add",
        "x",
        "--authorize-url",
        "https://a.test/a",
        "--token-url",
        "https://a.test/t",
        "--revoke-url",
        "G",
        "--userinfo-url",
        "G",
    ],
    &["connections", "add", "x", "--issuer", "https://a.test", "--client-id", "G", "--scopes", "G"],
    &["connections", "add", "x", "--issuer", "https://a.test", "--redirect", "G"],
    &["connections", "add", "x", "--issuer", "https://a.test", "--client-secret-stdin", "--client-id", "G"],
    &["connections", "set", "G"],
    &["connections", "set", "G", "--enable"],
    &["connections", "set", "notion", "--client-id", "G"],
    &["connections", "set", "notion", "--scopes", "G"],
    &["connections", "set", "notion", "--client-secret-stdin", "G"],
    &["connections", "set", "notion", "--clear-client-secret", "--disable", "G"],
    &["connections", "remove", "G"],
    &["accounts", "G"],
    &["accounts", "list", "--connection", "G"],
    &["accounts", "list", "--status", "G"],
    &["accounts", "list", "--json", "G"],
    &["accounts", "show", "G"],
    &["accounts", "show", "G", "--json"],
    &["accounts", "test", "G"],
    &["connect", "G", "--no-browser"],
    &["connect", "G", "--identifier", "G", "--no-browser", "--json"],
    &["token", "G"],
    &["token", "x:y", "--min-valid", "G"],
    &["token", "x:y", "--scope", "G", "--json"],
    &["revoke", "G"],
    &["suspend", "G"],
    &["resume", "G"],
    &["delete", "G"],
    &["audit", "--account", "G"],
    &["audit", "--since", "G"],
    &["audit", "--since", "G", "--json"],
    &["audit", "--since", "G", "--csv"],
    &["audit", "G"],
    &["grants", "G"],
    &["grants", "list", "G"],
    &["grants", "add", "G", "x:y"],
    &["grants", "add", "agent", "G"],
    &["grants", "add", "agent", "x:y", "--access", "G"],
    &["grants", "add", "agent", "x:y", "--for", "G"],
    &["grants", "remove", "G", "G"],
    &["mcp", "G"],
    &["mcp", "--consumer", "G"],
    &["connections", "add", "G", "--type", "api-key", "--api-base", "G"],
    &["--keychain-service", "G", "accounts", "list"],
    &["--connections", "G", "connections", "list"],
    &["--data-dir", "G", "accounts", "list"],
];

fn assert_survived(args: &[&str], out: &Output, allowed: &[i32]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| allowed.contains(&c)),
        "latchkey {} ended with {:?} (allowed {allowed:?})\nstderr: {stderr}",
        shown(args),
        out.status
    );
    for sign in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(sign), "latchkey {}: {sign}\n{stderr}", shown(args));
    }
}

#[test]
fn every_subcommand_survives_garbage_arguments_and_a_closed_stdout() {
    let env = Env::new();
    // A catalog entry that needs no client secret gets a garbage client id here: `connect` is only
    // ever given garbage names, so nothing waits for a browser.
    let values = garbage();
    let documented = [0, 1, 2, 3, 4, 5, 6];
    let mut runs = Vec::new();
    for shape in SHAPES {
        for value in &values {
            let args: Vec<&str> = shape.iter().map(|a| if *a == "G" { value.as_str() } else { a }).collect();
            runs.push(args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>());
        }
    }
    let started = Instant::now();
    let chunks: Vec<_> = runs.chunks(runs.len().div_ceil(4)).collect();
    std::thread::scope(|scope| {
        for chunk in chunks {
            let env = &env;
            scope.spawn(move || {
                for (i, args) in chunk.iter().enumerate() {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    assert_survived(&args, &env.run(&args, Stdio::piped()), &documented);
                    // Every fourth run again with nobody reading its output.
                    if i % 4 == 0 {
                        let mut closed = documented.to_vec();
                        closed.push(141);
                        assert_survived(&args, &env.run(&args, closed_pipe()), &closed);
                    }
                }
            });
        }
    });
    eprintln!("{} garbage runs in {:.1} s", runs.len(), started.elapsed().as_secs_f64());

    // Commands that print, with their output closed: quiet, and 141 as a shell reports for git or
    // coreutils ended by SIGPIPE.
    for args in [
        &["connections", "list"][..],
        &["connections", "list", "--json"],
        &["accounts", "list"],
        &["accounts", "list", "--json"],
        &["audit"],
        &["audit", "--json"],
        &["audit", "--csv"],
        &["grants", "list"],
        &["grants", "list", "--json"],
    ] {
        let out = env.run(args, closed_pipe());
        assert_survived(args, &out, &[141]);
        assert!(out.stderr.is_empty(), "quiet: {}", String::from_utf8_lossy(&out.stderr));
    }
    // clap's own help and version ignore a closed output.
    for args in [&["--help"][..], &["--version"], &["token", "--help"]] {
        assert_survived(args, &env.run(args, closed_pipe()), &[0]);
    }
    // Standard output not open at all (`>&-`) is no failure either.
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" connections list >&-")
        .arg(env!("CARGO_BIN_EXE_latchkey"))
        .env("LATCHKEY_DATA_DIR", &env.data)
        .env("LATCHKEY_CONNECTIONS", &env.connections)
        .output()
        .expect("sh");
    assert_survived(&["connections", "list", ">&-"], &out, &[0, 141]);
}

#[test]
fn malformed_values_are_usage_errors_and_too_long_a_min_valid_is_refused() {
    let env = Env::new();
    for reference in ["nocolon", "", ":alice", "demo:", "demo: ", "Demo:alice", "demo:a\u{7}b"] {
        env.expect(&["token", reference], 2);
        env.expect(&["accounts", "show", reference], 2);
        env.expect(&["revoke", reference], 2);
    }
    env.expect(&["token", "demo:alice"], 3);
    env.expect(&["token", "demo:a:b"], 3);
    env.expect(&["accounts", "list", "--status", "sleeping"], 2);
    env.expect(&["audit", "--since", "é"], 2);
    env.expect(&["audit", "--since", "-5d"], 2);
    env.expect(&["audit", "--since", "99999999999999999d"], 0);
    env.expect(&["token", "demo:alice", "--min-valid", "9223372036854775808"], 2);
    env.expect(&["token", "demo:alice", "--min-valid", "31536001"], 2);
    env.expect(&["token", "demo:alice", "--min-valid", "31536000"], 3);
    let out = env.run(&["token", "nocolon"], Stdio::piped());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("latchkey: “nocolon” is not an account reference")
            && stderr.contains("CONNECTION:IDENTIFIER"),
        "{stderr}"
    );
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// `latchkey` started under umask 022 (others may read new files) keeps its data private.
#[cfg(unix)]
#[test]
fn files_are_private_under_umask_022() {
    let env = Env::new();
    let umask = |args: &[&str]| {
        let mut c = Command::new("sh");
        c.arg("-c").arg("umask 022; exec \"$0\" \"$@\"").arg(env!("CARGO_BIN_EXE_latchkey")).args(args);
        for (k, v) in env.cmd(&[]).get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        let out = c.stdin(Stdio::null()).output().expect("sh");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    umask(&["accounts", "list"]);
    umask(&[
        "connections",
        "add",
        "demo",
        "--authorize-url",
        "https://login.example.test/authorize",
        "--token-url",
        "https://login.example.test/token",
        "--client-id",
        "latchkey",
    ]);
    // Probe: the same umask leaves a plain new file readable by others.
    let probe = env.dir.path().join("probe");
    let out = Command::new("sh").arg("-c").arg("umask 022; : > \"$0\"").arg(&probe).output().expect("sh");
    assert!(out.status.success());
    assert_eq!(mode(&probe), 0o644);

    for dir in ["", "instances", "locks", "logs"] {
        assert_eq!(mode(&env.data.join(dir)), 0o700, "data/{dir}");
    }
    assert_eq!(mode(&env.data.join("latchkey.sqlite3")), 0o600);
    assert_eq!(mode(env.connections.parent().expect("config folder")), 0o700, "the config folder it made");
    assert_eq!(mode(&env.connections), 0o600);
    assert_eq!(mode(&env.connections.with_extension("toml.lock")), 0o600);
}

/// Reads the first line a `connect --no-browser --json` prints (its authorization URL).
fn first_line(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("read");
    line
}

#[cfg(unix)]
#[test]
fn killed_and_interrupted_sign_ins_leave_no_lock_files_or_unnamed_accounts() {
    let env = Env::new();
    env.expect(
        &[
            "connections",
            "add",
            "demo",
            "--authorize-url",
            "https://login.example.test/authorize",
            "--token-url",
            "https://login.example.test/token",
            "--client-id",
            "latchkey",
        ],
        0,
    );
    let instances = env.data.join("instances");
    let connect = || {
        let mut child = env
            .cmd(&["connect", "demo", "--no-browser", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        assert!(first_line(&mut child).contains("authorization_url"));
        child
    };

    // Three running at once, killed mid-sign-in: each leaves its instance's lock file.
    let children: Vec<_> = (0..3).map(|_| connect()).collect();
    for mut child in children {
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
    }
    assert_eq!(std::fs::read_dir(&instances).expect("instances").count(), 3, "stale lock files");
    env.expect(&["accounts", "list"], 0);
    assert_eq!(std::fs::read_dir(&instances).expect("instances").count(), 0, "removed at the next start");

    // Ctrl-C: exit 130, and the unnamed Pending account of the sign-in is gone (audited).
    let before = env.expect(&["accounts", "list", "--json"], 0);
    let child = connect();
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted") && !stderr.contains("panicked"), "{stderr}");
    assert_eq!(env.expect(&["accounts", "list", "--json"], 0), before, "no placeholder left");
    let audit = env.expect(&["audit", "--json"], 0);
    assert!(audit.contains("the sign-in that created it did not complete"), "{audit}");

    // A sign-in that fails at once (this connection returns through the app) leaves none either.
    env.expect(
        &[
            "connections",
            "add",
            "applink",
            "--authorize-url",
            "https://login.example.test/authorize",
            "--token-url",
            "https://login.example.test/token",
            "--client-id",
            "latchkey",
            "--redirect",
            "deep-link",
        ],
        0,
    );
    env.expect(&["connect", "applink", "--no-browser"], 1);
    assert_eq!(env.expect(&["accounts", "list", "--json"], 0), before);
}

#[test]
fn an_emptied_database_is_refused_with_the_file_named() {
    let env = Env::new();
    env.expect(&["accounts", "list"], 0);
    let db = env.data.join("latchkey.sqlite3");
    std::fs::write(&db, "").expect("empty it");
    let out = env.run(&["accounts", "list"], Stdio::piped());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&db.display().to_string()) && stderr.contains("is empty"), "{stderr}");
    assert_eq!(std::fs::metadata(&db).expect("kept").len(), 0, "not re-created");
}

/// No keychain: `connections add --client-secret-stdin` stops before writing the connection.
#[test]
fn a_connection_whose_secret_cannot_be_stored_is_not_added() {
    use std::io::Write;
    let env = Env::new();
    let mut child = env
        .cmd(&[
            "connections",
            "add",
            "demo",
            "--authorize-url",
            "https://login.example.test/authorize",
            "--token-url",
            "https://login.example.test/token",
            "--client-id",
            "latchkey",
            "--client-secret-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(b"s3cret-value\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.starts_with("latchkey: Nothing was added: The system keychain is not available"),
        "{stderr}"
    );
    let file = std::fs::read_to_string(&env.connections).unwrap_or_default();
    assert!(!file.contains("demo"), "{file}");
    let listed = env.expect(&["connections", "list", "--json"], 0);
    assert!(!listed.contains("\"demo\""), "{listed}");
}
