//! `POST /v1/receipts` and `GET /v1/receipts/{id}`: the wire fixtures, replays, every
//! rejection (problem+json, store unchanged), signatures checked by jsonwebtoken.

use actix_web::test::{self, TestRequest};
use kelisim_collector::build_app;
use kelisim_collector::hash::sha256_hex;
use kelisim_collector::receipt::subject::SubjectKey;

use crate::support::{
    Harness, RAW_PHONE_DIGITS, assert_not_in_files, demo_config, fixture, get_jwks, post_receipt,
    send, verify_with_jsonwebtoken,
};

#[actix_web::test]
async fn fixtures_are_signed_chained_and_verify_with_an_independent_jose_library() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let jwks = get_jwks(&app).await;
    assert_eq!(jwks.status, 200);

    let given = send(
        &app,
        post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
    )
    .await;
    assert_eq!(given.status, 201, "{}", given.text());
    let minimal = send(
        &app,
        post_receipt(&fixture("receipt_request_minimal.json")).to_request(),
    )
    .await;
    assert_eq!(minimal.status, 201, "{}", minimal.text());
    assert_eq!(h.count(), 2);

    let body = given.json();
    let mut keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["id", "jws", "seq"]);
    assert_eq!(
        given.header("location"),
        Some(format!("/v1/receipts/{}", body["id"].as_str().expect("id")).as_str())
    );

    let first = verify_with_jsonwebtoken(body["jws"].as_str().expect("jws"), &jwks.body);
    let second = verify_with_jsonwebtoken(minimal.json()["jws"].as_str().expect("jws"), &jwks.body);

    // The payload states exactly what the visitor saw and did.
    let config = demo_config();
    let site = config.site("demo").expect("demo site");
    assert_eq!(first["v"], 3);
    assert_eq!(first["id"], body["id"]);
    assert_eq!(first["seq"], 1);
    assert_eq!(first["site"], "demo");
    assert_eq!(first["kind"], "form");
    assert_eq!(first["event"], "given");
    assert_eq!(first["ref"], "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3");
    assert_eq!(first["policy"]["version"], "2026-03");
    assert_eq!(
        first["policy"]["sha256"],
        sha256_hex(
            &std::fs::read(crate::support::demo_dir().join("policies/consent-2026-03.ru.md"))
                .expect("policy")
        )
    );
    assert_eq!(first["notice"]["lang"], "ru");
    assert_eq!(
        first["notice"]["sha256"],
        sha256_hex(site.texts["ru"].label.as_bytes())
    );
    assert_eq!(
        first["purposes"],
        serde_json::json!([{ "id": "feedback", "granted": true }])
    );
    assert_eq!(
        first["context"]["page_url"],
        "http://127.0.0.1:8080/contact.html"
    );
    assert_eq!(
        first["context"]["fields"],
        serde_json::json!(["name", "phone", "message"])
    );
    // No browser identifier; the phone as a commitment under this receipt's own salt, which
    // the collector keeps beside it; the index entry under the site's key.
    assert!(first["subject"].get("browser_id").is_none(), "{first}");
    let id = body["id"].as_str().expect("id").to_owned();
    let reader = h.state.store.reader();
    let row = reader.by_id(&id).expect("read").expect("stored");
    let kept = reader.private_of(row.seq).expect("private");
    let salt = kelisim_collector::hash::unhex(kept.salt.as_deref().expect("salt")).expect("hex");
    assert_eq!(
        first["subject"]["identifiers"],
        serde_json::json!([{
            "type": "phone",
            "commitment": kelisim_collector::receipt::subject::commitment_hex(&salt, "+77011234567")
        }])
    );
    let subject_key = SubjectKey::load(&h.data.subject_key_path()).expect("subject key");
    let site_keys = subject_key.site("demo");
    assert_eq!(kept.index[0].hmac, site_keys.index_hex("+77011234567"));
    assert_eq!(
        kept.browser,
        site_keys.browser_hex("5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94")
    );
    assert_eq!(
        row.holder_sha256.as_deref(),
        Some(sha256_hex(crate::support::FORM_SECRET.as_bytes()).as_str())
    );
    // Payload v3: the receipt's position is its signed `seq` and its leaf in the log's tree;
    // no `prev` ties it to the JWS before it (docs/receipt.md).
    assert!(first.get("prev").is_none(), "{first}");
    assert!(
        first["issued_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 24),
        "{}",
        first["issued_at"]
    );

    assert_eq!(second["seq"], 2);
    assert_eq!(second["notice"]["lang"], "kk");
    assert_eq!(second["context"]["form_id"], serde_json::Value::Null);
    assert_eq!(second["context"]["gpc"], true);
    assert_eq!(second["subject"]["identifiers"], serde_json::json!([]));
    assert!(second.get("prev").is_none(), "{second}");
}

#[actix_web::test]
async fn replay_returns_the_same_receipt_and_a_changed_body_conflicts() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let body = fixture("receipt_request_form_given.json");
    let first = send(&app, post_receipt(&body).to_request()).await;
    assert_eq!(first.status, 201);
    let again = send(&app, post_receipt(&body).to_request()).await;
    assert_eq!(again.status, 200, "an idempotent replay is 200");
    assert_eq!(again.json(), first.json(), "same id, seq and jws");
    // The same consent typed differently is the same receipt.
    let respelled = body.replace("8 (701) 123-45-67", "+7 701 123 45 67");
    let third = send(&app, post_receipt(&respelled).to_request()).await;
    assert_eq!((third.status.as_u16(), third.json()), (200, first.json()));
    assert_eq!(h.count(), 1);

    let changed = body.replace("\"gpc\": false", "\"gpc\": true");
    let conflict = send(&app, post_receipt(&changed).to_request()).await;
    let problem = conflict.assert_problem(409, "idempotency_conflict");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3")
    );
    assert_eq!(h.count(), 1, "a conflict stores nothing");
}

#[actix_web::test]
async fn every_rejection_is_problem_json_and_changes_nothing() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    // One stored receipt first, so "unchanged" is not trivially "empty".
    let ok = send(
        &app,
        post_receipt(&fixture("receipt_request_minimal.json")).to_request(),
    )
    .await;
    assert_eq!(ok.status, 201);
    let head_before = h.state.store.reader().head().expect("head");

    let given = fixture("receipt_request_form_given.json");
    let oversized = given.replace(
        "\"gpc\": false",
        &format!("\"gpc\": false, \"pad\": \"{}\"", "x".repeat(17 * 1024)),
    );
    let cases: Vec<(&str, TestRequest, u16, &str)> = vec![
        (
            "unknown field",
            post_receipt(&fixture("receipt_request_unknown_field.json")),
            400,
            "invalid_body",
        ),
        (
            "malformed JSON",
            post_receipt("{\"site\": \"demo\","),
            400,
            "invalid_body",
        ),
        ("not an object", post_receipt("[1, 2]"), 400, "invalid_body"),
        (
            "missing field",
            post_receipt(&given.replace("\"lang\": \"ru\",", "")),
            400,
            "invalid_body",
        ),
        (
            "wrong type",
            post_receipt(&given.replace("\"gpc\": false", "\"gpc\": \"no\"")),
            400,
            "invalid_body",
        ),
        (
            "bad key",
            post_receipt(&given.replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", "0B6A")),
            400,
            "invalid_body",
        ),
        (
            "unknown kind",
            post_receipt(&given.replace("\"kind\": \"form\"", "\"kind\": \"banner\"")),
            400,
            "invalid_body",
        ),
        (
            "oversized body",
            post_receipt(&oversized),
            413,
            "body_too_large",
        ),
        (
            "unknown site",
            post_receipt(&given.replace("\"site\": \"demo\"", "\"site\": \"nope\"")),
            404,
            "unknown_site",
        ),
        (
            "unknown policy version",
            post_receipt(&given.replace(
                "\"policy_version\": \"2026-03\"",
                "\"policy_version\": \"2025-01\"",
            )),
            422,
            "unknown_policy_version",
        ),
        (
            "invalid phone",
            post_receipt(&given.replace("8 (701) 123-45-67", "call me maybe")),
            422,
            "invalid_identifier",
        ),
        (
            "wrong content type",
            TestRequest::post()
                .uri("/v1/receipts")
                .insert_header(("content-type", "text/plain"))
                .set_payload(given.clone()),
            415,
            "unsupported_media_type",
        ),
        (
            "no content type",
            TestRequest::post()
                .uri("/v1/receipts")
                .set_payload(given.clone()),
            415,
            "unsupported_media_type",
        ),
        (
            "foreign origin",
            post_receipt(&given)
                .insert_header(("origin", "https://evil.example"))
                .insert_header(("host", "127.0.0.1:8080")),
            403,
            "origin_not_allowed",
        ),
        (
            "wrong method",
            TestRequest::get().uri("/v1/receipts"),
            405,
            "method_not_allowed",
        ),
    ];
    for (name, req, status, code) in cases {
        let reply = send(&app, req.to_request()).await;
        let problem = reply.assert_problem(status, code);
        assert_eq!(h.count(), 1, "{name}: store unchanged");
        assert_eq!(
            h.state.store.reader().head().expect("head"),
            head_before,
            "{name}: chain unchanged"
        );
        assert!(
            !problem
                .to_string()
                .contains(crate::support::RAW_PHONE_DIGITS),
            "{name}: no raw phone in {problem}"
        );
    }

    // The wire contract's own example detail, exactly.
    let reply = send(
        &app,
        post_receipt(&fixture("receipt_request_unknown_field.json")).to_request(),
    )
    .await;
    expect_test::expect![[r#"{"type":"https://kelisim.kz/problems/invalid_body","title":"invalid request body","status":400,"detail":"unknown field `phone`, expected one of `site`, `kind`, `event`, `key`, `secret`, `policy_version`, `lang`, `purposes`, `categories`, `subject`, `context` at line 11 column 9","code":"invalid_body"}"#]]
        .assert_eq(&reply.text());
    let reply = send(
        &app,
        post_receipt(&given.replace(
            "\"policy_version\": \"2026-03\"",
            "\"policy_version\": \"2025-01\"",
        ))
        .to_request(),
    )
    .await;
    expect_test::expect![[r#"{"type":"https://kelisim.kz/problems/unknown_policy_version","title":"unknown policy version","status":422,"detail":"policy version `2025-01` is not the current policy `2026-03` of site `demo`; reload the page to get the current consent text","code":"unknown_policy_version"}"#]]
        .assert_eq(&reply.text());
}

#[actix_web::test]
async fn the_raw_phone_never_reaches_the_data_directory() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let reply = send(
        &app,
        post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
    )
    .await;
    assert_eq!(reply.status, 201);
    assert!(!reply.text().contains(RAW_PHONE_DIGITS));
    assert_not_in_files(h.data.root(), RAW_PHONE_DIGITS);
    // Also after the writer has stopped and SQLite has checkpointed.
    h.state.store.shutdown();
    assert_not_in_files(h.data.root(), RAW_PHONE_DIGITS);
}

#[actix_web::test]
async fn receipts_are_found_by_id_and_by_reference() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let created = send(
        &app,
        post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
    )
    .await
    .json();
    let id = created["id"].as_str().expect("id");
    for key in [id, "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3"] {
        let got = send(
            &app,
            TestRequest::get()
                .uri(&format!("/v1/receipts/{key}"))
                .to_request(),
        )
        .await;
        assert_eq!(got.status, 200, "{key}");
        assert_eq!(got.json(), created, "{key}");
    }
    let by_site = send(
        &app,
        TestRequest::get()
            .uri("/v1/receipts/0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3?site=demo")
            .to_request(),
    )
    .await;
    assert_eq!(by_site.json(), created);
    let other_site = send(
        &app,
        TestRequest::get()
            .uri("/v1/receipts/0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3?site=x")
            .to_request(),
    )
    .await;
    other_site.assert_problem(404, "not_found");
    let missing = send(
        &app,
        TestRequest::get()
            .uri("/v1/receipts/ffffffffffffffffffffffffffffffff")
            .to_request(),
    )
    .await;
    missing.assert_problem(404, "not_found");
    let missing_id = send(
        &app,
        TestRequest::get()
            .uri("/v1/receipts/01890000-0000-7000-8000-000000000000")
            .to_request(),
    )
    .await;
    missing_id.assert_problem(404, "not_found");
    let garbage = send(
        &app,
        TestRequest::get()
            .uri("/v1/receipts/not-a-receipt")
            .to_request(),
    )
    .await;
    garbage.assert_problem(400, "invalid_request");
}

#[actix_web::test]
async fn cors_allows_the_sites_origins_and_same_origin_pages_only() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let preflight = |origin: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/v1/receipts")
            .insert_header(("origin", origin.to_owned()))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header(("access-control-request-headers", "content-type"))
            .insert_header(("host", "consent.example.kz"))
            .to_request()
    };
    let allowed = send(&app, preflight("http://localhost:8080")).await;
    assert!(allowed.status.is_success(), "{:?}", allowed);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://localhost:8080")
    );
    let refused = send(&app, preflight("https://evil.example")).await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
    assert!(!refused.status.is_success());

    let config = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/config")
            .insert_header(("origin", "http://127.0.0.1:8080"))
            .to_request(),
    )
    .await;
    assert_eq!(
        config.header("access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );

    // The demo on another port: the page and the collector share an origin.
    let same_origin = post_receipt(&fixture("receipt_request_minimal.json"))
        .insert_header(("origin", "http://127.0.0.1:41234"))
        .insert_header(("host", "127.0.0.1:41234"))
        .to_request();
    let reply = send(&app, same_origin).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

/// An optional purpose (`news` in the demo) is recorded as the widget sent it: granted when its
/// box was ticked, not granted when it was not, absent when an older widget did not know it.
/// It never stands in for the required one, and the visitor's page names it with its answer.
#[actix_web::test]
async fn an_optional_purpose_is_recorded_as_sent_and_never_replaces_the_required_one() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let with = |key: &str, purposes: serde_json::Value| {
        let mut body: serde_json::Value =
            serde_json::from_str(&fixture("receipt_request_form_given.json")).expect("JSON");
        body["key"] = key.into();
        body["purposes"] = purposes;
        body.to_string()
    };
    let jwks = get_jwks(&app).await;
    let cases = [
        (
            "1000000000000000000000000000000a",
            serde_json::json!([{ "id": "feedback", "granted": true }, { "id": "news", "granted": true }]),
        ),
        (
            "1000000000000000000000000000000b",
            serde_json::json!([{ "id": "feedback", "granted": true }, { "id": "news", "granted": false }]),
        ),
        (
            "1000000000000000000000000000000c",
            serde_json::json!([{ "id": "feedback", "granted": true }]),
        ),
    ];
    for (key, purposes) in &cases {
        let created = send(
            &app,
            post_receipt(&with(key, purposes.clone())).to_request(),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let payload =
            verify_with_jsonwebtoken(created.json()["jws"].as_str().expect("jws"), &jwks.body);
        assert_eq!(&payload["purposes"], purposes, "signed as sent");
    }
    let page = |key: &str| {
        TestRequest::get()
            .uri(&format!("/v1/receipts/{key}?lang=en"))
            .insert_header(("accept", "text/html"))
            .to_request()
    };
    let ticked = send(&app, page(cases[0].0)).await.text();
    assert!(
        ticked.contains("<li>News and offers by e-mail and SMS: yes</li>"),
        "{ticked}"
    );
    let unticked = send(&app, page(cases[1].0)).await.text();
    assert!(
        unticked.contains("<li>News and offers by e-mail and SMS: no</li>"),
        "{unticked}"
    );
    assert!(
        unticked.contains("<li>Replies to your request: yes</li>"),
        "{unticked}"
    );

    // The optional box alone is no consent to the form.
    let before = h.count();
    let only_news = send(
        &app,
        post_receipt(&with(
            "1000000000000000000000000000000d",
            serde_json::json!([{ "id": "feedback", "granted": false }, { "id": "news", "granted": true }]),
        ))
        .to_request(),
    )
    .await;
    only_news.assert_problem(400, "invalid_body");
    assert!(
        only_news
            .text()
            .contains("required purpose `feedback` must be granted")
    );
    assert_eq!(h.count(), before, "nothing stored");
}
