//! Embeds the provider catalog (`catalog/*.toml`) and the client ids and secrets a distributor may
//! bake in at build time: `LATCHKEY_CLIENT_ID_<ENTRY>` / `LATCHKEY_CLIENT_SECRET_<ENTRY>`, where
//! `<ENTRY>` is the entry's file name in upper case with `-` as `_` (e.g. `GOOGLE_DRIVE`).
//! Nothing is committed: without the variables, every connection waits for the user's own client.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("catalog");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("catalog/ exists")
        .map(|e| e.expect("catalog entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// The catalog's data files: (entry, text, baked-in client id, baked-in client secret).\n",
    );
    out.push_str("pub(crate) static ENTRIES: &[(&str, &str, Option<&str>, Option<&str>)] = &[\n");
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("UTF-8 file name");
        let var = stem.to_uppercase().replace('-', "_");
        let baked = |kind: &str| {
            let name = format!("LATCHKEY_CLIENT_{kind}_{var}");
            println!("cargo:rerun-if-env-changed={name}");
            match std::env::var(&name) {
                Ok(v) if !v.trim().is_empty() => format!("Some({:?})", v.trim()),
                _ => "None".to_owned(),
            }
        };
        let (id, secret) = (baked("ID"), baked("SECRET"));
        writeln!(out, "    ({stem:?}, include_str!({:?}), {id}, {secret}),", path.display().to_string())
            .expect("write");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("out dir")).join("catalog_files.rs");
    std::fs::write(dest, out).expect("write catalog_files.rs");
}
