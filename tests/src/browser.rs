//! Debian's Chromium, headless, driven through chromedriver with a fresh profile.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use thirtyfour::{ChromiumLikeCapabilities, DesiredCapabilities, WebDriver};
use tokio::process::{Child, Command};

use crate::env_path;

/// Flags for every test browser: no network beyond loopback, no first-run UI.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,800",
];

pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Result<Self> {
        let port = free_port()?;
        let chromedriver = Command::new(env_path(
            "KELISIM_TEST_CHROMEDRIVER",
            "/usr/bin/chromedriver",
        ))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start chromedriver (cargo xtask test installs chromium-driver)")?;
        let profile = tempfile::tempdir()?;
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&env_path("KELISIM_TEST_CHROMIUM", "/usr/bin/chromium").to_string_lossy())?;
        for flag in FLAGS {
            caps.add_arg(flag)?;
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let driver = crate::wait::until("chromedriver", Duration::from_secs(20), || {
            let (url, caps) = (url.clone(), caps.clone());
            async move { Ok(WebDriver::new(&url, caps).await.ok()) }
        })
        .await?;
        Ok(Self {
            driver,
            chromedriver,
            _profile: profile,
        })
    }

    /// Ends the session and the driver (Chromium's children go with it).
    pub async fn quit(mut self) -> Result<()> {
        self.driver.clone().quit().await?;
        let _ = self.chromedriver.kill().await;
        Ok(())
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
