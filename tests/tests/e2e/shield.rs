//! Issue 6, the analytics shield: what a visitor types into a guarded form reaches neither a
//! session recorder nor a tracker — real ones from npm (rrweb, posthog-js) with their default
//! settings, recording the demo's contact page and sending to a capture endpoint on loopback —
//! nor any analytics entry point (`ym`, `gtag`, `dataLayer.push`, `_paq.push`,
//! `posthog.capture`), whether it was there before the widget or assigned after; calls made
//! before the wasm loaded wait for it and arrive in order; a guarded GET form leaves no typed
//! value in the address analytics reads; the demo's panel shows the redaction as it happens.
//!
//! Pages that need the recorders, stubs of the test's own or a held-back wasm are served by
//! the harness's [`Site`] (collector apart); the panel and the GET form run on the real demo.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use kelisim_tests::{Apart, Browser, Capture, Collector, axe, site, wait};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

/// What the shield puts in place of anything personal.
const TOKEN: &str = "[kelisim:redacted]";

/// What the visitor types: Kazakh letters, a phone the way people write it, an e-mail, a
/// message.
const NAME: &str = "Әлия Құрманғазықызы";
const PHONE: &str = "8 (701) 734-29-51";
const EMAIL: &str = "aliya.kurmangazy@mail.kz";
const MESSAGE: &str = "Нужно перевезти 12 паллет из Шымкента в Өскемен до пятницы";

/// The contact form's fields, as the visitor fills them in.
const LEAD: &[(&str, &str)] = &[
    ("name", NAME),
    ("phone", PHONE),
    ("email", EMAIL),
    ("message", MESSAGE),
];

/// Parts distinctive enough that finding one anywhere means the value leaked.
const PARTS: &[&str] = &[
    "Құрманғазықызы",
    "7342951",
    "734-29-51",
    "734 29 51",
    "aliya.kurmangazy",
    "перевезти 12 паллет",
    "Өскемен до пятницы",
];

/// Every spelling of the typed values a recorder or tracker could send: as typed, in lower
/// case, percent-encoded and form-encoded (as URLs carry them), with JSON's `\u` escapes, the
/// phone's digits alone and in E.164, and the distinctive [`PARTS`].
pub(crate) fn spellings(values: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for value in values {
        out.push((*value).to_owned());
        out.push(value.to_lowercase());
        out.push(percent(value, false));
        out.push(percent(value, true));
        out.push(json_escaped(value));
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        if value.starts_with("8 (7") {
            out.push(digits.clone());
            out.push(format!("7{}", &digits[1..]));
            out.push(format!("+7{}", &digits[1..]));
        }
    }
    out.extend(PARTS.iter().map(|p| (*p).to_owned()));
    out.sort();
    out.dedup();
    out
}

/// `encodeURIComponent` (`form`: `URLSearchParams`, with `+` for a space).
fn percent(text: &str, form: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b' ' if form => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b));
            }
            b'!' | b'~' | b'\'' | b'(' | b')' if !form => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Non-ASCII characters as JSON's `\uXXXX` (lower-case hex, as most encoders write them).
fn json_escaped(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// The first spelling of a typed value found in `text`, with some context around it.
pub(crate) fn leaked<'a>(text: &str, spellings: &'a [String]) -> Option<(&'a str, String)> {
    spellings.iter().find_map(|s| {
        text.find(s.as_str()).map(|at| {
            let before: String = text[..at].chars().rev().take(80).collect();
            let after: String = text[at + s.len()..].chars().take(80).collect();
            let around = before.chars().rev().chain(s.chars()).chain(after.chars());
            (s.as_str(), around.collect())
        })
    })
}

/// Types each `(field name, value)` into `form` as a visitor would, key by key.
pub(crate) async fn type_into(
    browser: &Browser,
    form: &str,
    fields: &[(&str, &str)],
) -> Result<()> {
    for (name, value) in fields {
        browser
            .driver
            .find(By::Css(format!("{form} [name={name}]")))
            .await
            .with_context(|| format!("no field {name} in {form}"))?
            .send_keys(*value)
            .await?;
    }
    Ok(())
}

pub(crate) async fn click(browser: &Browser, selector: &str) -> Result<()> {
    let element = wait::until(
        &format!("{selector} to show"),
        Duration::from_secs(10),
        || async {
            let found = browser.driver.find_all(By::Css(selector)).await?;
            Ok(match found.into_iter().next() {
                Some(e) if e.is_displayed().await? => Some(e),
                _ => None,
            })
        },
    )
    .await?;
    element.click().await?;
    Ok(())
}

/// Accepts every cookie category on the banner, so the gated analytics run.
pub(crate) async fn accept_all(browser: &Browser) -> Result<()> {
    click(
        browser,
        "section.kelisim-banner [data-kelisim-action=accept]",
    )
    .await
}

/// Waits (bounded) until `script` returns something other than `null`, and returns it.
pub(crate) async fn js_until(browser: &Browser, what: &str, script: &str) -> Result<Value> {
    wait::until(what, Duration::from_secs(15), || async {
        let v = browser.js(script, vec![]).await?;
        Ok((!v.is_null()).then_some(v))
    })
    .await
}

/// Waits (bounded) until the demo's lead tracking has sent every field of the contact form
/// (a `lead_form_input` each, after its pause) through the shield, and returns every call the
/// demo's analytics received (`window.demoAnalytics.calls`).
async fn lead_tracked(browser: &Browser) -> Result<Value> {
    js_until(
        browser,
        "the site's lead tracking to send every field",
        "const c = (window.demoAnalytics || {}).calls || [];
         const f = c.filter(e => e.call === 'dataLayer.push' &&
                                 e.args[0].event === 'lead_form_input');
         return f.length >= 4 ? c : null",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rrweb_and_posthog_from_npm_record_nothing_a_visitor_types() -> Result<()> {
    for (dir, file) in [
        (site::rrweb_dir(), "dist/rrweb.umd.min.cjs"),
        (site::posthog_dir(), "dist/array.full.js"),
    ] {
        ensure!(
            dir.join(file).exists(),
            "no {file} in {}: run `cargo xtask test` (it installs rrweb and posthog-js into \
             .tools/) or set KELISIM_TEST_RRWEB / KELISIM_TEST_POSTHOG",
            dir.display()
        );
    }
    let apart = Apart::start().await?;
    let capture = Capture::start().await?;
    apart.site.set_capture(&capture.url);
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            browser
                .driver
                .goto(format!("{}/demo/contact.html", apart.site.url))
                .await?;
            browser.widget_state("ready").await?;
            accept_all(browser).await?;
            js_until(
                browser,
                "the gated analytics to run",
                "return (window.demoAnalytics || {}).calls || null",
            )
            .await?;
            type_into(browser, "#feedback", LEAD).await?;
            // The site's lead tracking sent every field (after its pause), through the shield.
            lead_tracked(browser).await?;
            // PostHog sends its event batch every few seconds; let one go before leaving.
            wait::until(
                "PostHog to send the site's lead_form_input events",
                Duration::from_secs(20),
                || async {
                    Ok(capture
                        .received()
                        .iter()
                        .any(|c| c.path().ends_with("/e/") && c.body.contains("lead_form_input"))
                        .then_some(()))
                },
            )
            .await?;
            // Send the form: the page goes, and with it what the recorders still held.
            click(browser, "#feedback .kelisim-consent__box").await?;
            click(browser, "#feedback [type=submit]").await?;
            apart.site.submission(1).await?;
            Ok(())
        })
        .await?;
    quiet(&capture).await?;

    let received = capture.received();
    let bodies = |prefix: &str| -> String {
        received
            .iter()
            .filter(|c| c.path().starts_with(prefix))
            .map(|c| c.body.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    // They did record: the page (its heading), the site's events, the redaction.
    let rrweb = bodies("/rrweb");
    ensure!(
        rrweb.contains("\"type\":2") && rrweb.contains("Связаться с нами"),
        "rrweb sent no full snapshot of the page ({} bytes)",
        rrweb.len()
    );
    let events = bodies("/e/");
    for expected in ["$pageview", "lead_form_input", TOKEN] {
        ensure!(
            events.contains(expected),
            "PostHog's events lack {expected}: {}",
            events.chars().take(2000).collect::<String>()
        );
    }
    let recording = bodies("/s/");
    ensure!(
        recording.contains("$snapshot") && recording.contains("Связаться с нами"),
        "PostHog recorded no session ({} bytes); requests: {:?}",
        recording.len(),
        received
            .iter()
            .map(|c| c.target.as_str())
            .collect::<Vec<_>>()
    );

    // And nothing of what was typed is anywhere in what they sent, addresses included.
    let spellings = spellings(&[NAME, PHONE, EMAIL, MESSAGE]);
    for c in &received {
        let seen = format!("{} {}\n{}", c.method, c.target, c.body);
        if let Some((spelling, around)) = leaked(&seen, &spellings) {
            anyhow::bail!(
                "{} {} carries the typed value {spelling:?}: …{around}…",
                c.method,
                c.path()
            );
        }
    }
    Ok(())
}

/// Waits (bounded) until the capture endpoint has had no new request for a second: what the
/// page sent as it went (beacons, keepalive fetches) has arrived.
pub(crate) async fn quiet(capture: &Capture) -> Result<()> {
    let mut count = capture.received().len();
    let mut since = Instant::now();
    wait::until(
        "the recorders to finish sending",
        Duration::from_secs(20),
        || {
            let now = capture.received().len();
            if now != count {
                count = now;
                since = Instant::now();
            }
            let settled = since.elapsed() >= Duration::from_secs(1);
            async move { Ok(settled.then_some(())) }
        },
    )
    .await
}

/// The calls [`SITE_CALLS`] makes, as the stubs must receive them: every typed value, the
/// e-mail, the phone and the IIN the site wrote itself replaced by [`TOKEN`]; everything else
/// the same, in the same order and shape (gtag's command still an `arguments` object).
fn expected_calls() -> Value {
    json!([
        ["ym", [98765432, "params", {"lead": {"name": TOKEN, "phone": TOKEN}, "page": "contact"}]],
        ["ym", [98765432, "reachGoal", "form_input", {"field": "email", "value": TOKEN}]],
        ["ym", [98765432, "userParams", {"UserID": 42, "plan": "Бизнес"}]],
        ["dataLayer.push", "arguments",
            ["event", "generate_lead", {"currency": "KZT", "value": 15000, "message": TOKEN}]],
        ["dataLayer.push", "object",
            {"event": "lead_form_input", "field": "name", "value": format!("Клиент: {TOKEN}!")}],
        ["dataLayer.push", "object",
            {"event": "page_ready", "items": [1, "two", {"three": 3, "list": [[TOKEN]]}]}],
        ["dataLayer.push", "object", {
            "event": "support",
            "text": format!("write to {TOKEN} or call {TOKEN}"),
            "callback": TOKEN,
            "iin": format!("ИИН {TOKEN}"),
            "when": "2026-03-15"
        }],
        ["_paq.push", [["trackEvent", "Lead", "phone", TOKEN]]],
        ["_paq.push", [["trackPageView", "Контакты"]]],
        ["posthog.capture", ["lead", {"note": "ok", "by": {TOKEN: "subscribed"}, "count": 3}]]
    ])
}

/// Makes the site's calls (`siteCalls` in `tests/fixtures/site/shield/stubs.js`).
const SITE_CALLS: &str = "window.siteCalls()";

/// What the stubs received, the loader's own Consent Mode default aside (it is not a call
/// of the site's, and a stub installed later never sees it).
const RECEIVED: &str = "return window.received.filter(r =>
    !(r[0] === 'dataLayer.push' && r[1] === 'arguments' && r[2][0] === 'consent'))";

/// Waits (bounded) until the stubs received as many calls as expected, and returns them.
async fn received(browser: &Browser, expected: usize) -> Result<Value> {
    wait::until(
        "the stubs to receive the site's calls",
        Duration::from_secs(10),
        || async {
            let got = browser.js(RECEIVED, vec![]).await?;
            let n = got.as_array().map_or(0, Vec::len);
            Ok((n >= expected).then_some(got))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_installed_before_and_after_the_widget_receive_the_same_redacted_calls()
-> Result<()> {
    let apart = Apart::start().await?;
    let expected = expected_calls();
    let count = expected.as_array().map_or(0, Vec::len);
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            let site = &apart.site;
            // Installed before the widget, and everything happens before its wasm has loaded:
            // the calls wait, and arrive in order once it has.
            site.hold_wasm(true);
            browser
                .driver
                .goto(format!("{}/shield/before.html", site.url))
                .await?;
            type_into(browser, "#lead", LEAD).await?;
            browser.js(SITE_CALLS, vec![]).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let early = browser.js(RECEIVED, vec![]).await?;
            site.hold_wasm(false);
            browser.widget_state("ready").await?;
            let held = received(browser, count).await?;
            assert_eq!(
                early,
                json!([]),
                "nothing reached analytics before the wasm"
            );
            assert_eq!(held, expected, "installed before the widget, calls held");

            // Installed before the widget, the wasm already there.
            browser
                .driver
                .goto(format!("{}/shield/before.html", site.url))
                .await?;
            browser.widget_state("ready").await?;
            type_into(browser, "#lead", LEAD).await?;
            browser.js(SITE_CALLS, vec![]).await?;
            let before = received(browser, count).await?;
            assert_eq!(before, expected, "installed before the widget");

            // Assigned after the widget was ready, as tags loaded later do.
            browser
                .driver
                .goto(format!("{}/shield/after.html", site.url))
                .await?;
            browser.widget_state("ready").await?;
            browser.js("window.installStubs()", vec![]).await?;
            type_into(browser, "#lead", LEAD).await?;
            browser.js(SITE_CALLS, vec![]).await?;
            let after = received(browser, count).await?;
            assert_eq!(after, expected, "assigned after the widget");
            Ok(())
        })
        .await
}

const NUMBER: &str = "KZ-7781-ALM";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_form_leaves_no_typed_value_in_the_address_analytics_reads() -> Result<()> {
    let collector = Collector::start_demo().await?;
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            let driver = &browser.driver;
            // A query and a fragment of the site's own: the receipt's page URL has neither.
            driver
                .goto(format!(
                    "{}/track.html?utm_source=newsletter#track",
                    collector.url
                ))
                .await?;
            browser.widget_state("ready").await?;
            accept_all(browser).await?;
            let found = axe::serious_violations(driver, "main").await?;
            ensure!(found.is_empty(), "the tracking form: {found:#?}");
            type_into(browser, "#track", &[("number", NUMBER), ("phone", PHONE)]).await?;
            click(browser, "#track .kelisim-consent__box").await?;
            click(browser, "#track [type=submit]").await?;

            // The server got the query: its page shows the number and the phone's last digits.
            let shown = js_until(
                browser,
                "the tracking result",
                "const n = document.getElementById('track-number');
                 return n ? [n.textContent, document.getElementById('track-sms').textContent]
                          : null",
            )
            .await?;
            assert_eq!(shown[0], NUMBER, "the server read the waybill number");
            ensure!(
                shown[1].as_str().is_some_and(|s| s.contains(" 51")),
                "the server read the phone: {shown}"
            );
            browser.widget_state("ready").await?;
            let spellings = spellings(&[NUMBER, PHONE]);
            let url = driver.current_url().await?.to_string();
            ensure!(url.contains("/track?"), "still the result page: {url}");
            if let Some((spelling, _)) = leaked(&url, &spellings) {
                anyhow::bail!("the address keeps the typed value {spelling:?}: {url}");
            }
            // Analytics ran on that page (granted) and read a clean address.
            let seen = js_until(
                browser,
                "the result page's analytics",
                "const a = window.demoAnalytics;
                 return a && a.gtag && a.metrika && a.metrika.pages.length
                     ? [a.gtag.pageLocations, a.metrika.pages] : null",
            )
            .await?;
            ensure!(
                seen[0].as_array().is_some_and(|p| !p.is_empty()),
                "gtag.js counted the page view: {seen}"
            );
            if let Some((spelling, _)) = leaked(&seen.to_string(), &spellings) {
                anyhow::bail!("analytics read the typed value {spelling:?}: {seen}");
            }
            let found = axe::serious_violations(driver, "main").await?;
            ensure!(found.is_empty(), "the tracking result: {found:#?}");

            // The consent receipt's page URL has no query or fragment.
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
            let payload = collector.verified_receipt(&reference).await?;
            assert_eq!(payload["context"]["form_id"], "track");
            assert_eq!(
                payload["context"]["page_url"],
                format!("{}/track.html", collector.url)
            );
            Ok(())
        })
        .await
}

/// The panel's heading, whether it says analytics is off, and its calls as shown.
const PANEL: &str = "const p = document.getElementById('shield-panel');
    const off = p.querySelector('.shield-panel__off');
    return [p.querySelector('h2').textContent, !!off && !off.hidden,
            [...p.querySelectorAll('.shield-panel__call code')].map(c => c.textContent),
            p.querySelectorAll('.shield-panel__call mark').length];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_panel_shows_what_analytics_received_as_the_visitor_types() -> Result<()> {
    let collector = Collector::start_demo().await?;
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            let driver = &browser.driver;
            browser.watch_csp().await?;
            // Before any choice, in each language: analytics is off, and the panel says how to
            // turn it on.
            for (page, heading) in [
                ("/kk/contact.html", "Аналитика не алды"),
                ("/en/contact.html", "What analytics received"),
                ("/contact.html", "Что получила аналитика"),
            ] {
                driver.goto(format!("{}{page}", collector.url)).await?;
                browser.widget_state("ready").await?;
                let panel = browser.js(PANEL, vec![]).await?;
                assert_eq!(panel[0], heading, "{page}");
                assert_eq!(panel[1], true, "{page}: says analytics is off: {panel}");
                assert_eq!(panel[2], json!([]), "{page}");
                let found = axe::serious_violations(driver, "#shield-panel").await?;
                ensure!(found.is_empty(), "{page}, analytics off: {found:#?}");
            }

            // The panel's own button opens the settings; allowing everything runs the analytics.
            click(browser, "#shield-panel [data-kelisim-open]").await?;
            click(browser, "dialog.kelisim-prefs [data-kelisim-action=accept]").await?;
            js_until(
                browser,
                "the panel to list the analytics' calls",
                "const p = document.querySelector('#shield-panel .shield-panel__off');
                 return p.hidden && document.querySelector('.shield-panel__call') ? true : null",
            )
            .await?;
            type_into(browser, "#feedback", LEAD).await?;
            let calls = lead_tracked(browser).await?;
            // What the stand-ins received: each field's value, redacted, and the rest as sent.
            let mut fields: Vec<(String, String)> = calls
                .as_array()
                .context("calls")?
                .iter()
                .filter(|c| {
                    c["call"] == "dataLayer.push" && c["args"][0]["event"] == "lead_form_input"
                })
                .map(|c| {
                    let e = &c["args"][0];
                    (e["field"].to_string(), e["value"].to_string())
                })
                .collect();
            fields.sort();
            let token = json!(TOKEN).to_string();
            assert_eq!(
                fields,
                ["email", "message", "name", "phone"]
                    .map(|f| (json!(f).to_string(), token.clone())),
                "every field reached analytics redacted"
            );
            ensure!(
                calls
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["call"] == "ym"
                        && c["args"][1] == "params"
                        && c["args"][2]["lead_form"]["phone"] == TOKEN)),
                "Metrika got the visit parameters, redacted: {calls}"
            );

            // And the panel shows it: marked, with nothing of what was typed.
            let panel = wait::until(
                "the panel to show the calls",
                Duration::from_secs(5),
                || async {
                    let panel = browser.js(PANEL, vec![]).await?;
                    let shown = panel[2].to_string();
                    Ok(
                        (shown.contains("lead_form_input") && shown.contains("params"))
                            .then_some(panel),
                    )
                },
            )
            .await?;
            ensure!(
                panel[3].as_u64().unwrap_or(0) > 0,
                "redactions are marked: {panel}"
            );
            if let Some((spelling, around)) = leaked(
                &panel.to_string(),
                &spellings(&[NAME, PHONE, EMAIL, MESSAGE]),
            ) {
                anyhow::bail!("the panel shows the typed value {spelling:?}: {around}");
            }
            let found = axe::serious_violations(driver, "#shield-panel").await?;
            ensure!(found.is_empty(), "panel with calls: {found:#?}");
            assert_eq!(
                browser.csp_violations().await?,
                json!([]),
                "the demo's strict CSP"
            );
            Ok(())
        })
        .await
}

#[test]
fn typed_values_are_looked_for_in_every_spelling() {
    let s = spellings(&["Әлия К", "8 (701) 734-29-51"]);
    for expected in [
        "Әлия К",
        "әлия к",
        "%D3%98%D0%BB%D0%B8%D1%8F%20%D0%9A",
        "%D3%98%D0%BB%D0%B8%D1%8F+%D0%9A",
        "\\u04d8\\u043b\\u0438\\u044f \\u041a",
        "8%20(701)%20734-29-51",
        "8+%28701%29+734-29-51",
        "87017342951",
        "+77017342951",
        "77017342951",
    ] {
        assert!(s.iter().any(|x| x == expected), "{expected} in {s:?}");
    }
    assert_eq!(
        leaked("{\"v\":\"x 7342951 y\"}", &s).map(|(n, _)| n),
        Some("7342951")
    );
    assert_eq!(leaked("nothing here", &s), None);
}
