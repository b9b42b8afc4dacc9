//! `cargo xtask bench-admin [--count N] [--smoke]`: the admin side's benchmark.
//!
//! Builds the collector (release; `--smoke` uses the debug build), generates a store of
//! `--count` signed, chained receipts with the collector's hidden `bench-generate` command
//! (reused on later runs when the count matches; `bench-admin` first migrates a store made
//! by an older collector, as `serve` would), checks it with `audit`, then runs the hidden
//! `bench-admin` command in a fresh process: filtered page queries and subject look-ups
//! (p50/p95), the transparency log's inclusion proofs and their offline verification
//! (p50/p95; a store from before the log first gets its tree, timed), a full CSV export
//! (rows/s) and that process's peak RSS. Prints the JSON report; BENCHMARKS.md ("Admin")
//! records runs.

use anyhow::{Context, Result, ensure};

use crate::install::run;

/// Runs the admin benchmark over `count` receipts.
pub fn bench_admin(count: u64, smoke: bool) -> Result<()> {
    // `bench-generate` and `bench-admin` exist only in a build with the test hooks.
    let bin = crate::soak::testing_collector(!smoke)?;
    let data = crate::dist::target_dir().join(format!("bench-admin/{count}"));
    let db = data.join("kelisim.db");
    if !db.exists() {
        let partial = data.clone();
        if partial.exists() {
            std::fs::remove_dir_all(&partial)
                .with_context(|| format!("removing {}", partial.display()))?;
        }
        eprintln!("xtask: generating {count} receipts into {}", data.display());
        run(std::process::Command::new(&bin)
            .arg("bench-generate")
            .arg("--data-dir")
            .arg(&data)
            .arg("--count")
            .arg(count.to_string()))
        .inspect_err(|_| {
            // A half-filled store must not be reused.
            let _ = std::fs::remove_file(&db);
        })?;
        run(std::process::Command::new(&bin)
            .arg("audit")
            .arg("--data-dir")
            .arg(&data))?;
    }
    let queries = if smoke { "20" } else { "300" };
    let out = std::process::Command::new(&bin)
        .arg("bench-admin")
        .arg("--data-dir")
        .arg(&data)
        .args(["--queries", queries])
        .output()
        .context("running bench-admin")?;
    ensure!(
        out.status.success(),
        "bench-admin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    ensure!(
        report.contains(&format!("\"receipts\": {count}")),
        "the store does not hold {count} receipts; delete {} and run again",
        data.display()
    );
    Ok(())
}
