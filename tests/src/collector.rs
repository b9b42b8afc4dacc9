//! A real collector process in demo mode, on a free loopback port, with a temporary data dir.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{env_path, root};

pub struct Collector {
    child: Child,
    pub url: String,
    data: tempfile::TempDir,
}

impl Collector {
    /// The collector binary `cargo xtask test` built (or the debug build by default).
    pub fn binary() -> PathBuf {
        env_path(
            "KELISIM_TEST_COLLECTOR_BIN",
            "target/debug/kelisim-collector",
        )
    }

    /// Starts `kelisim-collector demo` on port 0 and waits for its `listening on` line.
    pub async fn start_demo() -> Result<Self> {
        let data = tempfile::tempdir()?;
        let widget = env_path("KELISIM_TEST_WIDGET_DIR", "dist");
        if !widget.join("kelisim.js").exists() {
            bail!(
                "no built widget in {}: run `cargo xtask dist` first",
                widget.display()
            );
        }
        let mut child = Command::new(Self::binary())
            .arg("demo")
            .args(["--port", "0", "--data-dir"])
            .arg(data.path())
            .arg("--demo-dir")
            .arg(root().join("demo"))
            .arg("--widget-dir")
            .arg(&widget)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", Self::binary().display()))?;
        let stdout = child.stdout.take().context("collector stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("kelisim: listening on ") {
                    return Ok(url.trim().to_string());
                }
            }
            bail!("collector exited before it listened")
        })
        .await
        .context("collector did not listen within 30 s")??;
        // Keep draining stdout so the collector never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, url, data })
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Stops the collector with SIGTERM (graceful shutdown) and waits for it to exit.
    pub async fn stop(mut self) -> Result<tempfile::TempDir> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .context("collector did not stop within 15 s of SIGTERM")??;
        Ok(self.data)
    }
}
