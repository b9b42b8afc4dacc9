//! Integration health (issue 18): the widget's diagnostic events are counted per site, finding
//! and page, read back by the site's admin with the fix in plain words; anything outside the
//! closed lists, a path with a query, another site's page or a stranger without a token gets
//! a problem and changes nothing.

use actix_web::test::{self, TestRequest};
use kelisim_collector::admin::health::MAX_ROWS_PER_SITE;
use kelisim_collector::build_app;
use kelisim_collector::store::Scope;
use serde_json::{Value, json};

use crate::support::{Harness, admin_token, send};

async fn token(h: &Harness, sites: &[&str]) -> String {
    admin_token(h, sites, Scope::Read).await
}

fn report(site: &str, body: &Value) -> TestRequest {
    TestRequest::post()
        .uri(&format!("/v1/sites/{site}/diagnostics"))
        .insert_header(("content-type", "application/json"))
        .insert_header(("origin", "http://127.0.0.1:8080"))
        .set_payload(body.to_string())
}

fn read(token: &str, lang: &str) -> TestRequest {
    TestRequest::get()
        .uri(&format!("/v1/admin/sites/demo/health?lang={lang}"))
        .insert_header(("authorization", format!("Bearer {token}")))
}

fn event(path: &str, code: &str, detail: &str, count: u32) -> Value {
    json!({ "path": path, "code": code, "detail": detail, "count": count })
}

#[actix_web::test]
async fn reports_are_counted_per_page_and_read_back_with_their_fix() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let metrika = event("/contact", "analytics_before_widget", "yandex_metrika", 1);
    let ignored = event("/orders/123456/edit", "unguarded_form", "ignored", 2);
    let r = send(
        &app,
        report("demo", &json!({ "events": [metrika, ignored] })).to_request(),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    // The same page view again, from another visitor: counted into the same rows.
    let r = send(
        &app,
        report("demo", &json!({ "events": [metrika] })).to_request(),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());

    let t = token(&h, &["demo"]).await;
    let r = send(&app, read(&t, "ru").to_request()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{body}");
    let first = &items[0];
    assert_eq!(first["code"], "analytics_before_widget");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["count"], 2);
    let fix = first["fix"].as_str().expect("fix");
    assert!(
        fix.contains("/contact") && fix.contains("Yandex.Metrika") && fix.contains("выше"),
        "{fix}"
    );
    // The order number in the path is not kept.
    assert_eq!(items[1]["path"], "/orders/*/edit");
    assert_eq!(items[1]["count"], 2);
    let en = send(&app, read(&t, "en").to_request()).await.json();
    assert!(
        en["items"][0]["fix"]
            .as_str()
            .is_some_and(|f| f.starts_with("Yandex.Metrika ran before kelisim.js on /contact")),
        "{en}"
    );
}

#[actix_web::test]
async fn bad_reports_are_refused_whole_and_change_nothing() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let good = event("/contact", "unguarded_form", "selector", 1);
    for body in [
        json!({ "events": [good, event("/c?phone=87011234567", "unguarded_form", "ignored", 1)] }),
        json!({ "events": [good, event("/c", "typed_value", "", 1)] }),
        json!({ "events": [good, event("/c", "analytics_before_widget", "aigerim@example.kz", 1)] }),
        json!({ "events": [good, event("/c", "gated_script_failed", "no_such_category", 1)] }),
        json!({ "events": [good, event("/c", "unguarded_form", "ignored", 0)] }),
        json!({ "events": [{ "path": "/c", "code": "unguarded_form", "detail": "ignored", "count": 1, "value": "Айгерим" }] }),
        json!({ "events": [good], "phone": "+7 701 123 45 67" }),
        json!({ "events": [] }),
        json!({ "events": vec![good.clone(); 17] }),
        json!("not an object"),
    ] {
        let r = send(&app, report("demo", &body).to_request()).await;
        r.assert_problem(400, "invalid_body");
    }
    let r = send(
        &app,
        report("nowhere", &json!({ "events": [good] })).to_request(),
    )
    .await;
    r.assert_problem(404, "unknown_site");
    let stranger = TestRequest::post()
        .uri("/v1/sites/demo/diagnostics")
        .insert_header(("content-type", "application/json"))
        .insert_header(("origin", "https://evil.example"))
        .set_payload(json!({ "events": [good] }).to_string());
    send(&app, stranger.to_request())
        .await
        .assert_problem(403, "origin_not_allowed");

    let t = token(&h, &["demo"]).await;
    let body = send(&app, read(&t, "en").to_request()).await.json();
    assert_eq!(body["items"], json!([]), "nothing was counted: {body}");
}

#[actix_web::test]
async fn only_the_sites_admin_reads_its_health() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let body = json!({ "events": [event("/", "widget_fallback", "wasm", 1)] });
    assert_eq!(
        send(&app, report("demo", &body).to_request()).await.status,
        204
    );
    let anonymous = TestRequest::get().uri("/v1/admin/sites/demo/health");
    send(&app, anonymous.to_request())
        .await
        .assert_problem(401, "unauthorized");
    let other = token(&h, &["other"]).await;
    send(&app, read(&other, "en").to_request())
        .await
        .assert_problem(403, "forbidden");
}

#[actix_web::test]
async fn a_site_keeps_a_bounded_number_of_rows_and_known_ones_still_count() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let pages: Vec<Value> = (0..MAX_ROWS_PER_SITE + 16)
        .map(|i| event(&format!("/p{}", i % 1000), "unguarded_form", "ignored", 1))
        .collect();
    for chunk in pages.chunks(16) {
        let r = send(
            &app,
            report("demo", &json!({ "events": chunk })).to_request(),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let again = json!({ "events": [event("/p0", "unguarded_form", "ignored", 5)] });
    assert_eq!(
        send(&app, report("demo", &again).to_request()).await.status,
        204
    );
    let t = token(&h, &["demo"]).await;
    let body = send(&app, read(&t, "en").to_request()).await.json();
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len() as i64, MAX_ROWS_PER_SITE);
    let p0 = items.iter().find(|i| i["path"] == "/p0").expect("/p0 kept");
    assert_eq!(p0["count"], 6);
    assert!(
        !items
            .iter()
            .any(|i| i["path"] == format!("/p{MAX_ROWS_PER_SITE}"))
    );
}

#[actix_web::test]
async fn a_form_field_the_consent_does_not_list_shows_in_the_sites_health() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let mut body: Value =
        serde_json::from_str(&crate::support::fixture("receipt_request_form_given.json"))
            .expect("fixture");
    body["context"]["fields"] = json!(["name", "phone", "message", "passport"]);
    let r = send(
        &app,
        crate::support::post_receipt(&body.to_string()).to_request(),
    )
    .await;
    assert_eq!(
        r.status,
        201,
        "the consent is recorded all the same: {}",
        r.text()
    );
    let t = token(&h, &["demo"]).await;
    let health = send(&app, read(&t, "en").to_request()).await.json();
    let items = health["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{health}");
    assert_eq!(items[0]["code"], "undeclared_field");
    assert_eq!(items[0]["detail"], "passport");
    assert!(
        items[0]["fix"]
            .as_str()
            .is_some_and(|f| f.contains("[site.data] collected")),
        "{health}"
    );
}
