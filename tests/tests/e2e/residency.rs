//! Consent data goes to the operator's own collector and nowhere else (docs/compliance.md
//! L17, P20: the data stays where the operator keeps it). The site's pages under `/sealed/`
//! may connect to the collector alone (`connect-src`, besides fetching the self-hosted
//! widget's own files), so any request of the widget to another origin would be refused and
//! reported: a visitor answers the banner, sends the form with its box ticked, and rejects
//! everything on the next page; the page reports no violation, and the collector holds the
//! form's receipt and both cookie choices.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use kelisim_tests::{Apart, Browser, wait};
use serde_json::json;
use thirtyfour::prelude::*;

use crate::shield::click;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_sends_consent_data_to_the_collector_alone() -> Result<()> {
    let apart = Apart::start().await?;
    let collector = apart.collector()?;
    let browser = Browser::start().await?;
    browser.watch_csp().await?;
    browser
        .run(async |browser| {
            let driver = &browser.driver;
            driver
                .goto(format!("{}/sealed/contact.html", apart.site.url))
                .await?;
            browser.widget_state("ready").await?;
            click(
                browser,
                "section.kelisim-banner [data-kelisim-action=accept]",
            )
            .await?;
            for (id, text) in [
                ("f-name", "Ерлан Садыков"),
                ("f-phone", "+7 702 333 44 55"),
                ("f-message", "Нужен расчёт доставки"),
            ] {
                driver.find(By::Id(id)).await?.send_keys(text).await?;
            }
            click(browser, "#feedback .kelisim-consent__box").await?;
            let first = browser.csp_violations().await?;
            click(browser, "#feedback [type=submit]").await?;
            apart.site.submission(1).await?;

            driver
                .goto(format!("{}/sealed/cookies.html", apart.site.url))
                .await?;
            browser.widget_state("ready").await?;
            click(browser, "[data-kelisim-open]").await?;
            click(browser, "dialog [data-kelisim-action=reject]").await?;
            let stored = wait::until("three receipts", Duration::from_secs(15), || async {
                let r = collector.stored_receipts()?;
                Ok((r.len() >= 3).then_some(r))
            })
            .await?;
            let second = browser.csp_violations().await?;
            ensure!(
                first == json!([]) && second == json!([]),
                "the widget reached for another origin: {first} {second}"
            );
            let kinds: Vec<(String, String)> = stored
                .iter()
                .map(|r| {
                    Ok((
                        r["kind"].as_str().context("kind")?.to_owned(),
                        r["event"].as_str().context("event")?.to_owned(),
                    ))
                })
                .collect::<Result<_>>()?;
            for expected in [("cookies", "given"), ("form", "given")] {
                ensure!(
                    kinds.contains(&(expected.0.into(), expected.1.into())),
                    "{expected:?} in {kinds:?}"
                );
            }
            ensure!(
                kinds.iter().filter(|k| k.0 == "cookies").count() == 2,
                "both cookie choices: {kinds:?}"
            );
            Ok(())
        })
        .await
}
