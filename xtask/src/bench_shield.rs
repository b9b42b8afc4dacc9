//! `cargo xtask bench-shield [--rounds N]`: the analytics shield's benchmark (issue 6).
//!
//! Builds the widget (`dist/`) and the collector, then runs the end-to-end test
//! `shield_speed` with `KELISIM_BENCH_SHIELD=N`: in headless Chromium, on a page with the
//! widget, calls per second of the wrapped `dataLayer.push` against an unwrapped push, both in
//! the same run (N rounds of 500 ms per side, alternating which goes first), with Tag Manager
//! payloads of which half carry a typed value to redact. It prints the medians, their ratio
//! and the extra µs per call; BENCHMARKS.md records them.

use anyhow::{Result, ensure};

use crate::dist;
use crate::install::{self, CHROMEDRIVER, CHROMIUM, cargo, run};

/// Rounds `cargo xtask bench-shield` measures by default.
pub const ROUNDS: u32 = 10;

pub fn bench_shield(rounds: u32) -> Result<()> {
    ensure!(
        rounds > 0,
        "--rounds 0 measures nothing: give at least 1 (default {ROUNDS})"
    );
    install::chromium()?;
    dist::dist()?;
    run(cargo().args(["build", "--package", "kelisim-collector"]))?;
    run(cargo()
        .args([
            "test",
            "--package",
            "kelisim-tests",
            "--test",
            "e2e",
            "shield_speed",
            "--",
            "--nocapture",
        ])
        .env("KELISIM_BENCH_SHIELD", rounds.to_string())
        .env(
            "KELISIM_TEST_COLLECTOR_BIN",
            crate::target_dir().join("debug/kelisim-collector"),
        )
        .env("KELISIM_TEST_WIDGET_DIR", crate::dist_dir())
        .env("KELISIM_TEST_CHROMIUM", CHROMIUM)
        .env("KELISIM_TEST_CHROMEDRIVER", CHROMEDRIVER))
}
