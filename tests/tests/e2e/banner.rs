//! Issue 5, the cookie banner: gated scripts and iframes neither run nor load before their
//! category is granted (also after "Reject all", also when added later) and then run in
//! document order; inline gated scripts run only where the site's CSP allows them; Google
//! Consent Mode's default comes before any tag and its update follows the choice; Global
//! Privacy Control keeps marketing off; accept and reject are the same size and visible at a
//! desktop and a phone size; the banner and the settings pass axe and work by keyboard; every
//! choice becomes a signed cookie receipt.
//!
//! Tests on the demo run against `kelisim-collector demo`; tests that need pages of their own
//! (gated fixtures, another CSP) use the harness's [`Site`] with the collector apart.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use kelisim_tests::{Apart, Browser, Collector, axe, wait};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

/// What the gated fixture scripts recorded, in the order they ran.
async fn ran(browser: &Browser) -> Result<Value> {
    browser.js("return window.ran || []", vec![]).await
}

/// Waits (bounded) until the gated scripts recorded exactly `expected`.
async fn ran_becomes(browser: &Browser, expected: Value) -> Result<()> {
    wait::until(
        &format!("the gated scripts {expected}"),
        Duration::from_secs(10),
        || async { Ok((ran(browser).await? == expected).then_some(())) },
    )
    .await
}

/// Waits (bounded) until the first layer is shown and returns its accept button.
async fn banner(browser: &Browser) -> Result<WebElement> {
    let accept = "section.kelisim-banner [data-kelisim-action=accept]";
    wait::until("the cookie banner", Duration::from_secs(10), || async {
        let found = browser.driver.find_all(By::Css(accept)).await?;
        Ok(match found.into_iter().next() {
            Some(b) if b.is_displayed().await? => Some(b),
            _ => None,
        })
    })
    .await
}

async fn click(browser: &Browser, selector: &str) -> Result<()> {
    browser
        .driver
        .find(By::Css(selector))
        .await
        .with_context(|| format!("no {selector}"))?
        .click()
        .await?;
    Ok(())
}

/// Opens the settings with the page's own `data-kelisim-open` control.
async fn open_settings(browser: &Browser, opener: &str) -> Result<()> {
    click(browser, opener).await?;
    wait::until("the settings dialog", Duration::from_secs(5), || async {
        let open = browser
            .js(
                "const d = document.querySelector('dialog.kelisim-prefs'); return !!d && d.open",
                vec![],
            )
            .await?;
        Ok((open == json!(true)).then_some(()))
    })
    .await
}

/// Adds a gated script the way a site's later code would.
async fn add_gated(browser: &Browser, category: &str, name: &str) -> Result<()> {
    browser
        .js(
            "const [category, name] = arguments;
             const s = document.createElement('script');
             s.type = 'text/plain';
             s.dataset.kelisimCategory = category;
             s.src = '/gated/' + name + '.js';
             document.body.append(s);",
            vec![json!(category), json!(name)],
        )
        .await?;
    Ok(())
}

/// The cookie receipts the collector stored, oldest first, as (event, reference).
async fn cookie_receipts(collector: &Collector, count: usize) -> Result<Vec<(String, String)>> {
    wait::until(
        &format!("{count} cookie receipts"),
        Duration::from_secs(15),
        || async {
            let mut found: Vec<(i64, String, String)> = collector
                .stored_receipts()?
                .iter()
                .filter(|r| r["kind"] == "cookies")
                .map(|r| {
                    (
                        r["seq"].as_i64().unwrap_or_default(),
                        r["event"].as_str().unwrap_or_default().to_owned(),
                        r["ref"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            found.sort();
            Ok((found.len() >= count).then(|| found.into_iter().map(|(_, e, r)| (e, r)).collect()))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gated_scripts_and_frames_wait_for_their_category_and_run_in_document_order() -> Result<()>
{
    let apart = Apart::start().await?;
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            let site = &apart.site;
            let page = format!("{}/cookies.html", site.url);
            browser.driver.goto(&page).await?;
            browser.widget_state("ready").await?;
            banner(browser).await?;
            // Before any choice: only the required category; nothing else was even fetched.
            ran_becomes(browser, json!(["necessary"])).await?;
            add_gated(browser, "analytics", "late-analytics").await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(ran(browser).await?, json!(["necessary"]));
            let never = [
                "/gated/slow-first",
                "/gated/second",
                "/gated/ads",
                "/gated/both",
                "/gated/late-analytics",
                "/embed/frame.html",
            ];
            for path in never {
                ensure!(
                    !site.was_requested(path),
                    "{path} was fetched before consent"
                );
            }
            let frame = browser
                .js(
                    "const f = document.querySelector('iframe');
                 return [f.hasAttribute('src'), f.dataset.src];",
                    vec![],
                )
                .await?;
            assert_eq!(frame, json!([false, "/embed/frame.html"]));

            // Reject all: still nothing, also after a reload; the refusal is a signed receipt.
            click(
                browser,
                "section.kelisim-banner [data-kelisim-action=reject]",
            )
            .await?;
            let receipts = cookie_receipts(apart.collector()?, 1).await?;
            assert_eq!(receipts[0].0, "refused");
            browser.driver.goto(&page).await?;
            browser.widget_state("ready").await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(ran(browser).await?, json!(["necessary"]));
            ensure!(
                browser
                    .driver
                    .find_all(By::Css(".kelisim-banner"))
                    .await?
                    .is_empty(),
                "the choice is remembered"
            );
            for path in never {
                ensure!(
                    !site.was_requested(path),
                    "{path} was fetched after Reject all"
                );
            }

            // Analytics granted in the settings: its scripts run, the slow one before the next.
            open_settings(browser, "main [data-kelisim-open]").await?;
            click(browser, "#kelisim-cat-analytics").await?;
            click(browser, "dialog [data-kelisim-action=save]").await?;
            ran_becomes(browser, json!(["necessary", "slow-first", "second"])).await?;
            add_gated(browser, "analytics", "late-analytics").await?;
            add_gated(browser, "marketing", "late-marketing").await?;
            ran_becomes(
                browser,
                json!(["necessary", "slow-first", "second", "late-analytics"]),
            )
            .await?;
            ensure!(!site.was_requested("/gated/ads") && !site.was_requested("/embed/"));

            // Everything: marketing's scripts and frame, the late one too; never an element that
            // names no category or one the site does not have.
            open_settings(browser, ".kelisim-open").await?;
            click(browser, "dialog [data-kelisim-action=accept]").await?;
            ran_becomes(
                browser,
                json!([
                    "necessary",
                    "slow-first",
                    "second",
                    "late-analytics",
                    "ads",
                    "both",
                    "late-marketing"
                ]),
            )
            .await?;
            wait::until("the marketing frame", Duration::from_secs(10), || async {
                let loaded = browser
                    .js(
                        "const d = document.querySelector('iframe').contentDocument;
                     return !!(d && d.getElementById('embedded'))",
                        vec![],
                    )
                    .await?;
                Ok((loaded == json!(true)).then_some(()))
            })
            .await?;
            ensure!(!site.was_requested("/gated/unnamed") && !site.was_requested("/gated/unknown"));

            // Revoking marketing: later elements stay inert and the visitor is told to reload.
            open_settings(browser, ".kelisim-open").await?;
            click(browser, "#kelisim-cat-marketing").await?;
            click(browser, "dialog [data-kelisim-action=save]").await?;
            let texts = apart.collector()?.site_config("demo").await?;
            let note = browser
                .driver
                .find(By::Css(
                    ".kelisim-notice[role=status] .kelisim-notice__text",
                ))
                .await?
                .text()
                .await?;
            assert_eq!(note, texts["texts"]["en"]["cookies"]["reload_note"]);
            browser
                .js(
                    "const s = document.createElement('script');
                 s.type = 'text/plain'; s.dataset.kelisimCategory = 'marketing';
                 s.textContent = 'window.ran.push(\"revoked\")';
                 document.body.append(s);",
                    vec![],
                )
                .await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            ensure!(!ran(browser).await?.to_string().contains("revoked"));

            // Every choice is a signed receipt of the whole banner state.
            let receipts = cookie_receipts(apart.collector()?, 4).await?;
            let events: Vec<&str> = receipts.iter().map(|(e, _)| e.as_str()).collect();
            assert_eq!(events, ["refused", "updated", "given", "updated"]);
            let payload = apart.collector()?.verified_receipt(&receipts[3].1).await?;
            assert_eq!(payload["kind"], "cookies");
            assert_eq!(payload["notice"]["lang"], "en");
            assert_eq!(
                payload["categories"],
                json!([
                    {"id": "necessary", "granted": true},
                    {"id": "analytics", "granted": true},
                    {"id": "marketing", "granted": false}
                ])
            );
            assert_eq!(payload["context"]["page_url"], page);
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_gated_scripts_run_where_the_sites_csp_allows_them() -> Result<()> {
    let apart = Apart::start().await?;
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            browser.watch_csp().await?;
            // No CSP: inline scripts run too, in document order around a slow src script.
            browser
                .driver
                .goto(format!("{}/open/inline.html", apart.site.url))
                .await?;
            browser.widget_state("ready").await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(ran(browser).await?, json!([]), "nothing before consent");
            banner(browser).await?.click().await?;
            ran_becomes(browser, json!(["inline-1", "slow-first", "inline-2"])).await?;

            // A nonce CSP: the gated copy keeps the original's nonce; a script without one is
            // refused by the page's own policy, granted or not.
            browser
                .driver
                .goto(format!("{}/nonce/inline.html", apart.site.url))
                .await?;
            browser.widget_state("ready").await?;
            ran_becomes(browser, json!(["with-nonce"])).await?;
            let refused = wait::until("the CSP refusal", Duration::from_secs(5), || async {
                let seen = browser.csp_violations().await?;
                Ok((seen != json!([])).then_some(seen))
            })
            .await?;
            ensure!(
                refused.to_string().contains("script-src"),
                "the script without a nonce was refused by the CSP: {refused}"
            );
            assert_eq!(ran(browser).await?, json!(["with-nonce"]));
            Ok(())
        })
        .await
}

/// The demo's stand-in gtag.js and Metrika record what they saw in `window.demoAnalytics`.
const ANALYTICS: &str = "return [window.demoAnalytics || null,
    document.cookie.split('; ').map(c => c.split('=')[0]).filter(n => n === '_ga' || n === '_ym_uid').sort()]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_mode_default_comes_first_and_its_update_follows_the_choice() -> Result<()> {
    let collector = Collector::start_demo().await?;
    let browser = Browser::start().await?;
    let result = async {
        let driver = &browser.driver;
        driver.goto(format!("{}/", collector.url)).await?;
        browser.widget_state("ready").await?;
        banner(&browser).await?;
        let layer = browser
            .js(
                "return (window.dataLayer || []).map(e => Array.from(e))",
                vec![],
            )
            .await?;
        assert_eq!(
            layer,
            json!([["consent", "default", {
                "ad_storage": "denied", "ad_user_data": "denied",
                "ad_personalization": "denied", "analytics_storage": "denied",
                "wait_for_update": 500
            }]]),
            "only the default, before any tag"
        );
        assert_eq!(
            browser.js(ANALYTICS, vec![]).await?,
            json!([null, []]),
            "no analytics script ran, no analytics cookie"
        );

        click(
            &browser,
            "section.kelisim-banner [data-kelisim-action=accept]",
        )
        .await?;
        let seen = wait::until("the analytics to run", Duration::from_secs(10), || async {
            let seen = browser.js(ANALYTICS, vec![]).await?;
            Ok(
                (seen[0]["metrika"] != Value::Null && seen[0]["gtag"] != Value::Null)
                    .then_some(seen),
            )
        })
        .await?;
        let gtag = &seen[0]["gtag"];
        assert_eq!(
            gtag["commands"],
            json!([
                "consent default",
                "consent update",
                "js",
                "config G-DEMO000000"
            ]),
            "the default, then the visitor's update, before the tag's own commands"
        );
        assert_eq!(
            gtag["consent"],
            json!({"ad_storage": "granted", "ad_user_data": "granted",
                   "ad_personalization": "granted", "analytics_storage": "granted"})
        );
        assert_eq!(gtag["pageViews"], 1);
        // Accept all includes session recording: Metrika starts with Webvisor.
        assert_eq!(
            seen[0]["metrika"]["counters"],
            json!([{"id": 98765432, "webvisor": true}])
        );
        assert_eq!(seen[1], json!(["_ga", "_ym_uid"]));
        Ok::<_, anyhow::Error>(())
    }
    .await;
    browser.quit().await?;
    result?;

    // Global Privacy Control: marketing stays denied, the banner says why, the receipt notes it.
    let browser = Browser::start().await?;
    let result = async {
        browser.send_gpc().await?;
        browser
            .driver
            .goto(format!("{}/en/", collector.url))
            .await?;
        browser.widget_state("ready").await?;
        banner(&browser).await?;
        let texts = collector.site_config("demo").await?;
        let note = browser
            .driver
            .find(By::Css("section.kelisim-banner .kelisim-banner__gpc"))
            .await?
            .text()
            .await?;
        assert_eq!(note, texts["texts"]["en"]["cookies"]["gpc_note"]);
        click(
            &browser,
            "section.kelisim-banner [data-kelisim-action=accept]",
        )
        .await?;
        let consent = wait::until(
            "the Consent Mode update",
            Duration::from_secs(10),
            || async {
                let seen = browser.js(ANALYTICS, vec![]).await?;
                Ok((seen[0]["gtag"]["pageViews"] == 1).then(|| seen[0]["gtag"]["consent"].clone()))
            },
        )
        .await?;
        assert_eq!(
            consent,
            json!({"ad_storage": "denied", "ad_user_data": "denied",
                   "ad_personalization": "denied", "analytics_storage": "granted"})
        );
        let receipts = cookie_receipts(&collector, 2).await?;
        let payload = collector.verified_receipt(&receipts[1].1).await?;
        assert_eq!(payload["event"], "updated");
        assert_eq!(payload["context"]["gpc"], true);
        let marketing = payload["categories"]
            .as_array()
            .context("categories")?
            .iter()
            .find(|c| c["id"] == "marketing")
            .cloned();
        assert_eq!(
            marketing,
            Some(json!({"id": "marketing", "granted": false}))
        );
        Ok::<_, anyhow::Error>(())
    }
    .await;
    browser.quit().await?;
    result?;

    // A tag that is not gated, after the loader placed first without defer: the default was
    // already in the dataLayer when it ran.
    let apart = Apart::start().await?;
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            browser
                .driver
                .goto(format!("{}/consent-mode.html", apart.site.url))
                .await?;
            browser.widget_state("ready").await?;
            let at_tag = browser.js("return window.layerAtTag", vec![]).await?;
            assert_eq!(at_tag, json!(["consent default"]));
            Ok(())
        })
        .await
}

/// Accept and reject of the first layer: their boxes, and whether each is entirely inside the
/// viewport and the topmost element at its centre (visible and clickable without scrolling).
const BUTTONS: &str = "
    const box = s => {
        const b = document.querySelector('section.kelisim-banner [data-kelisim-action=' + s + ']');
        const r = b.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return { w: Math.round(r.width), h: Math.round(r.height),
                 inside: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
                 clickable: b === hit || b.contains(hit),
                 weight: getComputedStyle(b).fontWeight, bg: getComputedStyle(b).backgroundColor };
    };
    return [box('accept'), box('reject'),
            getComputedStyle(document.querySelector('section.kelisim-banner')).position];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_and_reject_are_equal_visible_accessible_and_keyboard_operable() -> Result<()> {
    let collector = Collector::start_demo().await?;
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            let driver = &browser.driver;
            for (width, height, mobile) in [(1280, 800, false), (375, 667, true)] {
                browser.emulate(width, height, mobile).await?;
                driver
                    .goto(format!("{}/contact.html", collector.url))
                    .await?;
                browser.widget_state("ready").await?;
                banner(browser).await?;
                let seen = browser.js(BUTTONS, vec![]).await?;
                let (accept, reject) = (&seen[0], &seen[1]);
                assert_eq!(accept, reject, "{width}×{height}: the same size and style");
                assert_eq!(accept["inside"], true, "{width}×{height}: visible: {seen}");
                assert_eq!(
                    accept["clickable"], true,
                    "{width}×{height}: on top: {seen}"
                );
                // In the page's flow, above the header: it covers nothing, the form included.
                assert_eq!(seen[2], "static", "{width}×{height}: {seen}");
                let reachable = browser
                    .js(
                        "const b = document.querySelector('#feedback [type=submit]');
                     b.scrollIntoView({block: 'end'});
                     const r = b.getBoundingClientRect();
                     return b === document.elementFromPoint(r.left + r.width / 2,
                                                           r.top + r.height / 2);",
                        vec![],
                    )
                    .await?;
                assert_eq!(
                    reachable, true,
                    "{width}×{height}: the form's button is not covered"
                );
            }
            browser.emulate(1280, 800, false).await?;
            driver
                .goto(format!("{}/kk/contact.html", collector.url))
                .await?;
            browser.widget_state("ready").await?;
            banner(browser).await?;
            let texts = collector.site_config("demo").await?;
            let title = driver
                .find(By::Css("#kelisim-banner-title"))
                .await?
                .text()
                .await?;
            assert_eq!(title, texts["texts"]["kk"]["cookies"]["title"]);
            let found = axe::serious_violations(driver, "section.kelisim-banner").await?;
            ensure!(found.is_empty(), "banner: {found:#?}");

            // The settings: a modal dialog, keyboard only, focus kept inside, Esc closes.
            let settings = driver
                .find(By::Css(
                    "section.kelisim-banner [data-kelisim-action=settings]",
                ))
                .await?;
            settings.send_keys(Key::Enter).await?;
            wait::until("the settings dialog", Duration::from_secs(5), || async {
                let open = browser
                    .js(
                        "return !!document.querySelector('dialog.kelisim-prefs[open]')",
                        vec![],
                    )
                    .await?;
                Ok((open == json!(true)).then_some(()))
            })
            .await?;
            let found = axe::serious_violations(driver, "dialog.kelisim-prefs").await?;
            ensure!(found.is_empty(), "settings: {found:#?}");
            let mut visited = Vec::new();
            for _ in 0..12 {
                let at = browser
                    .js(
                        "const a = document.activeElement;
                     return [!!a.closest('dialog.kelisim-prefs') || a === document.body,
                             a.id || a.dataset.kelisimAction || a.localName];",
                        vec![],
                    )
                    .await?;
                ensure!(at[0] == json!(true), "focus left the dialog: {at}");
                visited.push(at[1].as_str().unwrap_or_default().to_owned());
                driver.active_element().await?.send_keys(Key::Tab).await?;
            }
            for reached in ["close", "kelisim-cat-analytics", "accept", "reject", "save"] {
                ensure!(
                    visited.iter().any(|v| v == reached),
                    "{reached} not reached by Tab: {visited:?}"
                );
            }
            // Space on a focused toggle, then Esc: nothing saved, the dialog gone, focus back.
            driver
                .find(By::Css("#kelisim-cat-analytics"))
                .await?
                .send_keys(" ")
                .await?;
            driver
                .active_element()
                .await?
                .send_keys(Key::Escape)
                .await?;
            wait::until("the dialog to close", Duration::from_secs(5), || async {
                let open = browser
                    .js(
                        "return !!document.querySelector('dialog.kelisim-prefs[open]')",
                        vec![],
                    )
                    .await?;
                Ok((open == json!(false)).then_some(()))
            })
            .await?;
            let back = browser
                .js(
                    "return document.activeElement.dataset.kelisimAction || null",
                    vec![],
                )
                .await?;
            assert_eq!(
                back, "settings",
                "focus returns to the button that opened it"
            );
            ensure!(
                collector.stored_receipts()?.is_empty(),
                "closing is not a choice"
            );
            Ok(())
        })
        .await
}
