//! The demo site demonstrates an accessible widget, so the site around it must pass the same
//! check: every demo page, in every language, as a first-time visitor sees it (banner open)
//! and after the banner is answered, with no serious or critical axe-core violation anywhere
//! on the page — not just inside the widget's own elements.

use anyhow::{Result, ensure};
use kelisim_tests::{Browser, Collector, axe};
use thirtyfour::prelude::*;

/// Every page of the demo, relative to its root: the same three pages in ru, kk and en.
const PAGES: &[&str] = &[
    "/",
    "/contact.html",
    "/track.html",
    "/kk/",
    "/kk/contact.html",
    "/kk/track.html",
    "/en/",
    "/en/contact.html",
    "/en/track.html",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_page_passes_axe_with_the_banner_open_and_answered() -> Result<()> {
    let collector = Collector::start_demo().await?;
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            let driver = &browser.driver;
            let mut failures = Vec::new();
            for page in PAGES {
                // A first visit each time: the banner is part of what the visitor sees.
                driver.delete_all_cookies().await?;
                driver.goto(format!("{}{page}", collector.url)).await?;
                driver.execute("localStorage.clear()", vec![]).await?;
                driver.refresh().await?;
                browser.widget_state("ready").await?;
                let found = axe::serious_violations(driver, "body").await?;
                if !found.is_empty() {
                    failures.push(format!("{page} (banner open): {found:#?}"));
                }
                driver
                    .find(By::Css(".kelisim-banner [data-kelisim-action='reject']"))
                    .await?
                    .click()
                    .await?;
                let found = axe::serious_violations(driver, "body").await?;
                if !found.is_empty() {
                    failures.push(format!("{page} (banner answered): {found:#?}"));
                }
            }
            ensure!(failures.is_empty(), "axe on the demo: {failures:#?}");
            Ok(())
        })
        .await
}
