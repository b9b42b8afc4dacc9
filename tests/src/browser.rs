//! Debian's Chromium, headless, driven through chromedriver with a fresh profile.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use thirtyfour::extensions::cdp::ChromeDevTools;
use thirtyfour::{CapabilitiesHelper, ChromiumLikeCapabilities, DesiredCapabilities, WebDriver};
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
    /// chromedriver's address, for the commands thirtyfour does not wrap.
    webdriver_url: String,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Result<Self> {
        Self::start_with(&[]).await
    }

    /// A browser with `extra` flags besides the usual ones (e.g. trusting one test
    /// certificate's key with `--ignore-certificate-errors-spki-list`).
    pub async fn start_with(extra: &[String]) -> Result<Self> {
        Self::launch(extra, false).await
    }

    /// A browser that records the DevTools protocol's network events (chromedriver's
    /// performance log), read with [`Browser::network_events`].
    pub async fn start_recording_network() -> Result<Self> {
        Self::launch(&[], true).await
    }

    async fn launch(extra: &[String], network: bool) -> Result<Self> {
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
        for flag in FLAGS
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
        {
            caps.add_arg(flag)?;
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))?;
        if network {
            caps.insert_base_capability(
                "goog:loggingPrefs".to_owned(),
                json!({ "performance": "ALL" }),
            );
        }
        let url = format!("http://127.0.0.1:{port}");
        let driver = crate::wait::until("chromedriver", Duration::from_secs(20), || {
            let (url, caps) = (url.clone(), caps.clone());
            async move { Ok(WebDriver::new(&url, caps).await.ok()) }
        })
        .await?;
        Ok(Self {
            driver,
            webdriver_url: url,
            chromedriver,
            _profile: profile,
        })
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        Ok(self.driver.execute(script, args).await?.json().clone())
    }

    /// Waits (bounded) until `<html data-kelisim>` is `state` (`ready`, `fallback`, …).
    pub async fn widget_state(&self, state: &str) -> Result<()> {
        crate::wait::until(
            &format!("the widget to be {state}"),
            Duration::from_secs(20),
            || async {
                let now = self
                    .js(
                        "return document.documentElement.dataset.kelisim || null",
                        vec![],
                    )
                    .await?;
                Ok((now == state).then_some(()))
            },
        )
        .await
    }

    /// Makes every request whose URL matches one of `patterns` (`*` wildcards) fail, as a
    /// blocker or a network policy would (Chrome DevTools `Network.setBlockedURLs`).
    pub async fn block_urls(&self, patterns: &[&str]) -> Result<()> {
        let cdp = ChromeDevTools::new(self.driver.handle.clone());
        cdp.execute_cdp("Network.enable").await?;
        cdp.execute_cdp_with_params("Network.setBlockedURLs", json!({ "urls": patterns }))
            .await?;
        Ok(())
    }

    /// Lays pages out as a phone `width` CSS pixels wide would (DevTools device emulation:
    /// a desktop window cannot be made that narrow).
    pub async fn emulate_width(&self, width: u32) -> Result<()> {
        self.emulate(width, 720, true).await
    }

    /// Lays pages out in a `width`×`height` CSS-pixel viewport, as a phone (`mobile`) or a
    /// desktop window.
    pub async fn emulate(&self, width: u32, height: u32, mobile: bool) -> Result<()> {
        let cdp = ChromeDevTools::new(self.driver.handle.clone());
        cdp.execute_cdp_with_params(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await?;
        Ok(())
    }

    /// From the next page on, runs `source` in every page before any of its own scripts.
    pub async fn on_every_page(&self, source: &str) -> Result<()> {
        let cdp = ChromeDevTools::new(self.driver.handle.clone());
        cdp.execute_cdp_with_params(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .await?;
        Ok(())
    }

    /// From the next page on, the browser sends Global Privacy Control
    /// (`navigator.globalPrivacyControl`, which Chromium does not implement itself).
    pub async fn send_gpc(&self) -> Result<()> {
        self.on_every_page(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', \
             { get: () => true, configurable: true });",
        )
        .await
    }

    /// From the next page on, records every Content-Security-Policy violation a page reports
    /// (before any of its own scripts run); read them with [`Browser::csp_violations`].
    pub async fn watch_csp(&self) -> Result<()> {
        self.on_every_page(
            "window.__csp = []; addEventListener('securitypolicyviolation', \
             e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI), true);",
        )
        .await
    }

    /// The violations the current page reported since it loaded (see [`Browser::watch_csp`]).
    pub async fn csp_violations(&self) -> Result<Value> {
        self.js("return window.__csp || ['not watched']", vec![])
            .await
    }

    /// The DevTools protocol events (`{method, params}`) recorded since the last call, for a
    /// browser started with [`Browser::start_recording_network`] (chromedriver's performance
    /// log, which thirtyfour does not wrap).
    pub async fn network_events(&self) -> Result<Vec<Value>> {
        let url = format!(
            "{}/session/{}/se/log",
            self.webdriver_url,
            self.driver.handle.session_id()
        );
        let answer: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({ "type": "performance" }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let entries = answer["value"]
            .as_array()
            .context("chromedriver's log is not an array")?;
        entries
            .iter()
            .map(|entry| {
                let text = entry["message"]
                    .as_str()
                    .context("a log entry without message")?;
                let message: Value = serde_json::from_str(text)?;
                Ok(message["message"].clone())
            })
            .collect()
    }

    /// Runs `test` with this browser, then quits it whatever the outcome, and returns the
    /// test's result: no test leaves a Chromium behind.
    pub async fn run(self, test: impl AsyncFnOnce(&Browser) -> Result<()>) -> Result<()> {
        let result = test(&self).await;
        self.quit().await?;
        result
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
