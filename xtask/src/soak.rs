//! `cargo xtask soak`: the collector's soak test (collector/tests/api/soak.rs) for a chosen
//! duration, alone on the machine so its latency numbers mean something.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::install::{cargo, run};

/// The debug collector binary `cargo build -p kelisim-collector` writes.
pub fn collector_bin() -> PathBuf {
    crate::target_dir().join("debug/kelisim-collector")
}

/// Builds the collector with its test hooks (the `testing` feature: `--bench-endpoints`,
/// `bench-generate`, `bench-admin`, the fault file) and returns a copy of it, kept beside the
/// plain binary as `kelisim-collector-testing`: the plain one, which the package test and
/// the browser tests run, is built without them, as operators get it.
pub fn testing_collector(release: bool) -> Result<PathBuf> {
    run(cargo()
        .args([
            "build",
            "--package",
            "kelisim-collector",
            "--features",
            "testing",
        ])
        .args(release.then_some("--release")))?;
    let dir = crate::target_dir().join(if release { "release" } else { "debug" });
    let copy = dir.join("kelisim-collector-testing");
    std::fs::copy(dir.join("kelisim-collector"), &copy)
        .with_context(|| format!("copying the testing build to {}", copy.display()))?;
    Ok(copy)
}

/// Fails unless `bin` (a build without the `testing` feature) refuses every test hook.
pub fn check_no_test_hooks(bin: &Path) -> Result<()> {
    let hooks: [&[&str]; 4] = [
        &["bench-generate", "--help"],
        &["bench-admin", "--help"],
        &["serve", "--bench-endpoints", "--help"],
        &["serve", "--fault-file", "/nonexistent", "--help"],
    ];
    for args in hooks {
        let out = Command::new(bin)
            .args(args)
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(
            out.status.code() == Some(2)
                && (stderr.contains("unrecognized subcommand")
                    || stderr.contains("unexpected argument")),
            "{} accepts `{}`: a test hook is in the shipped build ({})",
            bin.display(),
            args.join(" "),
            stderr.trim()
        );
    }
    eprintln!("xtask: {} has no test hooks", bin.display());
    Ok(())
}

pub fn soak(seconds: u64) -> Result<()> {
    run(cargo()
        .args([
            "test",
            "--package",
            "kelisim-collector",
            "--test",
            "api",
            "--",
            "soak::",
            "--nocapture",
        ])
        .env("KELISIM_SOAK_SECONDS", seconds.to_string()))
}
