//! What both artefacts are made of: the files below a staging directory in a fixed order,
//! the time of the last commit as every file's time (the same sources give the same bytes),
//! and SHA-256 in hex for the digests and the report.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::root;

/// Every regular file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Seconds since the epoch and RFC 3339 of the last commit, so that the same sources give the
/// same image; the epoch itself outside a git checkout.
pub fn source_date() -> Result<(u64, String)> {
    let out = std::process::Command::new("git")
        .args(["log", "-1", "--format=%ct %cI"])
        .current_dir(root())
        .output();
    if let Ok(out) = out
        && out.status.success()
        && let Some((secs, iso)) = String::from_utf8_lossy(&out.stdout).trim().split_once(' ')
        && let Ok(secs) = secs.parse()
    {
        return Ok((secs, iso.to_owned()));
    }
    Ok((0, String::from("1970-01-01T00:00:00Z")))
}

/// SHA-256 of `bytes`, hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of a file, hex (for the artefacts' report).
pub fn sha256_file(path: &Path) -> Result<String> {
    Ok(sha256(&fs::read(path)?))
}
