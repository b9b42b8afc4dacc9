//! The Kelisim widget's pure rules, apart from the DOM and the JS boundary: which forms carry
//! personal data and whether a form may submit (`policy`), what a cookie choice means and the
//! cookie that remembers it (`choice`), the analytics shield's redaction (`redact`), the session
//! recorders' masking markers (`recorders`). The widget (`widget/`, wasm32) reads the page into
//! plain values and asks; the fuzz targets (`fuzz/`) and third parties call the same functions
//! natively. `loader_rules` (tests only) generates the loader's copy of the rules it needs before
//! the wasm has loaded, from these modules, so no rule is written twice.
//!
//! Architecture invariants: nothing here touches the DOM, JS or IO (no dependency at run time);
//! every function is total on any input; no `core::fmt` in what the widget links (its wasm has
//! a size budget: see BENCHMARKS.md). `no_std` with `alloc`; tests use std.
//!
//! Every function is `#[inline]`, which has rustc generate its code in the crate that calls it,
//! as if it were the widget's own: compiled here instead, the generic code both crates use
//! (`String`, `Vec`, `str::trim`, `memchr`, …) was instantiated twice, once per crate, which LTO
//! does not merge (the shipped wasm +930 bytes raw, +350 brotli, measured with `cargo xtask
//! dist`). `every_function_is_inline` keeps it so.

#![cfg_attr(not(test), no_std)]
#![deny(clippy::unwrap_used)]

extern crate alloc;

pub mod choice;
#[cfg(test)]
mod loader_rules;
pub mod policy;
pub mod recorders;
pub mod redact;
pub mod storage;

/// The sources whose functions must all be `#[inline]` (see the crate's doc): everything but
/// the tests and the test-only generator.
#[cfg(test)]
fn shipped_sources() -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".rs") && name != "tests.rs" && name != "loader_rules.rs" {
                let text = std::fs::read_to_string(&path).expect("a source is readable");
                out.push((path, text));
            }
        }
    }
    out
}

#[test]
fn every_function_is_inline() {
    let sources = shipped_sources();
    assert!(sources.len() >= 5, "found only {} sources", sources.len());
    let mut missing = Vec::new();
    for (path, text) in sources {
        let mut previous = "";
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("#[cfg(test)]") {
                break;
            }
            let code = code
                .trim_start_matches("pub(super) ")
                .trim_start_matches("pub ")
                .trim_start_matches("const ");
            if code.starts_with("fn ") && previous != "#[inline]" {
                missing.push(format!("{}:{}", path.display(), n + 1));
            }
            previous = line.trim();
        }
    }
    assert!(
        missing.is_empty(),
        "functions without #[inline]: {missing:?}"
    );
}
