//! `cargo xtask fuzz`: builds the libFuzzer targets in `fuzz/` and runs each for a bounded
//! time, starting from the committed seeds and the regression inputs of earlier crashes.
//!
//! This is what `cargo fuzz run` does (same instrumentation flags, `--cfg fuzzing`, an
//! explicit target triple so build scripts and proc macros stay uninstrumented), without
//! needing `cargo install cargo-fuzz` on a fresh machine; `cargo fuzz run TARGET` works too.
//! No AddressSanitizer: the fuzzed code is safe Rust (`unsafe_code = "forbid"`), where a bug
//! shows as a panic, which libFuzzer catches without it; leaving it out halves the build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::install::run;
use crate::root;

/// Every fuzz target (fuzz/fuzz_targets/NAME.rs).
pub const TARGETS: &[&str] = &[
    "receipt_request",
    "site_config",
    "jws_verify",
    "widget_policy",
    "widget_redact",
    "widget_choice",
];

/// Seconds per target in the smoke run of `cargo xtask test`.
pub const SMOKE_SECONDS: u64 = 20;

/// Seconds for `target` in a run of `seconds` per target: in the smoke run the widget's pure
/// targets (microseconds per input, so still some hundred thousand inputs each) get half, which
/// keeps CI within its time budget.
fn seconds_for(target: &str, seconds: u64, build: Build) -> u64 {
    if build == Build::Smoke && target.starts_with("widget_") {
        seconds.div_ceil(2)
    } else {
        seconds
    }
}

/// Same as cargo-fuzz 0.12's defaults, minus `-Zsanitizer=address` (see the module doc).
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg",
    "fuzzing",
    "-Cdebug-assertions",
    "-Coverflow-checks",
];

fn fuzz_dir() -> PathBuf {
    root().join("fuzz")
}

/// Which build of the targets: `Smoke` builds fastest (CI), `Release` fuzzes fastest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    Smoke,
    Release,
}

/// Builds the targets, then runs each of `targets` (all if empty) for `seconds`.
pub fn fuzz(seconds: u64, targets: &[String], build_kind: Build) -> Result<()> {
    for t in targets {
        if !TARGETS.contains(&t.as_str()) {
            bail!("no fuzz target `{t}`; choose from {}", TARGETS.join(", "));
        }
    }
    let chosen: Vec<&str> = if targets.is_empty() {
        TARGETS.to_vec()
    } else {
        targets.iter().map(String::as_str).collect()
    };
    nightly()?;
    let bin_dir = build(build_kind)?;
    let mut report = Vec::new();
    for target in chosen {
        let started = Instant::now();
        let runs = run_target(&bin_dir, target, seconds_for(target, seconds, build_kind))?;
        report.push(format!(
            "xtask: fuzz {target}: {runs} executions in {:.0} s, no crash",
            started.elapsed().as_secs_f64()
        ));
    }
    for line in report {
        eprintln!("{line}");
    }
    Ok(())
}

/// The nightly toolchain libFuzzer's instrumentation needs, installed if missing.
fn nightly() -> Result<()> {
    let out = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .context("rustup is needed to install the nightly toolchain for fuzzing")?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.starts_with("nightly"))
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))
}

fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host triple")
}

/// Builds every target with nightly and coverage instrumentation; returns their directory.
fn build(kind: Build) -> Result<PathBuf> {
    let triple = host_triple()?;
    let profile = match kind {
        Build::Smoke => "smoke",
        Build::Release => "release",
    };
    // Its own target directory: instrumented artifacts must not evict the stable ones.
    let target_dir = fuzz_dir().join("target");
    let mut cmd = Command::new("cargo");
    cmd.current_dir(fuzz_dir())
        .args([
            "+nightly",
            "build",
            "--profile",
            profile,
            "--bins",
            "--target",
            &triple,
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        // Set by the outer `cargo xtask`; it would pin the stable toolchain.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER");
    run(&mut cmd).context("building the fuzz targets with nightly")?;
    Ok(target_dir.join(triple).join(profile))
}

/// Runs one target for `seconds`; returns libFuzzer's execution count.
fn run_target(bin_dir: &Path, target: &str, seconds: u64) -> Result<u64> {
    let dir = fuzz_dir();
    // New inputs go to the first directory (git-ignored); seeds and regressions are read only.
    let corpus = dir.join("corpus").join(target);
    let artifacts = dir.join("artifacts").join(target);
    let seeds = dir.join("seeds").join(target);
    let regressions = dir.join("regressions").join(target);
    for d in [&corpus, &artifacts, &seeds, &regressions] {
        std::fs::create_dir_all(d)?;
    }
    let mut cmd = Command::new(bin_dir.join(target));
    cmd.arg(&corpus)
        .arg(&seeds)
        .arg(&regressions)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"])
        .current_dir(&dir);
    eprintln!("xtask: fuzzing {target} for {seconds} s");
    let out = cmd
        .output()
        .with_context(|| format!("cannot run fuzz target {target}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "fuzz target {target} found a crash ({}):\n{}\n\nthe input is in {}; copy it to {} \
             as a regression input and fix the bug",
            out.status,
            tail.join("\n"),
            artifacts.display(),
            regressions.display()
        );
    }
    let runs = log
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Ok(runs)
}
