//! Issue 18, integration health: a real widget on a misordered page (Yandex.Metrika's snippet
//! above kelisim.js, a personal-data form left out by `data-kelisim-ignore`, a gated script
//! whose file is missing, an inline gated script the page's CSP refuses) warns in the console,
//! reports each finding to the collector without anything the visitor typed, and the site's
//! admin sees them in the "Site health" panel with the fix in plain words, axe clean.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use kelisim_tests::site::write_config;
use kelisim_tests::{Apart, Browser, axe, wait};
use serde_json::Value;
use thirtyfour::prelude::*;

use crate::shield::accept_all;

const NAME: &str = "Жанар Сейткали";
const PHONE: &str = "+7 705 918 27 36";

/// The findings the page must produce, as (code, detail).
const FINDINGS: [(&str, &str); 4] = [
    ("analytics_before_widget", "yandex_metrika"),
    ("unguarded_form", "ignored"),
    ("gated_script_failed", "analytics"),
    ("csp_blocked_gated", "marketing"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misordered_page_is_reported_with_its_fixes_and_nothing_typed() -> Result<()> {
    let apart = Apart::start().await?;
    let collector = apart.collector()?;
    let browser = Browser::start_recording_network().await?;
    browser
        .on_every_page(
            "window.__warned = []; const warn = console.warn; \
             console.warn = function () { window.__warned.push([].join.call(arguments, ' ')); \
             return warn.apply(console, arguments); };",
        )
        .await?;
    browser
        .run(async |browser| {
            let driver = &browser.driver;
            let page = format!("{}/nonce/health.html", apart.site.url);
            driver.goto(&page).await?;
            browser.widget_state("ready").await?;
            driver.find(By::Id("name")).await?.send_keys(NAME).await?;
            driver.find(By::Id("phone")).await?.send_keys(PHONE).await?;
            // Accept all: the gated scripts run, one missing, one refused by the CSP.
            accept_all(browser).await?;

            // The console names each problem once.
            let warned = wait::until("four console warnings", Duration::from_secs(10), || async {
                let w: Vec<String> =
                    serde_json::from_value(browser.js("return window.__warned", vec![]).await?)?;
                Ok((w.iter().filter(|m| m.starts_with("kelisim: ")).count() >= 4).then_some(w))
            })
            .await;
            let warned = match warned {
                Ok(w) => w,
                Err(e) => {
                    let w = browser.js("return window.__warned", vec![]).await?;
                    return Err(e.context(format!("the console said {w}")));
                }
            };
            let said = warned.join("\n");
            for expected in [
                "Yandex.Metrika ran before kelisim.js",
                "unguarded by data-kelisim-ignore",
                "a gated analytics script failed to load",
                "the CSP blocked a gated marketing script",
            ] {
                ensure!(said.contains(expected), "console: {said}");
            }

            // The reports reach the collector (a few seconds after each first finding).
            let config = tempfile::tempdir()?;
            let config = write_config(config.path(), &apart.site.url, kelisim_tests::site::POLICY)?;
            let token = collector.token(&config, "demo", "read")?;
            let http = reqwest::Client::new();
            let health = wait::until("the four findings", Duration::from_secs(20), || async {
                let h: Value = http
                    .get(format!(
                        "{}/v1/admin/sites/demo/health?lang=en",
                        collector.url
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await?
                    .json()
                    .await?;
                let items = h["items"].as_array().cloned().unwrap_or_default();
                Ok((items.len() >= FINDINGS.len()).then_some(items))
            })
            .await?;
            for (code, detail) in FINDINGS {
                let item = health
                    .iter()
                    .find(|i| i["code"] == code && i["detail"] == detail)
                    .with_context(|| format!("{code} {detail} in {health:?}"))?;
                ensure!(item["path"] == "/nonce/health.html", "{item}");
            }

            // What the page sent is value-free: only the closed fields, nothing typed.
            let sent: Vec<String> = browser
                .network_events()
                .await?
                .iter()
                .filter(|e| e["method"] == "Network.requestWillBeSent")
                .map(|e| &e["params"]["request"])
                .filter(|r| {
                    r["url"]
                        .as_str()
                        .is_some_and(|u| u.ends_with("/diagnostics"))
                })
                .filter(|r| r["method"] == "POST")
                .map(|r| r["postData"].as_str().unwrap_or_default().to_owned())
                .collect();
            ensure!(!sent.is_empty(), "no diagnostics request seen");
            for body in &sent {
                let events: Value = serde_json::from_str(body)?;
                for e in events["events"].as_array().context("events")? {
                    let mut keys: Vec<&str> = e
                        .as_object()
                        .context("event")?
                        .keys()
                        .map(String::as_str)
                        .collect();
                    keys.sort_unstable();
                    ensure!(keys == ["code", "count", "detail", "path"], "{e}");
                }
                for typed in [NAME, PHONE, "7059182736", "Жанар"] {
                    ensure!(!body.contains(typed), "a report carries {typed:?}: {body}");
                }
            }
            for file in kelisim_tests::files_under(collector.data_dir())? {
                let bytes = std::fs::read(&file)?;
                for typed in [NAME, PHONE, "7059182736", "Жанар"] {
                    ensure!(
                        !bytes.windows(typed.len()).any(|w| w == typed.as_bytes()),
                        "{} holds {typed:?}",
                        file.display()
                    );
                }
            }

            // The admin's panel: every finding with its fix, naming the page; axe clean.
            driver
                .goto(format!("{}/admin?lang=en", collector.url))
                .await?;
            driver.find(By::Id("site")).await?.send_keys("demo").await?;
            driver
                .find(By::Id("token"))
                .await?
                .send_keys(&token)
                .await?;
            driver
                .find(By::Css("#signin-form button[type=submit]"))
                .await?
                .click()
                .await?;
            let rows = wait::until("the site health panel", Duration::from_secs(10), || async {
                let rows = driver.find_all(By::Css("#health-table tbody tr")).await?;
                Ok((rows.len() >= FINDINGS.len()).then_some(rows))
            })
            .await?;
            let mut texts = Vec::new();
            for row in &rows {
                texts.push(row.text().await?);
            }
            let all = texts.join("\n");
            ensure!(
                all.contains("Move the kelisim.js tag above the Yandex.Metrika snippet")
                    && all.contains("remove the attribute")
                    && all.contains("/nonce/health.html"),
                "panel: {all}"
            );
            let summary = driver.find(By::Id("health-summary")).await?.text().await?;
            ensure!(summary.starts_with("Found: 4"), "summary: {summary}");
            let found = axe::serious_violations(driver, "#health").await?;
            ensure!(found.is_empty(), "axe on the site health panel: {found:#?}");
            Ok(())
        })
        .await
}
