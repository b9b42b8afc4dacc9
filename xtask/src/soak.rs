//! `cargo xtask soak`: the collector's soak test (collector/tests/api/soak.rs) for a chosen
//! duration, alone on the machine so its latency numbers mean something.

use std::path::PathBuf;

use anyhow::Result;

use crate::dist;
use crate::install::{cargo, run};

/// The debug collector binary `cargo build -p kelisim-collector` writes.
pub fn collector_bin() -> PathBuf {
    dist::target_dir().join("debug/kelisim-collector")
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
