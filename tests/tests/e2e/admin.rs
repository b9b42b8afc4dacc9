//! The admin side as a new user tries it (issue 7): create a token with the CLI, submit the
//! demo form with a phone number, sign in on /admin, find the receipt by typing the phone
//! another way, open it, export CSV and Kantara JSON, withdraw it with confirmation — and
//! the next visit to the form asks for consent again, and so does the cookie banner the
//! visitor had answered "Accept all" in the same browser. axe-core checks the admin page.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use kelisim_tests::{Browser, Collector, axe, wait};
use serde_json::Value;
use thirtyfour::prelude::*;

const PHONE_TYPED: &str = "8 (701) 555-12-34";
const PHONE_SEARCHED: &str = "+7 701 5551234";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_admin_finds_exports_and_withdraws_a_consent() -> Result<()> {
    let collector = Collector::start_demo().await?;
    // 1. A token, as the README tells a new user to make one.
    let out = std::process::Command::new(Collector::binary())
        .args([
            "tokens", "create", "--site", "demo", "--scope", "admin", "--config",
        ])
        .arg(kelisim_tests::root().join("demo/kelisim.toml"))
        .arg("--data-dir")
        .arg(collector.data_dir())
        .output()?;
    ensure!(
        out.status.success(),
        "tokens create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    ensure!(token.starts_with("kls_"), "token printed: {token:?}");

    let browser = Browser::start().await?;
    let result = walk_through(&collector, &browser, &token).await;
    browser.quit().await?;
    result
}

async fn walk_through(collector: &Collector, browser: &Browser, token: &str) -> Result<()> {
    let driver = &browser.driver;
    // 2. A visitor submits the demo form with a phone number.
    driver
        .goto(format!("{}/contact.html", collector.url))
        .await?;
    widget_ready(driver).await?;
    // The visitor also answers the cookie banner: "Accept all".
    driver.find(By::Css(ACCEPT_ALL)).await?.click().await?;
    ensure!(granted(driver, "analytics").await?, "analytics granted");
    fill_form(driver).await?;
    driver
        .find(By::Css("#feedback .kelisim-consent__box"))
        .await?
        .click()
        .await?;
    driver
        .find(By::Css("#feedback [type=submit]"))
        .await?
        .click()
        .await?;
    let reference = wait::until("the thank-you page", Duration::from_secs(10), || async {
        if !driver.current_url().await?.path().ends_with("/feedback") {
            return Ok(None);
        }
        Ok(Some(
            driver.find(By::Id("receipt-ref")).await?.text().await?,
        ))
    })
    .await?;
    let http = reqwest::Client::new();
    let stored: Value = wait::until("the receipt to be stored", Duration::from_secs(15), || {
        let url = format!("{}/v1/receipts/{reference}", collector.url);
        let http = http.clone();
        async move {
            let resp = http.get(url).send().await?;
            Ok(if resp.status().is_success() {
                Some(resp.json().await?)
            } else {
                None
            })
        }
    })
    .await?;
    let id = stored["id"].as_str().context("id")?.to_owned();

    // 3. The admin page: accessible before and after signing in.
    driver
        .goto(format!("{}/admin?lang=ru", collector.url))
        .await?;
    wait::until(
        "the admin page's texts",
        Duration::from_secs(10),
        || async {
            let title = driver.title().await?;
            Ok(title.contains("квитанции").then_some(()))
        },
    )
    .await?;
    let found = axe::serious_violations(driver, "body").await?;
    ensure!(found.is_empty(), "axe on the sign-in form: {found:#?}");
    driver.find(By::Id("site")).await?.send_keys("demo").await?;
    driver.find(By::Id("token")).await?.send_keys(token).await?;
    driver
        .find(By::Css("#signin-form button[type=submit]"))
        .await?
        .click()
        .await?;
    // Two receipts: the cookie choice and the form's consent.
    rows(driver, 2).await?;

    // 4. Find it by typing the phone another way.
    let subject = driver.find(By::Id("f-subject")).await?;
    subject.send_keys(PHONE_SEARCHED).await?;
    driver
        .find(By::Css("#filters button[type=submit]"))
        .await?
        .click()
        .await?;
    let found_rows = rows(driver, 1).await?;
    ensure!(
        found_rows[0].contains("действует"),
        "status given in ru: {found_rows:?}"
    );
    let found = axe::serious_violations(driver, "body").await?;
    ensure!(found.is_empty(), "axe on the results: {found:#?}");

    // Open it: decoded payload, a valid signature.
    driver
        .find(By::Css("button.open-receipt"))
        .await?
        .click()
        .await?;
    let facts = wait::until("the receipt dialog", Duration::from_secs(10), || async {
        let text = driver.find(By::Id("detail-facts")).await?.text().await?;
        Ok(text.contains(&id).then_some(text))
    })
    .await?;
    ensure!(
        facts.contains("✓ Ed25519"),
        "signature shown as valid: {facts}"
    );
    let payload = driver.find(By::Id("detail-payload")).await?.text().await?;
    ensure!(payload.contains(&reference), "payload shows the reference");
    ensure!(!payload.contains("5551234"), "no raw phone in the payload");
    let found = axe::serious_violations(driver, "dialog#detail").await?;
    ensure!(found.is_empty(), "axe on the receipt dialog: {found:#?}");
    driver
        .find(By::Css("#detail form button"))
        .await?
        .click()
        .await?;

    // 5. Exports, as the buttons fetch them (the page adds the same bearer header).
    let export = |format: &'static str| {
        http.get(format!(
            "{}/v1/admin/sites/demo/export?format={format}&subject=87015551234",
            collector.url
        ))
        .bearer_auth(token)
        .send()
    };
    let csv = export("csv").await?.bytes().await?;
    ensure!(csv.starts_with("\u{feff}seq,".as_bytes()), "CSV with a BOM");
    ensure!(
        String::from_utf8(csv.to_vec())?.contains(&id),
        "CSV has the receipt"
    );
    let kantara: Value = serde_json::from_str(export("kantara").await?.text().await?.trim())?;
    ensure!(
        kantara["consentReceiptID"] == id.as_str(),
        "Kantara receipt of {id}"
    );
    ensure!(kantara["version"] == "KI-CR-v1.1.0");

    // 6. Withdraw it on the subject's request, confirming in the dialog.
    driver
        .find(By::Id("a-subject"))
        .await?
        .send_keys(PHONE_TYPED)
        .await?;
    driver.find(By::Id("withdraw")).await?.click().await?;
    driver.find(By::Id("confirm-ok")).await?.click().await?;
    wait::until("the withdrawal", Duration::from_secs(10), || async {
        let text = driver.find(By::Id("action-result")).await?.text().await?;
        // The form's consent and the same browser's cookie choice.
        Ok(text.ends_with(": 2").then_some(()))
    })
    .await?;
    let detail: Value = http
        .get(format!(
            "{}/v1/admin/sites/demo/receipts/{id}",
            collector.url
        ))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        detail["status"] == "withdrawn",
        "status after withdrawal: {detail}"
    );

    // 7. The visitor's next visit (a new tab: a new browsing session): the cookie banner
    // asks again, with only the necessary cookies until answered, and the form asks for
    // consent again (never pre-ticked).
    let tab = driver.new_tab().await?;
    driver.switch_to_window(tab).await?;
    driver
        .goto(format!("{}/contact.html", collector.url))
        .await?;
    widget_ready(driver).await?;
    ensure!(
        !driver.find_all(By::Css(ACCEPT_ALL)).await?.is_empty(),
        "the cookie banner asks again after the admin's withdrawal"
    );
    ensure!(
        !granted(driver, "analytics").await?,
        "analytics no longer granted"
    );
    let box_ = driver
        .find(By::Css("#feedback .kelisim-consent__box"))
        .await?;
    ensure!(
        !box_.is_selected().await?,
        "consent box unticked after withdrawal"
    );
    fill_form(driver).await?;
    driver
        .find(By::Css("#feedback [type=submit]"))
        .await?
        .click()
        .await?;
    let error = driver
        .find(By::Css("#feedback .kelisim-consent__error"))
        .await?;
    wait::until("the form to ask again", Duration::from_secs(5), || async {
        Ok(error.is_displayed().await?.then_some(()))
    })
    .await?;
    ensure!(
        driver
            .current_url()
            .await?
            .path()
            .ends_with("/contact.html")
    );
    Ok(())
}

async fn fill_form(driver: &WebDriver) -> Result<()> {
    for (field, value) in [
        ("name", "Ерлан"),
        ("phone", PHONE_TYPED),
        ("message", "Сәлем"),
    ] {
        let input = driver
            .find(By::Css(format!("#feedback [name={field}]")))
            .await?;
        input.clear().await?;
        input.send_keys(value).await?;
    }
    Ok(())
}

/// Waits for `count` rows in the results table; returns their texts (read in one script:
/// the table is re-rendered by each search).
async fn rows(driver: &WebDriver, count: usize) -> Result<Vec<String>> {
    wait::until("the results", Duration::from_secs(10), || async {
        let texts = driver
            .execute(
                "return [...document.querySelectorAll('#results tbody tr')].map(r => r.innerText)",
                vec![],
            )
            .await?;
        let texts: Vec<String> = serde_json::from_value(texts.json().clone())?;
        Ok((texts.len() == count).then_some(texts))
    })
    .await
}

const ACCEPT_ALL: &str = "section.kelisim-banner [data-kelisim-action=accept]";

/// Whether the widget granted cookie category `id` on this page.
async fn granted(driver: &WebDriver, id: &str) -> Result<bool> {
    let answer = driver
        .execute(
            "return window.kelisim.granted(arguments[0]) === true",
            vec![id.into()],
        )
        .await?;
    Ok(answer.json() == &Value::Bool(true))
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
