//! `cargo xtask bench-admin [--count N] [--smoke]`: the admin side's benchmark.
//!
//! Builds the collector (release; `--smoke` uses the debug build), generates a store of
//! `--count` signed, chained receipts with the collector's hidden `bench-generate` command
//! (reused on later runs when the count matches; `bench-admin` first migrates a store made
//! by an older collector, as `serve` would), then runs the hidden `bench-admin` command in a
//! fresh process: filtered page queries and subject look-ups (p50/p95), the transparency
//! log's inclusion proofs and their offline verification (p50/p95; a store from before the
//! log first gets its tree, timed), a full CSV export (rows/s) and that process's peak RSS.
//! Prints the JSON report, then times `audit` of the store (receipts/s). BENCHMARKS.md
//! ("Admin") records runs.

use anyhow::{Context, Result, ensure};

use crate::install::run;

/// Runs the admin benchmark over `count` receipts; with `postgres`, over a store of its own
/// in a PostgreSQL cluster started for the run (generated anew each time).
pub fn bench_admin(count: u64, smoke: bool, postgres: bool) -> Result<()> {
    // `bench-generate` and `bench-admin` exist only in a build with the test hooks.
    let bin = crate::soak::testing_collector(!smoke)?;
    if postgres {
        crate::install::postgresql()?;
    }
    let cluster = postgres.then(kelisim_testpg::Cluster::start);
    let store: Vec<String> = match &cluster {
        Some(cluster) => vec!["--store".into(), cluster.create_database()],
        None => Vec::new(),
    };
    let data = crate::target_dir().join(if postgres {
        format!("bench-admin/{count}-postgres")
    } else {
        format!("bench-admin/{count}")
    });
    let db = data.join("kelisim.db");
    if postgres && data.exists() {
        std::fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
    }
    if postgres || !db.exists() {
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
            .arg(count.to_string())
            .args(&store))
        .inspect_err(|_| {
            // A half-filled store must not be reused.
            let _ = std::fs::remove_file(&db);
        })?;
    }
    let queries = if smoke { "20" } else { "300" };
    let out = std::process::Command::new(&bin)
        .arg("bench-admin")
        .arg("--data-dir")
        .arg(&data)
        .args(["--queries", queries])
        .args(&store)
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
    // Then `audit`, timed (after `bench-admin`, which migrates an older store): every
    // signature re-verified, the tree rebuilt (issue 15: at least 50,000 receipts/s on 2 cores).
    let started = std::time::Instant::now();
    run(std::process::Command::new(&bin)
        .arg("audit")
        .arg("--data-dir")
        .arg(&data)
        .args(&store))?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "xtask: audit of {count} receipts took {seconds:.1} s: {:.0} receipts/s",
        count as f64 / seconds
    );
    Ok(())
}
