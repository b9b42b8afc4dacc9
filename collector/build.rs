//! Build script: embeds the built widget into the collector when `KELISIM_EMBED_WIDGET` names
//! its directory (`cargo xtask package` and `cargo xtask test` set it to `dist/`).
//!
//! It writes `$OUT_DIR/embedded_widget.rs`, a slice of `(file name, include_bytes!(…))` that
//! `web/assets.rs` includes. Without the variable the slice is empty: a plain `cargo build` needs
//! no widget and the binary reads one from `--widget-dir` (or `./dist`) as before. Only the
//! files the collector could serve are taken (`kelisim.*` at the top of the directory); which
//! of them really are widget files is decided at run time by the same code that reads a
//! `--widget-dir`, so the two cannot disagree.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const VAR: &str = "KELISIM_EMBED_WIDGET";

fn main() {
    println!("cargo::rerun-if-env-changed={VAR}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut code = String::from("&[\n");
    if let Some(dir) = std::env::var_os(VAR).filter(|dir| !dir.is_empty()) {
        for (name, path) in widget_files(Path::new(&dir)) {
            println!("cargo::rerun-if-changed={}", path.display());
            // `{:?}` of a str is a valid Rust string literal.
            let _ = writeln!(
                code,
                "    ({name:?}, include_bytes!({:?}) as &[u8]),",
                path.display().to_string()
            );
        }
    }
    code.push_str("]\n");
    let target = out_dir.join("embedded_widget.rs");
    std::fs::write(&target, code)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}

/// The `kelisim.*` files at the top of `dir`, sorted by name (a reproducible binary). A
/// directory without the loader is refused: a release that silently shipped no widget would
/// only be noticed by the operator's visitors.
fn widget_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let dir = std::path::absolute(dir).unwrap_or_else(|e| panic!("{VAR}={}: {e}", dir.display()));
    println!("cargo::rerun-if-changed={}", dir.display());
    let listing = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{VAR}={}: cannot read the widget directory ({e}); run `cargo xtask dist` first",
            dir.display()
        )
    });
    let mut files: Vec<(String, PathBuf)> = listing
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.starts_with("kelisim.").then(|| (name, entry.path()))
        })
        .collect();
    files.sort();
    if !files.iter().any(|(name, _)| name == "kelisim.js") {
        panic!(
            "{VAR}={}: no kelisim.js there; run `cargo xtask dist` first",
            dir.display()
        );
    }
    files
}
