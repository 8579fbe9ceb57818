//! docs/mail.md's recipes, copied verbatim from the doc, run by the real programs (curl, msmtp,
//! mbsync, neomutt) against a Dovecot this test starts on 127.0.0.1: IMAP and submission over TLS,
//! its oauth2 passdb checking every token by RFC 7662 introspection at the local test provider,
//! submission relaying to an aiosmtpd sink. Only the placeholders the doc names are replaced.

mod common;
#[path = "../../latchkey-core/tests/it/support/mod.rs"]
mod support;

use std::net::{TcpListener, TcpStream};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{ALICE as REF, all_command_lines};
use support::{Provider, contains};

const USER: &str = "alice@example.test";

/// The programs the recipes and the servers need; a missing one fails the test, naming the fix.
fn require_programs() {
    let checks: [(&str, &[&str]); 9] = [
        ("dovecot", &["--version"]),
        ("aiosmtpd", &["--version"]),
        ("curl", &["--version"]),
        ("msmtp", &["--version"]),
        ("mbsync", &["--version"]),
        ("neomutt", &["-v"]),
        ("openssl", &["version"]),
        ("script", &["--version"]),
        ("timeout", &["--version"]),
    ];
    for (name, args) in checks {
        let ok = Command::new(program(name)).args(args).output().is_ok_and(|o| o.status.success());
        assert!(ok, "{name} is missing or does not run: install the test packages with scripts/setup --test");
    }
    let plugin = std::fs::read_dir("/usr/lib").into_iter().flatten().flatten().any(|d| {
        std::fs::read_dir(d.path().join("sasl2"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|f| f.file_name().to_string_lossy().starts_with("libkdexoauth2.so"))
    });
    assert!(
        plugin,
        "mbsync's XOAUTH2 SASL plugin (libsasl2-modules-kdexoauth2) is missing: run scripts/setup --test"
    );
}

/// A program by name: on PATH, else in /usr/sbin (where Debian puts `dovecot`, off a user's PATH).
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "{what} never listened on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn id(args: &[&str]) -> String {
    let out = Command::new("id").args(args).output().expect("id");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A child stopped as its own shutdown expects (SIGTERM), then reaped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Dovecot {
    _server: Server,
    log: PathBuf,
    imaps: u16,
    submission: u16,
    submissions: u16,
}

impl Dovecot {
    /// A private instance: its own config, base_dir, state and mail under `dir`, its own ports.
    /// As root, Dovecot drops to its package's users (it refuses mail access as root); otherwise
    /// every process runs as the current user.
    fn start(dir: &Path, provider: &Provider, cert: &Path, key: &Path, sink: u16) -> Dovecot {
        let (imaps, submission, submissions) = (free_port(), free_port(), free_port());
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        let root = id(&["-u"]) == "0";
        let (internal, group, login, uid, gid) = if root {
            (
                "dovecot".to_owned(),
                "dovecot".to_owned(),
                "dovenull".to_owned(),
                id(&["-u", "dovecot"]),
                id(&["-g", "dovecot"]),
            )
        } else {
            (id(&["-un"]), id(&["-gn"]), id(&["-un"]), id(&["-u"]), id(&["-g"]))
        };
        // Dovecot's auth process reads the provider's CA at each introspection, as its own user.
        let ca = dir.join("provider-ca.pem");
        std::fs::copy(provider.ca_file.as_ref().expect("tls"), &ca).expect("copy the CA");
        if root {
            let ok =
                Command::new("chown").args(["-R", &format!("{uid}:{gid}")]).arg(dir.join("mail")).status();
            assert!(ok.is_ok_and(|s| s.success()), "chown the mail folder");
        }
        use std::os::unix::fs::PermissionsExt;
        for path in [dir, &ca] {
            let mode = if path.is_dir() { 0o755 } else { 0o644 };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let port = provider.issuer.rsplit(':').next().expect("port");
        let (client, secret) = &provider.introspection_client;
        let oauth2 = dir.join("oauth2.conf");
        std::fs::write(
            &oauth2,
            format!(
                "introspection_mode = post\n\
                 introspection_url = https://{client}:{secret}@127.0.0.1:{port}/token/introspection\n\
                 force_introspection = yes\n\
                 username_attribute = email\n\
                 active_attribute = active\n\
                 active_value = true\n\
                 tls_ca_cert_file = {ca}\n",
                ca = ca.display()
            ),
        )
        .expect("write");
        let d = dir.display();
        let conf = dir.join("dovecot.conf");
        std::fs::write(
            &conf,
            format!(
                r#"instance_name = latchkey-mail-test-{pid}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap submission
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
hostname = localhost
auth_mechanisms = xoauth2 oauthbearer
auth_cache_size = 0
auth_verbose = yes
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = {uid}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth2}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service submission-login {{
  chroot =
  inet_listener submission {{
    address = 127.0.0.1
    port = {submission}
  }}
  inet_listener submissions {{
    address = 127.0.0.1
    port = {submissions}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
submission_relay_host = 127.0.0.1
submission_relay_port = {sink}
submission_relay_trusted = yes
"#,
                pid = std::process::id(),
                cert = cert.display(),
                key = key.display(),
                oauth2 = oauth2.display(),
            ),
        )
        .expect("write");
        let check =
            Command::new(program("doveconf")).arg("-c").arg(&conf).arg("-n").output().expect("doveconf");
        assert!(check.status.success(), "doveconf -n: {}", text(&check));
        let child = Command::new(program("dovecot"))
            .arg("-c")
            .arg(&conf)
            .arg("-F")
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dovecot");
        let server = Server(child);
        for p in [imaps, submission, submissions] {
            wait_for_port(p, "dovecot");
        }
        Dovecot { _server: server, log: dir.join("dovecot.log"), imaps, submission, submissions }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Successful logins so far with this SASL mechanism (Dovecot's "Login: … method=M").
    fn logins(&self, mechanism: &str) -> usize {
        let needle = format!("Login: user=<{USER}>, method={mechanism},");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }

    fn all_logins(&self) -> usize {
        self.log().lines().filter(|l| l.contains(": Login: user=")).count()
    }
}

/// The relay's sink: aiosmtpd printing every message it gets.
struct Sink {
    _server: Server,
    out: PathBuf,
}

impl Sink {
    fn start(dir: &Path) -> (Sink, u16) {
        let port = free_port();
        let out = dir.join("sink.txt");
        let child = Command::new("aiosmtpd")
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("sink file"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd");
        let sink = Sink { _server: Server(child), out };
        wait_for_port(port, "aiosmtpd");
        (sink, port)
    }

    fn received(&self, subject: &str) -> bool {
        let start = Instant::now();
        loop {
            if std::fs::read_to_string(&self.out).unwrap_or_default().contains(&format!("Subject: {subject}"))
            {
                return true;
            }
            if start.elapsed() > Duration::from_secs(5) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The fenced block after `<!-- recipe: NAME -->` in docs/mail.md.
fn recipe(doc: &str, name: &str) -> String {
    let marker = format!("<!-- recipe: {name} -->\n");
    let at = doc.find(&marker).unwrap_or_else(|| panic!("docs/mail.md has no {marker:?}"));
    let rest = &doc[at + marker.len()..];
    assert!(rest.starts_with("```"), "the recipe {name} is a fenced block right after its marker");
    let body = &rest[rest.find('\n').expect("fence line") + 1..];
    body[..body.find("```").expect("closing fence")].to_owned()
}

/// One provider's placeholders (docs/mail.md's table) and what they become here.
struct Flavor {
    name: &'static str,
    reference: &'static str,
    address: &'static str,
    hosts: [&'static str; 2],
    /// The IMAP port, then the SMTP one.
    ports: [&'static str; 2],
    smtp_tls: &'static str,
    imap_mechanism: &'static str,
    channel: &'static str,
}

const FLAVORS: [Flavor; 2] = [
    Flavor {
        name: "gmail",
        reference: "gmail:you@gmail.com",
        address: "you@gmail.com",
        hosts: ["imap.gmail.com", "smtp.gmail.com"],
        ports: ["993", "465"],
        smtp_tls: "implicit",
        imap_mechanism: "OAUTHBEARER",
        channel: "gmail",
    },
    Flavor {
        name: "microsoft",
        reference: "microsoft:you@outlook.com",
        address: "you@outlook.com",
        hosts: ["outlook.office365.com", "smtp.office365.com"],
        ports: ["993", "587"],
        smtp_tls: "starttls",
        imap_mechanism: "XOAUTH2",
        channel: "outlook",
    },
];

/// Replaces whole numbers equal to `from` (not digits inside longer numbers).
fn replace_number(text: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in text.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            out += if digits == from { to } else { &digits };
            digits.clear();
        }
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

impl Flavor {
    /// The recipe `tool-NAME` with the doc's placeholders pointed at this test's servers.
    fn recipe(&self, doc: &str, tool: &str, dovecot: &Dovecot) -> String {
        let original = recipe(doc, &format!("{tool}-{}", self.name));
        assert!(original.contains(self.reference), "{tool}-{}: names the account", self.name);
        let mut text = original.replace(self.reference, REF).replace(self.address, USER);
        for host in self.hosts {
            text = text.replace(host, "127.0.0.1");
        }
        let smtp = if self.smtp_tls == "implicit" { dovecot.submissions } else { dovecot.submission };
        text = replace_number(&text, self.ports[0], &dovecot.imaps.to_string());
        text = replace_number(&text, self.ports[1], &smtp.to_string());
        assert!(text.contains("127.0.0.1"), "{tool}-{}: names a server", self.name);
        text
    }
}

/// The shared environment, trusting the provider's CA and Dovecot's certificate (what latchkey,
/// curl and mbsync trust), with a HOME and `latchkey` on PATH from `bin`.
struct Env {
    base: common::Env,
    home: PathBuf,
    bin: PathBuf,
}

impl Deref for Env {
    type Target = common::Env;

    fn deref(&self) -> &common::Env {
        &self.base
    }
}

impl Env {
    fn cmd(&self, program: &str) -> Command {
        self.cmd_within(60, program)
    }

    /// `program` killed after `seconds` (exit 124), so that a hung program cannot hang the test.
    fn cmd_within(&self, seconds: u32, program: &str) -> Command {
        let mut c = Command::new("timeout");
        c.arg(seconds.to_string()).arg(program);
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default());
        c.env("PATH", path).env("HOME", &self.home).env("TERM", "xterm");
        self.profile(&mut c);
        c.env_remove("CURL_CA_BUNDLE").env_remove("SSL_CERT_DIR");
        c
    }

    fn latchkey(&self, args: &[&str]) -> Output {
        let mut c = self.cmd("latchkey");
        c.args(args);
        c.output().expect("latchkey")
    }

    fn run(&self, c: Command, input: &str) -> Output {
        common::output(c, input)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    }
}

/// What one round of recipes (one flavor) did.
struct Round<'a> {
    env: &'a Env,
    doc: &'a str,
    dovecot: &'a Dovecot,
    sink: &'a Sink,
    flavor: &'a Flavor,
    /// A tag that makes this round's messages unique.
    tag: String,
}

impl Round<'_> {
    fn curl_command(&self) -> Command {
        let script = self.flavor.recipe(self.doc, "curl", self.dovecot);
        let mut c = self.env.cmd("sh");
        c.arg("-c").arg(script.trim());
        c
    }

    fn curl(&self) -> Output {
        self.env.run(self.curl_command(), "")
    }

    fn msmtp(&self, subject: &str) -> Output {
        let recipe = self.flavor.recipe(self.doc, "msmtp", self.dovecot);
        let config = format!("defaults\ntls_trust_file {}\n\n{recipe}", self.env.ca.display());
        let file = self.env.file(&format!("msmtprc-{}", self.tag), &config);
        let mut c = self.env.cmd("msmtp");
        c.arg("-C").arg(file).arg("bob@example.test");
        self.env.run(c, &format!("From: {USER}\nTo: bob@example.test\nSubject: {subject}\n\nfrom msmtp\n"))
    }

    fn mbsync(&self, seconds: u32) -> Output {
        let recipe = self.flavor.recipe(self.doc, "mbsync", self.dovecot);
        std::fs::create_dir_all(self.env.home.join("Mail").join(self.flavor.channel)).expect("mkdir");
        let file = self.env.file(&format!("mbsyncrc-{}", self.tag), &recipe);
        let mut c = self.env.cmd_within(seconds, "mbsync");
        c.arg("-c").arg(file).arg(self.flavor.channel);
        self.env.run(c, "")
    }

    fn neomutt_config(&self) -> PathBuf {
        let recipe = self.flavor.recipe(self.doc, "neomutt", self.dovecot);
        let config = format!("{recipe}set ssl_ca_certificates_file = \"{}\"\n", self.env.ca.display());
        self.env.file(&format!("neomuttrc-{}", self.tag), &config)
    }

    fn neomutt_send(&self, subject: &str) -> Output {
        let mut c = self.env.cmd("neomutt");
        c.arg("-n").arg("-F").arg(self.neomutt_config()).args(["-s", subject, "--", "bob@example.test"]);
        self.env.run(c, "from neomutt\n")
    }

    /// neomutt as a person starts it (a terminal: `script`), opening the recipe's spoolfile, then quitting.
    fn neomutt_open(&self) -> Output {
        let command = format!("neomutt -n -F '{}' -e 'push <quit>'", self.neomutt_config().display());
        let mut c = self.env.cmd("script");
        c.args(["-qec", &command, "/dev/null"]);
        self.env.run(c, "")
    }

    /// Every recipe works: returns nothing, asserts everything.
    fn works(&self) {
        let (env, dovecot, flavor) = (self.env, self.dovecot, self.flavor);
        let before = dovecot.logins("OAUTHBEARER");
        let out = self.curl();
        eprintln!("[{}] curl: {}", flavor.name, text(&out).trim());
        assert!(out.status.success(), "curl: {}", text(&out));
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(listing.contains("* LIST (") && listing.contains("INBOX"), "{listing}");
        assert_eq!(dovecot.logins("OAUTHBEARER"), before + 1, "curl logged in with OAUTHBEARER");

        let subject = format!("msmtp {}", self.tag);
        let before = dovecot.all_logins();
        let out = self.msmtp(&subject);
        eprintln!("[{}] msmtp: exit {:?} {}", flavor.name, out.status.code(), text(&out).trim());
        assert!(out.status.success(), "msmtp: {}", text(&out));
        assert!(self.sink.received(&subject), "the message msmtp sent reached the relay");
        assert!(dovecot.all_logins() > before, "submission logged msmtp in");

        // A message in the server's INBOX for mbsync and neomutt to find, put there over IMAP.
        let synced = format!("for mbsync {}", self.tag);
        let message = self.env.file(
            &format!("message-{}", self.tag),
            &format!("From: bob@example.test\r\nTo: {USER}\r\nSubject: {synced}\r\n\r\nhello\r\n"),
        );
        let mut c = env.cmd("sh");
        c.arg("-c")
            .arg(r#"latchkey token "$1" | sed 's/^/oauth2-bearer = /' | curl -sS --config - --user "$2": -T "$3" "imaps://127.0.0.1:$4/INBOX""#)
            .args(["sh", REF, USER])
            .arg(&message)
            .arg(dovecot.imaps.to_string());
        let out = env.run(c, "");
        assert!(out.status.success(), "IMAP APPEND: {}", text(&out));

        let before = dovecot.logins("XOAUTH2");
        let out = self.mbsync(60);
        eprintln!("[{}] mbsync: exit {:?} {}", flavor.name, out.status.code(), text(&out).trim());
        assert!(out.status.success(), "mbsync: {}", text(&out));
        assert_eq!(dovecot.logins("XOAUTH2"), before + 1, "mbsync logged in with XOAUTH2");
        let inbox = env.home.join("Mail").join(flavor.channel).join("INBOX");
        let found = ["cur", "new"]
            .iter()
            .flat_map(|sub| std::fs::read_dir(inbox.join(sub)).into_iter().flatten().flatten())
            .any(|f| {
                std::fs::read_to_string(f.path()).is_ok_and(|m| m.contains(&format!("Subject: {synced}")))
            });
        assert!(found, "mbsync brought the message to {}", inbox.display());

        let mut c = env.cmd("neomutt");
        c.arg("-n").arg("-F").arg(self.neomutt_config()).args(["-Q", "imap_authenticators"]);
        let out = env.run(c, "");
        eprintln!("[{}] neomutt -Q: {}", flavor.name, text(&out).trim());
        assert!(out.status.success() && text(&out).contains("set imap_authenticators = "), "{}", text(&out));

        let subject = format!("neomutt {}", self.tag);
        let out = self.neomutt_send(&subject);
        eprintln!("[{}] neomutt send: exit {:?} {}", flavor.name, out.status.code(), text(&out).trim());
        assert!(out.status.success(), "neomutt: {}", text(&out));
        assert!(self.sink.received(&subject), "the message neomutt sent reached the relay");

        let before = dovecot.logins(flavor.imap_mechanism);
        let out = self.neomutt_open();
        assert!(out.status.success(), "neomutt: {}", text(&out));
        assert_eq!(
            dovecot.logins(flavor.imap_mechanism),
            before + 1,
            "neomutt opened the IMAP inbox with {}: {}",
            flavor.imap_mechanism,
            text(&out)
        );
        eprintln!("[{}] neomutt opened the inbox: {}", flavor.name, last_line(&dovecot.log(), ": Login: "));
    }

    /// Every recipe fails, logging in nowhere and sending nothing. Returns what each said.
    fn fails(&self, token: Option<&str>) -> Vec<String> {
        let (dovecot, flavor) = (self.dovecot, self.flavor);
        let logins = dovecot.all_logins();
        let mut said = Vec::new();
        let out = self.curl();
        assert!(!out.status.success(), "curl: {}", text(&out));
        said.push(format!("curl: exit {:?}: {}", out.status.code(), text(&out).trim()));

        let subject = format!("msmtp {}", self.tag);
        let out = self.msmtp(&subject);
        assert!(!out.status.success(), "msmtp: {}", text(&out));
        said.push(format!("msmtp: exit {:?}: {}", out.status.code(), text(&out).trim()));

        // Refused by the server, mbsync 1.4 with the XOAUTH2 plugin reports it, then waits for an
        // answer Dovecot never sends: stopped here after 10 s, as a person would stop it.
        let out = self.mbsync(10);
        assert!(!out.status.success(), "mbsync: {}", text(&out));
        if out.status.code() == Some(124) {
            assert!(
                text(&out).contains("IMAP wants more steps despite successful SASL authentication"),
                "mbsync hung without saying why: {}",
                text(&out)
            );
        }
        said.push(format!("mbsync: exit {:?}: {}", out.status.code(), text(&out).trim()));

        let subject_nm = format!("neomutt {}", self.tag);
        let out = self.neomutt_send(&subject_nm);
        assert!(!out.status.success(), "neomutt: {}", text(&out));
        said.push(format!("neomutt send: exit {:?}: {}", out.status.code(), text(&out).trim()));

        let out = self.neomutt_open();
        said.push(format!("neomutt open: exit {:?}", out.status.code()));

        assert_eq!(dovecot.all_logins(), logins, "nobody logged in:\n{}", dovecot.log());
        assert!(!self.sink.received(&subject) && !self.sink.received(&subject_nm), "nothing was sent");
        if let Some(token) = token {
            for line in &said {
                assert!(!line.contains(token), "the token in a program's output: {line}");
            }
        }
        for line in &said {
            eprintln!("[{}] {line}", flavor.name);
        }
        said
    }
}

fn last_line(log: &str, needle: &str) -> String {
    log.lines().rfind(|l| l.contains(needle)).unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_mail_recipes_log_in_with_latchkeys_token_and_fail_after_revoke() {
    require_programs();
    let doc = std::fs::read_to_string(support::repo_root().join("docs/mail.md")).expect("docs/mail.md");
    let provider = Provider::start();
    let mut base = common::Env::new(&provider);
    let dir = base.dir.path().to_owned();
    // Dovecot's certificate for 127.0.0.1, trusted next to the provider's CA.
    let dovecot_dir = dir.join("dovecot");
    std::fs::create_dir_all(&dovecot_dir).expect("mkdir");
    let (cert, key) = (dovecot_dir.join("cert.pem"), dovecot_dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "openssl: {}", text(&made));
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let trust = dir.join("trust.pem");
    let provider_ca = std::fs::read_to_string(provider.ca_file.as_ref().expect("tls")).expect("ca");
    std::fs::write(&trust, provider_ca + &std::fs::read_to_string(&cert).expect("cert")).expect("write");

    let (sink, sink_port) = Sink::start(&dir);
    let dovecot = Dovecot::start(&dovecot_dir, &provider, &cert, &key, sink_port);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    let bin = Path::new(env!("CARGO_BIN_EXE_latchkey")).parent().expect("bin dir").to_owned();
    base.ca = trust;
    let env = Env { base, home, bin };
    env.connect_alice(&provider);

    let round = |flavor: &'static Flavor, tag: &str| Round {
        env: &env,
        doc: &doc,
        dovecot: &dovecot,
        sink: &sink,
        flavor,
        tag: format!("{}-{tag}", flavor.name),
    };
    for flavor in &FLAVORS {
        round(flavor, "live").works();
    }

    // The curl recipe hands the token over a pipe: while curl waits for its login (Dovecot's
    // introspection is held up 1.5 s at the provider), no command line holds the token.
    let token = String::from_utf8(env.latchkey(&["token", REF]).stdout).expect("utf-8").trim().to_owned();
    provider
        .control("fault", serde_json::json!({"path": "/token/introspection", "delay_ms": 1500, "times": 1}))
        .await;
    let mut child = round(&FLAVORS[0], "argv")
        .curl_command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let (mut scans, mut saw_curl) = (0, false);
    while child.try_wait().expect("wait").is_none() {
        for (_, line) in all_command_lines() {
            assert!(!contains(&line, &token), "the token on a command line during the curl recipe");
            saw_curl |= contains(&line, "curl\0--config\0-\0");
        }
        scans += 1;
    }
    assert!(child.wait().expect("wait").success(), "the curl recipe");
    assert!(saw_curl, "the scan saw curl running ({scans} scans)");
    eprintln!("curl recipe: the token on no command line in {scans} scans of /proc/*/cmdline");

    // Revoked: Latchkey refuses the token, so every recipe fails before a login.
    assert!(provider.is_active(&token).await);
    let out = env.latchkey(&["revoke", REF]);
    assert!(out.status.success(), "revoke: {}", text(&out));
    assert!(!provider.is_active(&token).await, "the provider says the old token is inactive");
    let refused = env.latchkey(&["token", REF]);
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused));
    eprintln!("latchkey token after revoke: exit 4: {}", text(&refused).trim());
    for flavor in &FLAVORS {
        let said = round(flavor, "revoked").fails(Some(&token));
        assert!(said[0].contains("latchkey: "), "Latchkey's reason reaches the user: {}", said[0]);
    }

    // The token taken before the revocation, handed to the same recipes by a stand-in `latchkey`:
    // Dovecot asks the provider, which says inactive, and refuses every login.
    let stale = env.file("stale-token", &format!("{token}\n"));
    let shim = env.dir.path().join("stale-bin");
    std::fs::create_dir_all(&shim).expect("mkdir");
    let script = shim.join("latchkey");
    std::fs::write(&script, format!("#!/bin/sh\nexec cat '{}'\n", stale.display())).expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let stale_env = Env { bin: shim, ..env };
    provider.control("requests/clear", serde_json::json!({})).await;
    for flavor in &FLAVORS {
        let round = Round {
            env: &stale_env,
            doc: &doc,
            dovecot: &dovecot,
            sink: &sink,
            flavor,
            tag: format!("{}-stale", flavor.name),
        };
        let said = round.fails(Some(&token));
        assert!(said[0].contains("Login denied"), "curl: {}", said[0]);
    }
    let introspections = provider.requests().await;
    let asked = introspections.iter().filter(|r| r["path"] == "/token/introspection").count();
    assert!(asked >= 8, "Dovecot asked the provider at each login: {asked}");
    let log = dovecot.log();
    eprintln!("dovecot refused: {}", last_line(&log, "auth failed"));
    // The servers stop before the folder they write in goes.
    drop(dovecot);
    drop(sink);
    drop(stale_env);
}
