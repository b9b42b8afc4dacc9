//! Issue 12: both promises on every stack a Kazakh site runs, each with the real library from the
//! npm registry (pinned, installed by `cargo xtask test`), on a site of its own origin with the
//! collector on another (`data-collector`): jQuery with `$.ajax`, jquery-validation, React 18
//! (controlled inputs whose class changes, a phone mask, a `type=button` that fetches),
//! react-hook-form, Vue 3 (`:class`), htmx 1 and 2, a custom element with an open shadow-root
//! form, a form added two seconds after load, and a plain page of several forms (fields named
//! `userTel`, `contactMail`). The pages are `tests/fixtures/site/stacks/`.
//!
//! One browser per stack, three page loads: with the widget ready, with its wasm held back until
//! the visitor has typed and tried to send, and with the wasm blocked (the plain checkbox). Each
//! time: the box is shown in the page's language (and works from the keyboard), every unticked
//! way of sending is refused (click, Enter, `requestSubmit`, `form.submit()`, the prototype's
//! submit, the library's own), the site's handler runs exactly once after ticking, and the
//! receipt verifies (the plain checkbox's once the widget loads on a later page). Throughout,
//! rrweb from npm (default options, started after load) and the page's careless analytics
//! (`ym`, `gtag` on every keystroke) get nothing the visitor typed, through every re-render.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use kelisim_tests::{Apart, Browser, Capture, site, wait};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

use crate::shield::{leaked, quiet, spellings};

/// What the visitor types. The React page's mask writes the phone back as `+7 (701) 734-29-51`.
const NAME: &str = "Айгерим Сапарова";
const PHONE: &str = "8 (701) 734-29-51";
const MESSAGE: &str = "Два паллета из Шымкента в Өскемен";

/// Every value typed, as typed and as a page may write it back.
const TYPED: &[&str] = &[
    NAME,
    PHONE,
    MESSAGE,
    "Сапарова",
    "+7 (701) 734-29-51",
    "Шымкента в Өскемен",
];

/// What the shield puts in place of a typed value.
const TOKEN: &str = "[kelisim:redacted]";

/// How the site receives the form once it may go.
#[derive(Clone, Copy, PartialEq)]
enum Sends {
    /// The site's script posts it to `/api/lead` (fetch, `$.ajax`, htmx); the page stays.
    Lead,
    /// The browser submits it to `/feedback` and navigates.
    Form,
}

struct Stack {
    /// The page, below `tests/fixtures/site/`.
    page: &'static str,
    /// The language the consent box must speak there.
    lang: &'static str,
    /// The guarded form's id (the receipt's `form_id`).
    form_id: &'static str,
    /// `(selector inside the form, value)`, typed in this order.
    fields: &'static [(&'static str, &'static str)],
    /// The library's own ways of sending (names in the page's `window.stack.paths`).
    own: &'static [&'static str],
    /// How the form goes once ticked: `click` (its button) or one of `own`.
    submit: &'static str,
    sends: Sends,
}

const LEAD_FIELDS: &[(&str, &str)] = &[
    ("[name=name]", NAME),
    ("[name=phone]", PHONE),
    ("[name=message]", MESSAGE),
];

/// The ways of sending the form every page has (`enter` is typed, not scripted).
const SCRIPTED: [&str; 4] = ["click", "requestSubmit", "submit", "prototype"];

/// Tries one way of sending the page's form (see [`SCRIPTED`] and the page's own paths).
const TRY: &str = "
    const [how] = arguments;
    const f = window.stack.form();
    const button = f.querySelector('button[type=submit],button:not([type]),input[type=submit]');
    if (how === 'click') button.click();
    else if (how === 'requestSubmit') f.requestSubmit();
    else if (how === 'submit') f.submit();
    else if (how === 'prototype') HTMLFormElement.prototype.submit.call(f);
    else if (window.stack.paths[how]) window.stack.paths[how]();
    else throw new Error('the page has no way of sending named ' + how);";

/// The consent block of the page's form: `[lang, label, the block's element count]`, or null.
const BLOCK: &str = "
    const f = window.stack && window.stack.form && window.stack.form();
    const b = f && f.querySelector('.kelisim-consent');
    return b && [b.lang, b.querySelector('label').textContent, b.children.length];";

/// What the page's analytics stubs received, the loader's own Consent Mode calls aside.
const RECEIVED: &str = "return window.received.filter(r =>
    !(r[0] === 'dataLayer.push' && r[1][0] && r[1][0][0] === 'consent'))";

async fn run(stack: &Stack) -> Result<()> {
    let dir = site::stacks_dir();
    ensure!(
        dir.join("jquery/dist/jquery.min.js").exists() && site::rrweb_dir().exists(),
        "no stack libraries in {}: run `cargo xtask test` (it installs them into .tools/) or \
         set KELISIM_TEST_STACKS and KELISIM_TEST_RRWEB",
        dir.display()
    );
    let apart = Apart::start().await?;
    let capture = Capture::start().await?;
    apart.site.set_capture(&capture.url);
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            browser.watch_csp().await?;
            ready(browser, &apart, stack)
                .await
                .context("with the widget ready")?;
            held(browser, &apart, stack)
                .await
                .context("with the wasm held back")?;
            blocked(browser, &apart, stack)
                .await
                .context("with the wasm blocked")?;
            Ok(())
        })
        .await?;
    quiet(&capture).await?;

    // rrweb did record the pages (full snapshots, the visitor's typing as events)…
    let rrweb: Vec<_> = capture.received_at("/rrweb");
    let all: String = rrweb.iter().map(|c| c.body.as_str()).collect();
    ensure!(
        all.contains("\"type\":2") && all.contains("kelisim-consent"),
        "rrweb sent no full snapshot of the guarded page ({} bytes)",
        all.len()
    );
    // …and nothing the visitor typed.
    if let Some((spelling, around)) = leaked(&all, &spellings(TYPED)) {
        bail!("rrweb recorded the typed value {spelling:?}: …{around}…");
    }
    Ok(())
}

/// Loads the page and waits for its form (a page may add it later).
async fn open(browser: &Browser, apart: &Apart, stack: &Stack) -> Result<WebElement> {
    browser
        .driver
        .goto(format!("{}/{}", apart.site.url, stack.page))
        .await?;
    wait::until("the page's form", Duration::from_secs(10), || async {
        let found = browser
            .driver
            .execute(
                "return window.stack && window.stack.form && window.stack.form() || null",
                vec![],
            )
            .await?;
        Ok(found.element().ok())
    })
    .await
}

/// The element `selector` inside the page's form (a shadow root's too).
async fn inside(browser: &Browser, selector: &str) -> Result<WebElement> {
    browser
        .driver
        .execute(
            "return window.stack.form().querySelector(arguments[0])",
            vec![json!(selector)],
        )
        .await?
        .element()
        .with_context(|| format!("no {selector} in the page's form"))
}

async fn type_fields(browser: &Browser, stack: &Stack) -> Result<()> {
    for (selector, value) in stack.fields {
        inside(browser, selector).await?.send_keys(*value).await?;
    }
    Ok(())
}

/// The consent block as [`BLOCK`] reads it, once it shows.
async fn block(browser: &Browser) -> Result<Value> {
    wait::until("the consent box", Duration::from_secs(10), || async {
        let b = browser.js(BLOCK, vec![]).await?;
        Ok((!b.is_null()).then_some(b))
    })
    .await
}

/// rrweb takes a new full snapshot (a checkout, as it does with its `checkoutEveryNms` option
/// or when a page asks): what the fields are then, after every re-render, is what it records.
async fn checkout(browser: &Browser) -> Result<()> {
    wait::until("rrweb to record", Duration::from_secs(10), || async {
        Ok((browser
            .js("return window.recording === true", vec![])
            .await?
            == json!(true))
        .then_some(()))
    })
    .await?;
    browser
        .js("window.rrweb.record.takeFullSnapshot(true)", vec![])
        .await?;
    Ok(())
}

/// Every field typed into still carries the recorders' markers (rrweb's, Metrika's…), after
/// every re-render, and rrweb takes a checkout of the page as it is now.
async fn marked(browser: &Browser) -> Result<()> {
    let missing = browser
        .js(
            "return [...window.stack.form().elements]
                 .filter(e => e.name && /^(INPUT|TEXTAREA)$/.test(e.tagName)
                              && !/^(hidden|checkbox)$/.test(e.type))
                 .filter(e => !(e.classList.contains('rr-block')
                                && e.classList.contains('ym-disable-keys')
                                && e.hasAttribute('data-private')))
                 .map(e => e.name + ': ' + e.className)",
            vec![],
        )
        .await?;
    ensure!(
        missing == json!([]),
        "fields without their markers: {missing}"
    );
    checkout(browser).await
}

/// The box is where the keyboard goes next after the form's last field, and Space ticks and
/// unticks it.
async fn keyboard(browser: &Browser) -> Result<()> {
    browser
        .driver
        .execute(
            "return [...window.stack.form().elements]
                 .filter(e => /^(INPUT|TEXTAREA)$/.test(e.tagName) && e.name
                              && !/^(hidden|checkbox)$/.test(e.type)).pop()",
            vec![],
        )
        .await?
        .element()?
        .send_keys(Key::Tab)
        .await?;
    let focused = browser
        .js(
            "let a = document.activeElement;
             while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
             return !!a && a.classList.contains('kelisim-consent__box')",
            vec![],
        )
        .await?;
    ensure!(
        focused == json!(true),
        "Tab from the last field does not reach the box"
    );
    let b = inside(browser, ".kelisim-consent__box").await?;
    b.send_keys(" ").await?;
    ensure!(b.is_selected().await?, "Space ticks the box");
    b.send_keys(" ").await?;
    ensure!(!b.is_selected().await?, "Space unticks it");
    Ok(())
}

/// What the site has received so far: (leads, form submissions).
fn sent(apart: &Apart) -> (usize, usize) {
    (apart.site.leads().len(), apart.site.submissions().len())
}

/// Every unticked way of sending the form is refused: the site gets nothing, its handler never
/// runs, the page stays.
async fn every_way_is_refused(browser: &Browser, apart: &Apart, stack: &Stack) -> Result<()> {
    let before = sent(apart);
    let (first, _) = stack.fields.first().context("fields")?;
    inside(browser, first).await?.send_keys(Key::Enter).await?;
    let paths = std::iter::once("enter")
        .chain(SCRIPTED)
        .chain(stack.own.iter().copied());
    for path in paths {
        if path != "enter" {
            browser.js(TRY, vec![json!(path)]).await?;
        }
        // A request that did go out reaches the site well within this.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let state = browser
            .js("return [window.samePage === true, window.handled]", vec![])
            .await?;
        ensure!(
            state == json!([true, 0]),
            "{path}: the page left or the site's handler ran: {state}"
        );
        ensure!(
            sent(apart) == before,
            "{path}: the site received the form: {:?}",
            apart.site.leads()
        );
    }
    Ok(())
}

/// Ticks the box and sends the form the stack's way; the site gets it exactly once, through its
/// own handler. Returns what it got: the lead's body or the form's fields as `a=b&…`.
async fn tick_and_send(browser: &Browser, apart: &Apart, stack: &Stack) -> Result<String> {
    let before = sent(apart);
    inside(browser, ".kelisim-consent__box")
        .await?
        .click()
        .await?;
    browser.js(TRY, vec![json!(stack.submit)]).await?;
    let got = match stack.sends {
        Sends::Lead => {
            let lead = apart.site.lead(before.0 + 1).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let handled = browser.js("return window.handled", vec![]).await?;
            ensure!(
                handled == json!(1),
                "the site's handler ran {handled} times (null: the page left); the site got \
                 {} {:?}",
                lead.content_type,
                lead.body
            );
            lead.body
        }
        Sends::Form => {
            let form = apart.site.submission(before.1 + 1).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            form.fields
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }
    };
    let after = sent(apart);
    ensure!(
        after
            == (
                before.0 + usize::from(stack.sends == Sends::Lead),
                before.1 + usize::from(stack.sends == Sends::Form)
            ),
        "the site received the form more than once: {before:?} → {after:?}"
    );
    Ok(got)
}

/// The form receipts the collector has stored.
fn form_receipts(apart: &Apart) -> Result<HashSet<String>> {
    Ok(apart
        .collector()?
        .stored_receipts()?
        .iter()
        .filter(|r| r["kind"] == "form")
        .filter_map(|r| r["ref"].as_str().map(str::to_owned))
        .collect())
}

/// The one form receipt stored since `known`, verified, for the stack's form.
async fn new_receipt(apart: &Apart, stack: &Stack, known: &HashSet<String>) -> Result<Value> {
    let reference = wait::until("the form's receipt", Duration::from_secs(15), || async {
        let now = form_receipts(apart)?;
        let new: Vec<String> = now.difference(known).cloned().collect();
        ensure!(
            new.len() <= 1,
            "more than one receipt for one consent: {new:?}"
        );
        Ok(new.into_iter().next())
    })
    .await?;
    let payload = apart.collector()?.verified_receipt(&reference).await?;
    assert_eq!(payload["context"]["form_id"], stack.form_id, "{payload}");
    assert_eq!(payload["event"], "given");
    Ok(payload)
}

/// The page's analytics got the visitor's typing, every value redacted.
async fn analytics_got_nothing_typed(browser: &Browser) -> Result<()> {
    let got = wait::until(
        "the page's tracking to reach its analytics",
        Duration::from_secs(10),
        || async {
            let got = browser.js(RECEIVED, vec![]).await?;
            Ok(got.to_string().contains(TOKEN).then_some(got))
        },
    )
    .await?;
    if let Some((spelling, around)) = leaked(&got.to_string(), &spellings(TYPED)) {
        bail!("analytics received the typed value {spelling:?}: …{around}…");
    }
    Ok(())
}

async fn ready(browser: &Browser, apart: &Apart, stack: &Stack) -> Result<()> {
    let texts = apart.collector()?.site_config("demo").await?;
    open(browser, apart, stack).await?;
    browser.widget_state("ready").await?;
    let shown = block(browser).await?;
    assert_eq!(
        shown,
        json!([stack.lang, texts["texts"][stack.lang]["label"], 4]),
        "the box, in the page's language"
    );
    type_fields(browser, stack).await?;
    keyboard(browser).await?;
    marked(browser).await?;
    every_way_is_refused(browser, apart, stack).await?;
    // Refused with the site's message beside the box, and nothing of a validation plugin's in
    // the block (box, label, link, message: still four).
    let error = inside(browser, ".kelisim-consent__error").await?;
    ensure!(error.is_displayed().await?, "the refusal says why");
    assert_eq!(error.text().await?, texts["texts"][stack.lang]["error"]);
    assert_eq!(
        block(browser).await?[2],
        4,
        "the block as the widget made it"
    );
    analytics_got_nothing_typed(browser).await?;

    let known = form_receipts(apart)?;
    let got = tick_and_send(browser, apart, stack).await?;
    ensure!(
        got.contains("Айгерим") || got.contains("701"),
        "the site got the typed form: {got}"
    );
    let payload = new_receipt(apart, stack, &known).await?;
    assert_eq!(payload["notice"]["lang"], stack.lang);
    if stack.sends == Sends::Lead {
        // Ticked, the page's requests may carry what was typed (run(): rrweb still must not).
        checkout(browser).await?;
    }
    if got.contains("kelisim_receipt=") {
        ensure!(
            got.contains(&format!(
                "kelisim_receipt={}",
                payload["ref"].as_str().unwrap_or("?")
            )),
            "the form carried its receipt's reference: {got}"
        );
    }
    assert_eq!(browser.csp_violations().await?, json!([]), "the strict CSP");
    Ok(())
}

async fn held(browser: &Browser, apart: &Apart, stack: &Stack) -> Result<()> {
    apart.site.hold_wasm(true);
    open(browser, apart, stack).await?;
    type_fields(browser, stack).await?;
    // Before the wasm: no box yet, the recorders' markers already on the fields, and every way
    // of sending held.
    let state = browser
        .js(
            "const f = window.stack.form();
             return [document.documentElement.dataset.kelisim,
                     f.querySelectorAll('.kelisim-consent').length,
                     f.elements[0].classList.contains('rr-block'),
                     f.elements[0].hasAttribute('data-private')]",
            vec![],
        )
        .await?;
    assert_eq!(
        state,
        json!(["loading", 0, true, true]),
        "the wasm was held back"
    );
    marked(browser).await?;
    every_way_is_refused(browser, apart, stack).await?;
    apart.site.hold_wasm(false);
    browser.widget_state("ready").await?;
    block(browser).await?;
    // What the page's tracking sent while the wasm was held reached analytics once it loaded,
    // redacted.
    analytics_got_nothing_typed(browser).await?;
    let known = form_receipts(apart)?;
    tick_and_send(browser, apart, stack).await?;
    new_receipt(apart, stack, &known).await?;
    Ok(())
}

async fn blocked(browser: &Browser, apart: &Apart, stack: &Stack) -> Result<()> {
    browser.block_urls(&["*.wasm"]).await?;
    open(browser, apart, stack).await?;
    browser.widget_state("fallback").await?;
    let texts = apart.collector()?.site_config("demo").await?;
    let shown = block(browser).await?;
    assert_eq!(
        [&shown[0], &shown[1]],
        [&json!(stack.lang), &texts["texts"][stack.lang]["label"]],
        "the plain box, in the page's language"
    );
    type_fields(browser, stack).await?;
    keyboard(browser).await?;
    marked(browser).await?;
    every_way_is_refused(browser, apart, stack).await?;
    // Box, label, link: nothing of a validation plugin's in the plain block either.
    assert_eq!(
        block(browser).await?[2],
        3,
        "the block as the loader made it"
    );
    let known = form_receipts(apart)?;
    let got = tick_and_send(browser, apart, stack).await?;
    if stack.sends == Sends::Form {
        ensure!(got.contains("kelisim_consent=yes"), "{got}");
    }
    // The plain checkbox kept a note of the consent (no value of the form in it); the next page
    // where the widget loads records the receipt under the reference the form carried.
    let notes = browser
        .js(
            "return JSON.parse(localStorage.getItem('kelisim:fallback'))",
            vec![],
        )
        .await?;
    let key = notes[0]["key"]
        .as_str()
        .context("a note with its key")?
        .to_owned();
    if got.contains("kelisim_receipt=") {
        ensure!(got.contains(&format!("kelisim_receipt={key}")), "{got}");
    }
    if let Some((spelling, _)) = leaked(&notes.to_string(), &spellings(TYPED)) {
        bail!("the note keeps the typed value {spelling:?}: {notes}");
    }
    browser.block_urls(&[]).await?;
    browser.driver.goto(format!("{}/", apart.site.url)).await?;
    browser.widget_state("ready").await?;
    let payload = new_receipt(apart, stack, &known).await?;
    assert_eq!(payload["ref"], key.as_str());
    assert_eq!(payload["notice"]["lang"], stack.lang);
    assert_eq!(payload["policy"]["version"], site::POLICY);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jquery_own_submit_and_ajax_are_refused_until_ticked() -> Result<()> {
    run(&Stack {
        page: "stacks/jquery.html",
        lang: "ru",
        form_id: "lead",
        fields: LEAD_FIELDS,
        own: &["jqTrigger", "jqSubmit", "jqTriggerHandler", "jqAjax"],
        submit: "jqTrigger",
        sends: Sends::Lead,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jquery_validation_leaves_the_consent_block_alone() -> Result<()> {
    run(&Stack {
        page: "stacks/jquery-validation.html",
        lang: "kk",
        form_id: "lead",
        fields: LEAD_FIELDS,
        own: &["jqValid", "jqSubmit", "jqTrigger"],
        submit: "jqSubmit",
        sends: Sends::Lead,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn react_re_renders_and_a_fetching_button_leak_nothing() -> Result<()> {
    run(&Stack {
        page: "stacks/react.html",
        lang: "ru",
        form_id: "lead",
        // The phone last: leaving it (for the keyboard check) re-renders it with a new class
        // and its number written out, after which nothing else changes in the page.
        fields: &[
            ("[name=message]", MESSAGE),
            ("[name=name]", NAME),
            ("[name=phone]", PHONE),
        ],
        own: &["quick"],
        submit: "click",
        sends: Sends::Lead,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn react_hook_form_handle_submit_is_refused_until_ticked() -> Result<()> {
    run(&Stack {
        page: "stacks/react-hook-form.html",
        lang: "ru",
        form_id: "lead",
        fields: LEAD_FIELDS,
        own: &["handleSubmit"],
        submit: "click",
        sends: Sends::Lead,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vue_class_bindings_keep_the_recorders_out() -> Result<()> {
    run(&Stack {
        page: "stacks/vue.html",
        lang: "en",
        form_id: "lead",
        fields: LEAD_FIELDS,
        own: &[],
        submit: "click",
        sends: Sends::Lead,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htmx_1_trigger_and_ajax_are_refused_until_ticked() -> Result<()> {
    run(&Stack {
        page: "stacks/htmx1.html",
        lang: "ru",
        form_id: "lead",
        fields: LEAD_FIELDS,
        own: &["htmxTrigger", "htmxAjax"],
        submit: "htmxTrigger",
        sends: Sends::Lead,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htmx_2_trigger_and_ajax_are_refused_until_ticked() -> Result<()> {
    run(&Stack {
        page: "stacks/htmx2.html",
        lang: "ru",
        form_id: "lead",
        fields: LEAD_FIELDS,
        own: &["htmxTrigger", "htmxAjax"],
        submit: "htmxTrigger",
        sends: Sends::Lead,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_in_an_open_shadow_root_is_guarded() -> Result<()> {
    run(&Stack {
        page: "stacks/shadow.html",
        lang: "kk",
        form_id: "card",
        fields: LEAD_FIELDS,
        own: &["send", "declaredRequestSubmit", "declaredClick"],
        submit: "click",
        sends: Sends::Lead,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_added_two_seconds_after_load_is_guarded() -> Result<()> {
    run(&Stack {
        page: "stacks/late.html",
        lang: "ru",
        form_id: "lead",
        fields: LEAD_FIELDS,
        own: &[],
        submit: "click",
        sends: Sends::Form,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camel_case_fields_on_a_multi_form_page_are_guarded_without_the_wasm() -> Result<()> {
    run(&Stack {
        page: "stacks/multi.html",
        lang: "ru",
        form_id: "one-click",
        fields: &[("[name=userTel]", PHONE)],
        own: &[
            "mailOnlyClick",
            "mailOnlyRequestSubmit",
            "mailOnlySubmit",
            "newsletterSubmit",
        ],
        submit: "click",
        sends: Sends::Form,
    })
    .await
}
