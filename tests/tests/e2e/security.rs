//! The outside security review's browser finding (issue 13, finding 2): after a guarded GET
//! form, the address the next page's analytics reads kept the widget's own `kelisim_receipt`,
//! so the demo's gtag and Metrika stand-ins received every visitor's receipt reference.

use anyhow::{Result, ensure};
use kelisim_tests::{Browser, Collector, wait};
use std::time::Duration;

use crate::shield::{accept_all, click, js_until, type_into};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_2_a_get_forms_receipt_reference_never_reaches_analytics() -> Result<()> {
    let collector = Collector::start_demo().await?;
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            let driver = &browser.driver;
            driver.goto(format!("{}/track.html", collector.url)).await?;
            browser.widget_state("ready").await?;
            accept_all(browser).await?;
            type_into(
                browser,
                "#track",
                &[("number", "KZ-1313-AST"), ("phone", "+7 701 555 13 13")],
            )
            .await?;
            click(browser, "#track .kelisim-consent__box").await?;
            click(browser, "#track [type=submit]").await?;
            js_until(
                browser,
                "the tracking result",
                "return document.getElementById('track-number') ? true : null",
            )
            .await?;
            browser.widget_state("ready").await?;
            // What the form carried: its receipt, as the collector stored it.
            let reference = wait::until(
                "the tracking form's receipt",
                Duration::from_secs(15),
                || async {
                    Ok(collector
                        .stored_receipts()?
                        .iter()
                        .find(|r| r["kind"] == "form")
                        .and_then(|r| r["ref"].as_str().map(str::to_owned)))
                },
            )
            .await?;
            // Everything the page's analytics saw: gtag's and Metrika's page views (their
            // `page_location`), every call, and the address left in the browser.
            let seen = js_until(
                browser,
                "the result page's analytics",
                "const a = window.demoAnalytics;
                 return a && a.gtag && a.metrika && a.metrika.pages.length
                     ? JSON.stringify(a) : null",
            )
            .await?;
            let seen = seen.as_str().unwrap_or_default().to_owned();
            ensure!(
                seen.contains("page_location"),
                "gtag counted the page: {seen}"
            );
            let url = driver.current_url().await?.to_string();
            eprintln!("finding 2: the address analytics read: {url}");
            for (what, text) in [("analytics", seen.as_str()), ("the address", url.as_str())] {
                ensure!(
                    !text.contains(&reference) && !text.contains("kelisim_receipt"),
                    "{what} received the receipt reference {reference}: {text}"
                );
            }
            // The cookie choice's reference is not a capability: analytics that read the choice
            // cookie (and the public receipt it names) cannot withdraw the choice with it.
            let cookie = browser
                .js("return document.cookie", vec![])
                .await?
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let choice = cookie
                .split("; ")
                .find_map(|c| c.strip_prefix("kelisim_cookies="))
                .and_then(|v| v.split('.').nth(2))
                .unwrap_or_default()
                .to_owned();
            ensure!(choice.len() == 32, "the choice cookie: {cookie}");
            let statuses = browser
                .js(WITHDRAW_WITH_WHAT_IS_PUBLIC, vec![choice.clone().into()])
                .await?;
            let refused = statuses.as_array().is_some_and(|s| {
                s.iter()
                    .all(|s| s.as_u64().is_some_and(|s| (400..500).contains(&s)))
            });
            ensure!(
                refused,
                "withdrawing the cookie's {choice} with what the public sees answered {statuses}"
            );
            Ok(())
        })
        .await
}

/// Withdrawal attempts built from a reference and its public receipt: the statuses.
const WITHDRAW_WITH_WHAT_IS_PUBLIC: &str = "const ref = arguments[0];
    return (async () => {
      const receipt = await fetch('/v1/receipts/' + ref + '?site=demo').then(r => r.json());
      const part = receipt.jws.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const bytes = Uint8Array.from(atob(part), c => c.charCodeAt(0));
      const payload = JSON.parse(new TextDecoder().decode(bytes));
      const known = [ref, (payload.subject || {}).browser_id].filter(Boolean);
      const statuses = [];
      for (const value of known) {
        for (const body of [{browser_id: value}, {secret: value}]) {
          body.key = crypto.randomUUID().replace(/-/g, '');
          const r = await fetch('/v1/receipts/' + ref + '/withdraw?site=demo', {
            method: 'POST', headers: {'content-type': 'application/json'},
            body: JSON.stringify(body)
          });
          statuses.push(r.status);
        }
      }
      return statuses;
    })();";
