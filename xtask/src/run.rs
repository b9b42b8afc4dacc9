//! `cargo xtask demo`: build everything, then run the collector serving the demo site.

use std::path::Path;

use anyhow::Result;

use crate::install::{cargo, run};
use crate::{dist, root};

pub fn demo(port: u16, data_dir: &Path) -> Result<()> {
    dist::dist()?;
    run(cargo().args(["build", "--release", "--package", "kelisim-collector"]))?;
    let data_dir = root().join(data_dir);
    // The collector prints the URL and the data directory once it listens.
    run(
        std::process::Command::new(crate::target_dir().join("release/kelisim-collector"))
            .current_dir(root())
            .arg("demo")
            .arg("--port")
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--demo-dir")
            .arg(root().join("demo"))
            .arg("--widget-dir")
            .arg(crate::dist_dir()),
    )
}
