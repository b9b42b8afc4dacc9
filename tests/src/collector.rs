//! A real collector process on a loopback port with a temporary data dir: in demo mode (it
//! serves the demo site too), or in serve mode with a config of the test's own, and restartable
//! on the same port and data dir (an outage the widget must ride out). What tests ask it over
//! HTTP, receipts verified with [`crate::jose`] above all, is asked here.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{env_path, jose, root, wait};

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

    /// The built widget `cargo xtask dist` wrote.
    pub fn widget_dir() -> Result<PathBuf> {
        let widget = env_path("KELISIM_TEST_WIDGET_DIR", "dist");
        if !widget.join("kelisim.js").exists() {
            bail!(
                "no built widget in {}: run `cargo xtask dist` first",
                widget.display()
            );
        }
        Ok(widget)
    }

    /// Starts `kelisim-collector demo` on port 0 and waits for its `listening on` line.
    pub async fn start_demo() -> Result<Self> {
        let data = Self::data_dir_for_a_test()?;
        let mut cmd = Command::new(Self::binary());
        cmd.arg("demo")
            .args(["--port", "0", "--data-dir"])
            .arg(data.path())
            .arg("--demo-dir")
            .arg(root().join("demo"))
            .arg("--widget-dir")
            .arg(Self::widget_dir()?);
        Self::launch(cmd, data).await
    }

    /// A fresh data directory, owner-only as the collector wants it (a temporary directory is
    /// created with the umask's mode, and the collector would warn about it).
    pub fn data_dir_for_a_test() -> Result<tempfile::TempDir> {
        Ok(tempfile::Builder::new()
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()?)
    }

    /// Starts `kelisim-collector serve --config CONFIG` on `127.0.0.1:PORT` (0: any free port)
    /// with the data dir `data` (a fresh one, or the one a stopped collector returned).
    pub async fn serve(config: &Path, data: tempfile::TempDir, port: u16) -> Result<Self> {
        let mut cmd = Command::new(Self::binary());
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data.path())
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--widget-dir")
            .arg(Self::widget_dir()?);
        Self::launch(cmd, data).await
    }

    /// Starts `serve` on `127.0.0.1:PORT` as an installed collector runs: no `--widget-dir`,
    /// so it serves the widget built into the binary (`cargo xtask test` builds it with one).
    pub async fn serve_built_in(config: &Path, data: tempfile::TempDir, port: u16) -> Result<Self> {
        let mut cmd = Command::new(Self::binary());
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data.path())
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("KELISIM_WIDGET_DIR");
        Self::launch(cmd, data).await
    }

    async fn launch(mut cmd: Command, data: tempfile::TempDir) -> Result<Self> {
        let mut child = cmd
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

    /// A new admin token for `site` with `scope` (`read` or `admin`), made as an operator makes
    /// one: the collector's own `tokens create` on its data directory, with `config`.
    pub fn token(&self, config: &Path, site: &str, scope: &str) -> Result<String> {
        let out = std::process::Command::new(Self::binary())
            .args([
                "tokens", "create", "--site", site, "--scope", scope, "--config",
            ])
            .arg(config)
            .arg("--data-dir")
            .arg(self.data_dir())
            .output()?;
        if !out.status.success() {
            bail!(
                "tokens create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    /// The port it listens on.
    pub fn port(&self) -> Result<u16> {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("no port in {}", self.url))
    }

    /// Every stored receipt, as `kelisim-collector receipts list --json` prints them.
    pub fn stored_receipts(&self) -> Result<Vec<Value>> {
        let out = std::process::Command::new(Self::binary())
            .args(["receipts", "list", "--json", "--data-dir"])
            .arg(self.data_dir())
            .output()?;
        if !out.status.success() {
            bail!(
                "receipts list failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let rows: Value = serde_json::from_slice(&out.stdout).context("receipts list --json")?;
        Ok(rows.as_array().cloned().unwrap_or_default())
    }

    /// The receipt `reference` as `GET /v1/receipts/{reference}` answers it in JSON, or `None`
    /// while the collector has not stored it.
    pub async fn receipt(&self, reference: &str) -> Result<Option<Value>> {
        let resp = reqwest::Client::new()
            .get(format!("{}/v1/receipts/{reference}", self.url))
            .header("accept", "application/json")
            .send()
            .await?;
        Ok(if resp.status().is_success() {
            Some(resp.json().await?)
        } else {
            None
        })
    }

    /// The receipt `reference` once the collector has stored it: the widget sends it with fetch
    /// keepalive while the page navigates, so this waits (15 s at most).
    pub async fn stored_receipt(&self, reference: &str) -> Result<Value> {
        wait::until("the receipt to be stored", Duration::from_secs(15), || {
            self.receipt(reference)
        })
        .await
    }

    /// The keys receipts are signed with, `GET /.well-known/jwks.json`.
    pub async fn jwks(&self) -> Result<JwkSet> {
        Ok(reqwest::get(format!("{}/.well-known/jwks.json", self.url))
            .await?
            .json()
            .await?)
    }

    /// The payload of the receipt `reference`, once stored, its JWS verified against the JWKS
    /// with an independent JOSE library ([`jose::verify`]).
    pub async fn verified_receipt(&self, reference: &str) -> Result<Value> {
        let stored = self.stored_receipt(reference).await?;
        let jws = stored["jws"].as_str().context("stored receipt has a jws")?;
        jose::verify(jws, &self.jwks().await?)
    }

    /// The config the widget fetches for `site`, `GET /v1/sites/{site}/config`.
    pub async fn site_config(&self, site: &str) -> Result<Value> {
        Ok(reqwest::get(format!("{}/v1/sites/{site}/config", self.url))
            .await?
            .json()
            .await?)
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

/// Every file under `dir` (a data directory: database, WAL, keys), for tests that look for
/// what must never be stored.
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(files_under(&path)?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}
