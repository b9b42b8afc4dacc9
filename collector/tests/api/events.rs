//! Consent events beyond `given`: cookie choices (given, refused, updated) checked against
//! the site's categories, form refusals, and withdrawal through its own endpoint — signed,
//! chained, idempotent, and only by the holder of the receipt's withdrawal secret.

use actix_web::test::{self, TestRequest};
use kelisim_collector::build_app;

use crate::support::{
    Harness, fixture, get_jwks, payload_of, post_receipt, post_withdraw, send,
    verify_with_jsonwebtoken,
};

const BROWSER: &str = "5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94";
const GIVEN_REF: &str = "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3";
/// The withdrawal secret of the form fixture (and of the cookie receipts here).
const SECRET: &str = "9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c";

/// A cookie-banner receipt for the test site's categories (necessary, analytics, marketing).
fn cookies(key: &str, event: &str, analytics: bool, marketing: bool) -> String {
    format!(
        r#"{{
  "site": "demo", "kind": "cookies", "event": "{event}", "key": "{key}", "secret": "{SECRET}",
  "policy_version": "2026-03", "lang": "en",
  "categories": [
    {{ "id": "necessary", "granted": true }},
    {{ "id": "analytics", "granted": {analytics} }},
    {{ "id": "marketing", "granted": {marketing} }}
  ],
  "subject": {{ "browser_id": "{BROWSER}" }},
  "context": {{ "page_url": "https://example.kz/", "form_id": null, "fields": [], "gpc": false }}
}}"#
    )
}

#[actix_web::test]
async fn cookie_choices_are_recorded_with_every_category() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let cases = [
        ("given", true, true),
        ("refused", false, false),
        ("updated", true, false),
    ];
    for (i, (event, analytics, marketing)) in cases.into_iter().enumerate() {
        let key = format!("{:032x}", 0xc00 + i);
        let reply = send(
            &app,
            post_receipt(&cookies(&key, event, analytics, marketing)).to_request(),
        )
        .await;
        assert_eq!(reply.status, 201, "{event}: {}", reply.text());
        let payload = payload_of(reply.json()["jws"].as_str().expect("jws"));
        assert_eq!(payload["kind"], "cookies");
        assert_eq!(payload["event"], event);
        assert_eq!(payload["categories"][1]["granted"], analytics, "{payload}");
        assert!(payload.get("purposes").is_none(), "{payload}");
        assert_eq!(payload["notice"]["lang"], "en");
    }
    assert_eq!(h.count(), 3);
}

#[actix_web::test]
async fn inconsistent_choices_are_refused_and_change_nothing() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let key = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
    let necessary_refused = cookies(key, "updated", true, true).replacen(
        r#""id": "necessary", "granted": true"#,
        r#""id": "necessary", "granted": false"#,
        1,
    );
    let missing_category = cookies(key, "updated", true, true).replacen(
        r#"{ "id": "marketing", "granted": true }"#,
        r#"{ "id": "analytics", "granted": true }"#,
        1,
    );
    let unknown_category = cookies(key, "updated", true, true).replacen("marketing", "ads", 1);
    let given = fixture("receipt_request_form_given.json");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "necessary refused",
            necessary_refused,
            "category `necessary` is required and cannot be refused",
        ),
        (
            "partial given",
            cookies(key, "given", true, false),
            "a `given` cookie receipt grants every category, but `marketing` is not granted",
        ),
        (
            "refused grants",
            cookies(key, "refused", true, false),
            "a `refused` cookie receipt grants only required categories, but `analytics` is granted",
        ),
        (
            "listed twice",
            missing_category,
            "category `analytics` is listed twice",
        ),
        (
            "unknown category",
            unknown_category,
            "category `ads` is not declared for site `demo`",
        ),
        (
            "cookies with purposes",
            cookies(key, "updated", true, true).replacen(
                "\"categories\"",
                "\"purposes\": [], \"categories\"",
                1,
            ),
            "`purposes` belongs to `form` receipts",
        ),
        (
            "form without purposes",
            given.replacen(
                r#""purposes": [{ "id": "feedback", "granted": true }],"#,
                "",
                1,
            ),
            "a `form` receipt needs `purposes`",
        ),
        (
            "form refusal that grants",
            given.replacen(r#""event": "given""#, r#""event": "refused""#, 1),
            "a `refused` receipt cannot grant purpose `feedback`",
        ),
        (
            "withdrawal without a target",
            given.replacen(r#""event": "given""#, r#""event": "withdrawn""#, 1),
            "POST /v1/receipts/{id}/withdraw",
        ),
    ];
    for (name, body, detail) in cases {
        let reply = send(&app, post_receipt(&body).to_request()).await;
        let problem = reply.assert_problem(400, "invalid_body");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(detail)),
            "{name}: {problem}"
        );
        assert_eq!(h.count(), 0, "{name}: nothing stored");
    }
    // A form refusal with nothing granted is a valid receipt.
    let refusal = given
        .replacen(r#""event": "given""#, r#""event": "refused""#, 1)
        .replacen(r#""granted": true"#, r#""granted": false"#, 1);
    let reply = send(&app, post_receipt(&refusal).to_request()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());

    // A site without categories cannot record cookie consent.
    let plain = Harness::with_config(crate::support::config_with(""));
    let app = test::init_service(build_app(plain.state.clone())).await;
    let reply = send(
        &app,
        post_receipt(&cookies(key, "given", true, true)).to_request(),
    )
    .await;
    let problem = reply.assert_problem(400, "invalid_body");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("add [[site.category]]")),
        "{problem}"
    );
}

#[actix_web::test]
async fn a_withdrawal_is_its_own_signed_receipt_naming_the_one_it_withdraws() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let given = send(
        &app,
        post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
    )
    .await;
    assert_eq!(given.status, 201);
    let original = given.json();
    let original_id = original["id"].as_str().expect("id");
    let withdraw_key = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
    let status = |key: &str| {
        TestRequest::get()
            .uri(&format!("/v1/receipts/{key}/status"))
            .to_request()
    };
    let before = send(&app, status(GIVEN_REF)).await;
    assert_eq!(before.status, 200, "{}", before.text());
    assert_eq!(
        before.json(),
        serde_json::json!({ "id": original_id, "status": "given" })
    );

    // By reference, as the visitor's page knows it.
    let reply = send(
        &app,
        post_withdraw(GIVEN_REF, withdraw_key, SECRET).to_request(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let withdrawal = reply.json();
    let jwks = get_jwks(&app).await;
    let claims = verify_with_jsonwebtoken(withdrawal["jws"].as_str().expect("jws"), &jwks.body);
    let before = payload_of(original["jws"].as_str().expect("jws"));
    assert_eq!(claims["event"], "withdrawn");
    assert_eq!(claims["withdraws"], original_id);
    assert_eq!(claims["ref"], withdraw_key);
    assert_eq!(claims["seq"], 2);
    assert!(
        claims.get("prev").is_none(),
        "payload v3 links to no JWS: {claims}"
    );
    assert_eq!(
        claims["purposes"],
        serde_json::json!([{ "id": "feedback", "granted": false }])
    );
    // What was consented to is repeated: the withdrawal stands on its own as proof.
    for field in ["policy", "notice", "subject", "context", "kind", "site"] {
        assert_eq!(claims[field], before[field], "{field}");
    }

    // Retrying with the same key, or withdrawing again with a new one, or by id: the
    // same withdrawal, never a second one.
    for (target, key) in [
        (GIVEN_REF, withdraw_key),
        (GIVEN_REF, "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0"),
        (original_id, "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1"),
    ] {
        let again = send(&app, post_withdraw(target, key, SECRET).to_request()).await;
        assert_eq!(again.status, 200, "{target} {key}: {}", again.text());
        assert_eq!(again.json(), withdrawal);
    }
    assert_eq!(h.count(), 2);

    // What the widget asks about its stored choice: withdrawn, by reference or by id, with
    // the withdrawal's time; the withdrawal itself is just that; unknown keys are 404/400.
    let withdrawn_at = payload_of(withdrawal["jws"].as_str().expect("jws"))["issued_at"].clone();
    for key in [GIVEN_REF, original_id] {
        let after = send(&app, status(key)).await;
        assert_eq!(after.status, 200, "{key}");
        assert_eq!(
            after.json(),
            serde_json::json!({ "id": original_id, "status": "withdrawn", "withdrawn_at": withdrawn_at }),
            "{key}"
        );
    }
    let of_withdrawal = send(&app, status(withdraw_key)).await;
    assert_eq!(of_withdrawal.json()["status"], "withdrawn");
    send(&app, status("ffffffffffffffffffffffffffffffff"))
        .await
        .assert_problem(404, "not_found");
    send(&app, status("nope"))
        .await
        .assert_problem(400, "invalid_request");

    let report =
        kelisim_collector::log::audit::audit(&h.state.store.reader(), &h.state.public_keys())
            .expect("audit runs");
    assert!(report.is_intact(), "{report}");
}

#[actix_web::test]
async fn only_the_holder_of_the_secret_may_withdraw_and_only_a_consent() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    assert_eq!(
        send(
            &app,
            post_receipt(&fixture("receipt_request_form_given.json")).to_request()
        )
        .await
        .status,
        201
    );
    let key = "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1";
    // Another secret, the browser's own id, the reference itself: none opens the receipt.
    for stranger in ["99999999999999999999999999999999", BROWSER, GIVEN_REF, ""] {
        let reply = send(&app, post_withdraw(GIVEN_REF, key, stranger).to_request()).await;
        reply.assert_problem(403, "not_receipt_holder");
    }

    let missing = send(
        &app,
        post_withdraw("ffffffffffffffffffffffffffffffff", key, SECRET).to_request(),
    )
    .await;
    missing.assert_problem(404, "not_found");

    let bad_key = send(&app, post_withdraw(GIVEN_REF, "nope", SECRET).to_request()).await;
    bad_key.assert_problem(400, "invalid_body");

    let foreign = send(
        &app,
        post_withdraw(GIVEN_REF, key, SECRET)
            .insert_header(("origin", "https://evil.example"))
            .insert_header(("host", "127.0.0.1:8080"))
            .to_request(),
    )
    .await;
    foreign.assert_problem(403, "origin_not_allowed");

    let unknown_field = send(
        &app,
        TestRequest::post()
            .uri(&format!("/v1/receipts/{GIVEN_REF}/withdraw"))
            .insert_header(("content-type", "application/json"))
            .set_payload(format!(
                r#"{{"key":"{key}","secret":"{SECRET}","reason":"x"}}"#
            ))
            .to_request(),
    )
    .await;
    unknown_field.assert_problem(400, "invalid_body");
    // The withdrawal body of payload v1 (a browser id anyone could read off the receipt).
    let v1_body = send(
        &app,
        TestRequest::post()
            .uri(&format!("/v1/receipts/{GIVEN_REF}/withdraw"))
            .insert_header(("content-type", "application/json"))
            .set_payload(format!(r#"{{"key":"{key}","browser_id":"{BROWSER}"}}"#))
            .to_request(),
    )
    .await;
    let problem = v1_body.assert_problem(400, "invalid_body");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("browser_id")),
        "{problem}"
    );
    assert_eq!(h.count(), 1, "no rejection stored anything");

    // A withdrawal cannot itself be withdrawn, nor can a refusal.
    let withdrawal = send(&app, post_withdraw(GIVEN_REF, key, SECRET).to_request()).await;
    assert_eq!(withdrawal.status, 201);
    let again = send(
        &app,
        post_withdraw(key, "d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2", SECRET).to_request(),
    )
    .await;
    again.assert_problem(409, "not_withdrawable");
    let refusal = fixture("receipt_request_minimal.json")
        .replacen(r#""event": "given""#, r#""event": "refused""#, 1)
        .replacen(r#""granted": true"#, r#""granted": false"#, 1)
        .replacen(
            r#""policy_version""#,
            &format!(r#""secret": "{SECRET}", "policy_version""#),
            1,
        );
    assert_eq!(
        send(&app, post_receipt(&refusal).to_request()).await.status,
        201
    );
    let refused = send(
        &app,
        post_withdraw(
            "7e1f2a3b4c5d6e7f8091a2b3c4d5e6f7",
            "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3",
            SECRET,
        )
        .to_request(),
    )
    .await;
    refused.assert_problem(409, "not_withdrawable");
    assert_eq!(h.count(), 3);
}

#[actix_web::test]
async fn withdrawing_cookie_consent_keeps_required_categories() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let key = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
    assert_eq!(
        send(
            &app,
            post_receipt(&cookies(key, "given", true, true)).to_request()
        )
        .await
        .status,
        201
    );
    let reply = send(
        &app,
        post_withdraw(key, "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2", SECRET).to_request(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let payload = payload_of(reply.json()["jws"].as_str().expect("jws"));
    assert_eq!(
        payload["categories"],
        serde_json::json!([
            { "id": "necessary", "granted": true },
            { "id": "analytics", "granted": false },
            { "id": "marketing", "granted": false }
        ])
    );
}
