//! The TypeScript bindings in `ui/src/lib/bindings/`: one file per DTO (ts-rs) and `commands.ts`
//! (each command's arguments and result, each event's payload). The test regenerates them into a
//! temporary folder and fails when the committed copy differs; `LATCHKEY_BLESS_BINDINGS=1` rewrites
//! the committed copy instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, TS, TypeVisitor};

use latchkey_core::store::{AuditAction, AuditOutcome};

use crate::dto::*;

pub struct Signature {
    pub name: &'static str,
    pub args: Vec<(&'static str, String)>,
    pub result: String,
    /// The exported types the signature mentions, to import.
    pub types: Vec<String>,
}

pub struct EventSignature {
    /// The Rust constant (`events.rs`), which the TypeScript `EVENTS` names in camel case.
    pub constant: &'static str,
    pub name: &'static str,
    pub payload: String,
    pub types: Vec<String>,
}

pub fn ts<T: TS + ?Sized + 'static>(cfg: &Config) -> String {
    T::name(cfg)
}

/// The exported types `T` is or contains (inside `Vec`, `Option`, …).
pub fn collect<T: TS + ?Sized + 'static>(cfg: &Config, out: &mut Vec<String>) {
    struct Visit<'a>(&'a Config, &'a mut Vec<String>);
    impl TypeVisitor for Visit<'_> {
        fn visit<U: TS + 'static + ?Sized>(&mut self) {
            if U::output_path().is_some() {
                self.1.push(U::ident(self.0));
            }
            U::visit_generics(self);
        }
    }
    Visit(cfg, out).visit::<T>();
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

fn commands_ts(cfg: &Config) -> String {
    let signatures = crate::commands::signatures(cfg);
    let events = crate::events::signatures(cfg);
    let mut imports: Vec<String> = signatures
        .iter()
        .flat_map(|s| s.types.iter().cloned())
        .chain(events.iter().flat_map(|e| e.types.iter().cloned()))
        .collect();
    imports.sort();
    imports.dedup();
    let mut out = String::from(
        "// Generated from src-tauri/src/commands/mod.rs by `cargo test -p latchkey-desktop bindings`.\n\
         // Do not edit by hand: set LATCHKEY_BLESS_BINDINGS=1 on that test to rewrite it.\n",
    );
    for t in &imports {
        out.push_str(&format!("import type {{ {t} }} from \"./{t}\";\n"));
    }
    out.push_str("\n/** Every command: its arguments (as `invoke` takes them) and its result. */\nexport type Commands = {\n");
    for s in &signatures {
        let args = if s.args.is_empty() {
            "Record<string, never>".to_owned()
        } else {
            let fields: Vec<String> = s.args.iter().map(|(n, t)| format!("{}: {t}", camel(n))).collect();
            format!("{{ {} }}", fields.join("; "))
        };
        out.push_str(&format!("  {}: {{ args: {args}; result: {} }};\n", s.name, s.result));
    }
    out.push_str("};\n\n/** Every event the backend emits, with its payload. */\nexport type Events = {\n");
    for e in &events {
        out.push_str(&format!("  \"{}\": {};\n", e.name, e.payload));
    }
    out.push_str("};\n\n/** Every event's name, for `listen`. */\nexport const EVENTS = {\n");
    for e in &events {
        out.push_str(&format!("  {}: \"{}\",\n", camel(&e.constant.to_lowercase()), e.name));
    }
    out.push_str("} as const satisfies Record<string, keyof Events>;\n");
    out
}

/// Writes every binding into `dir`.
pub fn generate(dir: &Path) {
    let cfg = Config::new().with_out_dir(dir);
    AccountDto::export_all(&cfg).expect("AccountDto");
    AccountDetailDto::export_all(&cfg).expect("AccountDetailDto");
    ConnectionDto::export_all(&cfg).expect("ConnectionDto");
    ConnectionChangeDto::export_all(&cfg).expect("ConnectionChangeDto");
    ProviderPageDto::export_all(&cfg).expect("ProviderPageDto");
    NewConnectionDto::export_all(&cfg).expect("NewConnectionDto");
    AuditFilterDto::export_all(&cfg).expect("AuditFilterDto");
    ExportFormatDto::export_all(&cfg).expect("ExportFormatDto");
    ExportDto::export_all(&cfg).expect("ExportDto");
    RevokeDto::export_all(&cfg).expect("RevokeDto");
    KeychainDto::export_all(&cfg).expect("KeychainDto");
    PreferencesDto::export_all(&cfg).expect("PreferencesDto");
    AboutDto::export_all(&cfg).expect("AboutDto");
    ErrorDto::export_all(&cfg).expect("ErrorDto");
    ConnectFailedDto::export_all(&cfg).expect("ConnectFailedDto");
    FirstViewDto::export_all(&cfg).expect("FirstViewDto");
    GrantDto::export_all(&cfg).expect("GrantDto");
    ConsentRequestDto::export_all(&cfg).expect("ConsentRequestDto");
    ConsentAnswerDto::export_all(&cfg).expect("ConsentAnswerDto");
    AuditAction::export_all(&cfg).expect("AuditAction");
    AuditOutcome::export_all(&cfg).expect("AuditOutcome");
    std::fs::write(dir.join("commands.ts"), commands_ts(&cfg)).expect("commands.ts");
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| {
                    let bytes = std::fs::read(e.path()).expect("read binding");
                    (e.file_name().to_string_lossy().into_owned(), bytes)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// How `committed` differs from `generated`, one line per file.
pub fn differences(generated: &Path, committed: &Path) -> Vec<String> {
    let (want, have) = (files(generated), files(committed));
    let mut out = Vec::new();
    for (name, bytes) in &want {
        match have.get(name) {
            None => out.push(format!("missing: {name}")),
            Some(b) if b != bytes => out.push(format!("out of date: {name}")),
            Some(_) => {}
        }
    }
    out.extend(have.keys().filter(|n| !want.contains_key(*n)).map(|n| format!("not generated: {n}")));
    out
}

fn temp_dir(tag: &str) -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("latchkey-bindings-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/src/lib/bindings");

#[test]
fn committed_bindings_are_current() {
    let generated = temp_dir("current");
    generate(&generated);
    let committed = Path::new(COMMITTED);
    let diffs = differences(&generated, committed);
    if !diffs.is_empty() && std::env::var("LATCHKEY_BLESS_BINDINGS").as_deref() == Ok("1") {
        let _ = std::fs::remove_dir_all(committed);
        std::fs::create_dir_all(committed).expect("bindings dir");
        for (name, bytes) in files(&generated) {
            std::fs::write(committed.join(name), bytes).expect("write binding");
        }
    } else {
        assert!(
            diffs.is_empty(),
            "ui/src/lib/bindings differs from the Rust DTOs:\n  {}\nRun `LATCHKEY_BLESS_BINDINGS=1 cargo test -p latchkey-desktop bindings` and commit the result.",
            diffs.join("\n  ")
        );
    }
    std::fs::remove_dir_all(&generated).expect("cleanup");
}

#[test]
fn drift_is_detected() {
    let a = temp_dir("a");
    let b = temp_dir("b");
    generate(&a);
    generate(&b);
    assert!(files(&a).len() > 10, "bindings were generated");
    assert_eq!(differences(&a, &b), Vec::<String>::new());

    let account = b.join("AccountDto.ts");
    let text = std::fs::read_to_string(&account).expect("read");
    assert!(text.contains("signing_in: boolean"), "{text}");
    std::fs::write(&account, text.replace("signing_in: boolean", "signing_in: string")).expect("edit");
    std::fs::remove_file(b.join("KeychainDto.ts")).expect("remove");
    std::fs::write(b.join("Stale.ts"), "export type Stale = string;\n").expect("extra");
    assert_eq!(
        differences(&a, &b),
        ["out of date: AccountDto.ts", "missing: KeychainDto.ts", "not generated: Stale.ts"]
    );
    std::fs::remove_dir_all(&a).expect("cleanup");
    std::fs::remove_dir_all(&b).expect("cleanup");
}

#[test]
fn commands_ts_names_every_command_and_event() {
    let cfg = Config::new();
    let text = commands_ts(&cfg);
    for s in crate::commands::signatures(&cfg) {
        assert!(text.contains(&format!("  {}: {{ args: ", s.name)), "{}", s.name);
    }
    assert!(
        text.contains("get_account: { args: { accountId: string }; result: AccountDetailDto };"),
        "{text}"
    );
    assert!(text.contains("\"connect-failed\": ConnectFailedDto;"), "{text}");
    for e in crate::events::signatures(&cfg) {
        assert!(text.contains(&format!("\"{}\": {};", e.name, e.payload)), "{}", e.name);
    }
    assert!(text.contains("  connectFailed: \"connect-failed\",\n"), "{text}");
    assert!(text.contains("import type { AuditEntryDto } from \"./AuditEntryDto\";"), "{text}");
}
