//! The admin side as a new user tries it (issue 7): create a token with the CLI, submit the
//! demo form with a phone number, sign in on /admin, find the receipt by typing the phone
//! another way, open it, export CSV and Kantara JSON, withdraw it with confirmation — and
//! the next visit to the form asks for consent again, and so does the cookie banner the
//! visitor had answered "Accept all" in the same browser. axe-core checks the admin page.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use kelisim_tests::{Browser, Collector, axe, wait};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

const PHONE_TYPED: &str = "8 (701) 555-12-34";
const PHONE_SEARCHED: &str = "+7 701 5551234";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_admin_finds_exports_and_withdraws_a_consent() -> Result<()> {
    let collector = Collector::start_demo().await?;
    // 1. A token, as the README tells a new user to make one.
    let token = collector.token(
        &kelisim_tests::root().join("demo/kelisim.toml"),
        "demo",
        "admin",
    )?;
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
        facts.contains("✓ подпись верна — Ed25519"),
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

/// Form consents posted for the dashboard test: more than one page of the list (20 rows).
const FORMS: usize = 23;

/// The demo config without the operator's address and withdrawal contact, in a directory of
/// its own that links the demo's policy texts.
fn config_without_contact(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let demo = kelisim_tests::root().join("demo");
    let text = std::fs::read_to_string(demo.join("kelisim.toml"))?;
    let text: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("address =") && !l.starts_with("contact ="))
        .collect();
    std::os::unix::fs::symlink(demo.join("policies"), dir.join("policies"))?;
    let path = dir.join("kelisim.toml");
    std::fs::write(&path, text.join("\n"))?;
    Ok(path)
}

/// A receipt request from the wire fixtures, with a fresh key.
fn request(fixture: &str, key: String) -> Result<Value> {
    let path = kelisim_tests::root()
        .join("tests/fixtures/wire")
        .join(fixture);
    let mut body: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    body["key"] = key.into();
    Ok(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_charts_pages_opens_and_names_empty_art8_items() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = config_without_contact(dir.path())?;
    let collector = Collector::serve(&config, Collector::data_dir_for_a_test()?, 0).await?;
    let http = reqwest::Client::new();
    let post = |body: Value| {
        http.post(format!("{}/v1/receipts", collector.url))
            .json(&body)
            .send()
    };
    for i in 0..FORMS {
        let r = post(request(
            "receipt_request_form_given.json",
            format!("{i:032x}"),
        )?)
        .await?;
        ensure!(r.status() == 201, "form consent {i}: {}", r.text().await?);
    }
    // Cookie choices: accept all, reject all, custom (analytics only).
    let mut cookies = Vec::new();
    for (i, (event, grants)) in [
        ("given", [true, true, true]),
        ("refused", [false, false, false]),
        ("updated", [true, false, false]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = request("receipt_request_cookies_updated.json", format!("c{i:031x}"))?;
        body["event"] = event.into();
        let ids = ["analytics", "marketing", "session_recording"];
        let mut categories = vec![serde_json::json!({ "id": "necessary", "granted": true })];
        categories.extend(
            ids.iter()
                .zip(grants)
                .map(|(id, g)| serde_json::json!({ "id": id, "granted": g })),
        );
        body["categories"] = Value::Array(categories);
        let r = post(body).await?;
        ensure!(
            r.status() == 201,
            "cookie choice {event}: {}",
            r.text().await?
        );
        cookies.push(event);
    }
    // Two findings a widget reported (tests/e2e/health.rs drives a real one).
    let r = http
        .post(format!("{}/v1/sites/demo/diagnostics", collector.url))
        .json(&json!({ "events": [
            { "path": "/contact.html", "code": "analytics_before_widget", "detail": "yandex_metrika", "count": 3 },
            { "path": "/", "code": "gated_script_failed", "detail": "analytics", "count": 1 },
        ] }))
        .send()
        .await?;
    ensure!(r.status() == 204, "diagnostics: {}", r.text().await?);
    let token = collector.token(&config, "demo", "read")?;

    let browser = Browser::start().await?;
    let result = dashboard(&collector, &browser, &token).await;
    browser.quit().await?;
    result
}

async fn dashboard(collector: &Collector, browser: &Browser, token: &str) -> Result<()> {
    let driver = &browser.driver;
    browser.emulate(1280, 800, false).await?;
    driver
        .goto(format!("{}/admin?lang=ru", collector.url))
        .await?;
    driver.find(By::Id("site")).await?.send_keys("demo").await?;
    driver.find(By::Id("token")).await?.send_keys(token).await?;
    driver
        .find(By::Css("#signin-form button[type=submit]"))
        .await?
        .click()
        .await?;

    // Paging: 20 newest, then the older 6, then back.
    let total = FORMS + 3;
    let first = rows(driver, 20).await?;
    ensure!(
        first[0].starts_with(&total.to_string()),
        "newest first: {first:?}"
    );
    let text = |id: &'static str| async move { driver.find(By::Id(id)).await?.text().await };
    ensure!(text("page-n").await? == "Страница 1");
    ensure!(
        !driver.find(By::Id("newer")).await?.is_enabled().await?,
        "no newer page"
    );
    driver.find(By::Id("older")).await?.click().await?;
    let second = rows(driver, total - 20).await?;
    ensure!(
        second[0].starts_with(&(total - 20).to_string()),
        "older page: {second:?}"
    );
    ensure!(text("page-n").await? == "Страница 2");
    ensure!(
        !driver.find(By::Id("older")).await?.is_enabled().await?,
        "no older page"
    );
    driver.find(By::Id("newer")).await?.click().await?;
    ensure!(rows(driver, 20).await? == first, "back to the newest page");
    // Times in the site's zone, which the column names.
    let th = text("th-time").await?;
    ensure!(th.contains("Asia/Almaty"), "time column: {th}");

    // Filters: cookie choices only.
    driver
        .find(By::Css("#f-kind option[value=cookies]"))
        .await?
        .click()
        .await?;
    driver
        .find(By::Css("#filters button[type=submit]"))
        .await?
        .click()
        .await?;
    let found = rows(driver, 3).await?;
    ensure!(
        found.iter().all(|r| r.contains("cookie")),
        "cookie rows: {found:?}"
    );

    // Detail: decoded payload, verification, downloads.
    driver
        .find(By::Css("button.open-receipt"))
        .await?
        .click()
        .await?;
    let facts = wait::until("the receipt dialog", Duration::from_secs(10), || async {
        let text = driver.find(By::Id("detail-facts")).await?.text().await?;
        Ok(text.contains("подпись").then_some(text))
    })
    .await?;
    ensure!(facts.contains("✓ подпись верна"), "verified: {facts}");
    let payload = driver.find(By::Id("detail-payload")).await?.text().await?;
    ensure!(
        payload.contains("\"categories\""),
        "decoded payload: {payload}"
    );
    for link in ["detail-jws", "detail-kantara", "detail-proof"] {
        ensure!(
            driver.find(By::Id(link)).await?.is_displayed().await?,
            "{link}"
        );
    }
    // The proof link serves the receipt with its C2SP inclusion proof.
    let proof = driver
        .find(By::Id("detail-proof"))
        .await?
        .prop("href")
        .await?
        .context("the proof link has an address")?;
    let body = reqwest::get(&proof)
        .await?
        .error_for_status()?
        .text()
        .await?;
    ensure!(
        body.starts_with("c2sp.org/tlog-proof@v1"),
        "{proof}: {body}"
    );
    let found = axe::serious_violations(driver, "dialog#detail").await?;
    ensure!(found.is_empty(), "axe on the receipt dialog: {found:#?}");
    driver
        .find(By::Css("#detail form button"))
        .await?
        .click()
        .await?;

    // Charts: 30 days by default, today's bar with every count; their tables alike.
    let chart = wait::until("the charts", Duration::from_secs(10), || async {
        let v = driver
            .execute(
                "const c = document.querySelector('#chart-events');
                 const rows = [...c.querySelectorAll('table.chart-table tbody tr')]
                   .map(r => [...r.children].map(x => x.textContent));
                 return { bars: c.querySelectorAll('svg g.bucket').length, rows,
                   ticks: c.querySelectorAll('svg text.tick').length,
                   legend: c.querySelectorAll('.legend li').length,
                   cats: [...document.querySelectorAll('#chart-categories table tbody tr')]
                     .map(r => [...r.children].map(x => x.textContent)) };",
                vec![],
            )
            .await?;
        let v = v.json().clone();
        Ok((v["bars"].as_u64() == Some(30)).then_some(v))
    })
    .await?;
    ensure!(
        chart["legend"] == 5 && chart["ticks"].as_u64() > Some(5),
        "axes and legend: {chart}"
    );
    let rows_30 = chart["rows"].as_array().context("rows")?;
    ensure!(rows_30.len() == 30, "a table row per day");
    // Today: 23 form consents, 1 accept all, 1 custom, 1 reject all, 0 withdrawals.
    let today = rows_30[29].as_array().context("today's row")?;
    ensure!(
        today[1..] == [json!("23"), json!("1"), json!("1"), json!("1"), json!("0")],
        "today: {today:?}"
    );
    let cats: Vec<Value> = chart["cats"].as_array().context("cats")?.clone();
    let analytics = cats
        .iter()
        .find(|r| r[0] == "analytics")
        .context("analytics row")?;
    ensure!(
        analytics[1] == "66.7 %" && analytics[2] == "2 из 3",
        "analytics: {analytics}"
    );
    // The numbers on keyboard focus.
    driver
        .execute(
            "document.querySelectorAll('#chart-events g.bucket')[29].focus()",
            vec![],
        )
        .await?;
    let tip = driver.find(By::Id("chart-tip")).await?;
    ensure!(tip.is_displayed().await?, "tooltip on focus");
    let tip = tip.text().await?;
    ensure!(tip.contains("Согласия в формах: 23"), "tooltip: {tip}");

    // Art. 8: the two keys this config leaves empty are named.
    let summary = wait::until("the Art. 8 panel", Duration::from_secs(10), || async {
        let s = text("art8-summary").await?;
        Ok((!s.is_empty()).then_some(s))
    })
    .await?;
    ensure!(
        summary.contains("Адрес оператора") && summary.contains("Контакт для отзыва согласия"),
        "Art. 8 summary: {summary}"
    );
    let empty = driver
        .find_all(By::Css("#art8-table tr[data-coverage=empty]"))
        .await?;
    ensure!(empty.len() == 2, "two empty rows");

    // Site health: the error first, with its fix in Russian.
    let health = wait::until("the site health panel", Duration::from_secs(10), || async {
        let t = driver.find(By::Id("health-table")).await?.text().await?;
        Ok(t.contains("Ошибка").then_some(t))
    })
    .await?;
    ensure!(health.contains("выше кода Yandex.Metrika"), "{health}");
    ensure!(text("health-summary").await?.starts_with("Найдено: 2"));

    let found = axe::serious_violations(driver, "body").await?;
    ensure!(found.is_empty(), "axe on the dashboard: {found:#?}");

    // docs/admin.md's screenshot, when asked for: the dashboard at its top, in Russian.
    if let Ok(path) = std::env::var("KELISIM_ADMIN_SCREENSHOT") {
        driver
            .execute(
                "window.scrollTo(0, 0); document.activeElement.blur()",
                vec![],
            )
            .await?;
        driver.screenshot(std::path::Path::new(&path)).await?;
    }
    Ok(())
}
