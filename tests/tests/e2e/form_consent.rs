//! The walking skeleton: the demo form is blocked until consent is ticked, then a signed,
//! verifiable receipt exists and nothing the visitor typed reached the collector's files.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use kelisim_tests::{Browser, Collector, jose, wait};
use serde_json::Value;
use thirtyfour::prelude::*;

const NAME: &str = "Айгерим Сапарова";
const PHONE: &str = "8 (701) 555-12-34";
const PHONE_DIGITS: &str = "7015551234";
const MESSAGE: &str = "Нужен расчёт доставки двенадцати паллет из Алматы в Астану";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_form_needs_consent_and_yields_a_verifiable_receipt() -> Result<()> {
    let collector = Collector::start_demo().await?;
    let browser = Browser::start().await?;
    let result = walk_through(&collector, &browser).await;
    browser.quit().await?;
    let receipt_ref = result?;

    // The receipt is sent with fetch keepalive while the page navigates: bounded time to arrive.
    let stored = collector.stored_receipt(&receipt_ref).await?;
    let jws = stored["jws"].as_str().context("stored receipt has a jws")?;
    let jwks = collector.jwks().await?;
    let payload = jose::verify(jws, &jwks)?;
    assert_eq!(payload["site"], "demo");
    assert_eq!(payload["kind"], "form");
    assert_eq!(payload["event"], "given");
    assert_eq!(payload["ref"], receipt_ref.as_str());
    assert_eq!(payload["id"], stored["id"]);
    assert_eq!(payload["policy"]["version"], "2026-03");
    assert_eq!(payload["notice"]["lang"], "ru");
    assert_eq!(payload["context"]["form_id"], "feedback");
    let fields = payload["context"]["fields"]
        .as_array()
        .context("field names")?;
    for name in ["name", "phone", "message"] {
        assert!(
            fields.iter().any(|f| f == name),
            "field name {name} in {fields:?}"
        );
    }
    // The demo's optional purpose (news by e-mail and SMS) was left unticked: the form went
    // through on the required consent alone, and the receipt says news was not granted.
    assert_eq!(
        payload["purposes"],
        serde_json::json!([{ "id": "feedback", "granted": true }, { "id": "news", "granted": false }])
    );
    let text = payload.to_string();
    assert!(!text.contains(PHONE_DIGITS) && !text.contains("Айгерим") && !text.contains("паллет"));

    // The operator's offline check with the collector's own CLI, from a JWKS file.
    let jwks_file = collector.data_dir().join("jwks-copy.json");
    std::fs::write(&jwks_file, serde_json::to_vec(&jwks)?)?;
    let verify = std::process::Command::new(Collector::binary())
        .arg("verify")
        .arg(jws)
        .arg("--jwks")
        .arg(&jwks_file)
        .output()?;
    ensure!(
        verify.status.success(),
        "verify rejected a genuine receipt: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // Nothing typed into the form is anywhere in the collector's files (db, WAL, keys).
    let data = collector.stop().await?;
    for entry in kelisim_tests::files_under(data.path())? {
        let bytes = std::fs::read(&entry)?;
        for typed in [NAME, PHONE, PHONE_DIGITS, MESSAGE, "Айгерим", "паллет"] {
            ensure!(
                !contains(&bytes, typed.as_bytes()),
                "{} contains the typed value {typed:?}",
                entry.display()
            );
        }
    }
    Ok(())
}

/// Fills the demo form, checks that an unticked submission is blocked, then submits with
/// consent and returns the receipt reference the thank-you page shows.
async fn walk_through(collector: &Collector, browser: &Browser) -> Result<String> {
    let driver = &browser.driver;
    driver
        .goto(format!("{}/contact.html", collector.url))
        .await?;
    widget_ready(driver).await?;
    fill(driver).await?;
    let error = submit_refused(driver).await?;
    let box_ = driver
        .find(By::Css("#feedback .kelisim-consent__box"))
        .await?;
    assert_eq!(box_.attr("aria-invalid").await?.as_deref(), Some("true"));
    let error_text = error.text().await?;
    assert!(
        error_text.contains("согласие"),
        "russian error text, got {error_text:?}"
    );

    box_.click().await?;
    let reference = submit_accepted(driver).await?;
    ensure!(
        reference.len() == 32 && reference.chars().all(|c| c.is_ascii_hexdigit()),
        "receipt reference should be 32 hex digits, got {reference:?}"
    );
    Ok(reference)
}

/// The demo's optional purpose has a box of its own under the consent box, in the page's
/// language, unticked. Ticked alone it sends nothing; ticked with the consent box, the receipt
/// grants it and the site receives `kelisim_purpose=news` with the form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_optional_purpose_is_a_box_of_its_own_granted_only_when_ticked() -> Result<()> {
    let collector = Collector::start_demo().await?;
    let mut reference = String::new();
    Browser::start()
        .await?
        .run(async |browser: &Browser| {
            let driver = &browser.driver;
            driver
                .goto(format!("{}/kk/contact.html", collector.url))
                .await?;
            widget_ready(driver).await?;
            let news = driver
                .find(By::Css(
                    "#feedback .kelisim-consent__purpose input[name=kelisim_purpose]",
                ))
                .await?;
            ensure!(!news.is_selected().await?, "never pre-ticked");
            ensure!(news.attr("value").await?.as_deref() == Some("news"));
            let label = driver
                .find(By::Css("#feedback .kelisim-consent__purpose label"))
                .await?;
            ensure!(
                label.text().await?
                    == "Жаңалықтар мен арнайы ұсыныстарды e-mail және SMS арқылы алуға келісемін",
                "the box's text in the page's language: {:?}",
                label.text().await?
            );
            fill(driver).await?;
            // Clicking the label ticks its box (a real <label for>).
            label.click().await?;
            ensure!(news.is_selected().await?, "the label ticks the box");
            // The optional box alone does not send the form.
            submit_refused(driver).await?;
            driver
                .find(By::Css("#feedback .kelisim-consent__box"))
                .await?
                .click()
                .await?;
            reference = submit_accepted(driver).await?;
            Ok(())
        })
        .await?;
    let payload = collector.verified_receipt(&reference).await?;
    assert_eq!(
        payload["purposes"],
        serde_json::json!([{ "id": "feedback", "granted": true }, { "id": "news", "granted": true }])
    );
    assert_eq!(payload["notice"]["lang"], "kk");
    collector.stop().await?;
    Ok(())
}

/// Types a name, a phone number and a message into the demo form.
async fn fill(driver: &WebDriver) -> Result<()> {
    for (name, value) in [("name", NAME), ("phone", PHONE), ("message", MESSAGE)] {
        driver
            .find(By::Css(format!("#feedback [name={name}]")))
            .await?
            .send_keys(value)
            .await?;
    }
    Ok(())
}

/// Submits the demo form and waits for the consent error; the page stays. Returns the error.
async fn submit_refused(driver: &WebDriver) -> Result<WebElement> {
    driver
        .find(By::Css("#feedback [type=submit]"))
        .await?
        .click()
        .await?;
    let error = driver
        .find(By::Css("#feedback .kelisim-consent__error"))
        .await?;
    wait::until(
        "the consent error to show",
        Duration::from_secs(5),
        || async { Ok(error.is_displayed().await?.then_some(())) },
    )
    .await?;
    ensure!(
        driver.current_url().await?.path().ends_with("contact.html"),
        "a refused form stays on its page"
    );
    Ok(error)
}

/// Submits the demo form and waits for the thank-you page: the receipt reference it shows.
async fn submit_accepted(driver: &WebDriver) -> Result<String> {
    driver
        .find(By::Css("#feedback [type=submit]"))
        .await?
        .click()
        .await?;
    wait::until("the thank-you page", Duration::from_secs(10), || async {
        if !driver.current_url().await?.path().ends_with("/feedback") {
            return Ok(None);
        }
        Ok(Some(
            driver.find(By::Id("receipt-ref")).await?.text().await?,
        ))
    })
    .await
}

async fn widget_ready(driver: &WebDriver) -> Result<()> {
    wait::until("the widget to start", Duration::from_secs(15), || async {
        let state = driver
            .execute(
                "return document.documentElement.dataset.kelisim || null",
                vec![],
            )
            .await?;
        Ok((state.json() == &Value::from("ready")).then_some(()))
    })
    .await
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
