//! The admin API (issue 7): token checks on every route (generated from the route table),
//! search by a phone typed another way, keyset pages, CSV/NDJSON/Kantara export (validated
//! against the Kantara v1.1 JSON Schema), withdrawal, erasure requests with the site's
//! deadline (at once, pending, carried out by hand or when due), retention purge, the audit
//! trail — and `audit` still verifying the chain after each lifecycle change.

use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use kelisim_collector::admin::retention;
use kelisim_collector::admin::tokens;
use kelisim_collector::build_app;
use kelisim_collector::clock::format_timestamp;
use kelisim_collector::log::audit;
use kelisim_collector::store::{Maintenance, Scope};
use kelisim_collector::web::app::registered_admin_routes;

use crate::support::{
    Harness, RAW_PHONE_DIGITS, allow_audit_entries, assert_not_in_files, config_edited,
    config_with, days_ago, fixture, on_postgres, payload_of, post_receipt, query_text,
    refuse_audit_entries, send,
};

/// The demo site's own config (whatever cookie categories it has).
fn harness() -> Harness {
    Harness::with_config(config_with(""))
}

/// Creates a token through the running store's writer; returns its text.
async fn token(h: &Harness, sites: &[&str], scope: Scope, expires: Option<&str>) -> String {
    let t = tokens::generate(
        sites.iter().map(|s| (*s).to_owned()).collect(),
        scope,
        Some("test".into()),
        format_timestamp(time::OffsetDateTime::now_utc()),
        expires.map(str::to_owned),
    )
    .expect("token");
    h.state
        .store
        .maintain(Maintenance::CreateToken(t.record))
        .await
        .expect("stored");
    t.text
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// A form receipt with this phone as typed, and a fresh key.
fn form_request(key: &str, phone: &str) -> String {
    let mut body: serde_json::Value =
        serde_json::from_str(&fixture("receipt_request_form_given.json")).expect("fixture");
    body["key"] = key.into();
    body["subject"]["identifiers"][0]["value"] = phone.into();
    body.to_string()
}

/// Stores a form consent per `(key letter, phone)`: the key is the letter 32 times.
async fn consents<S, B>(app: &S, list: &[(&str, &str)])
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    for (key, phone) in list {
        let r = send(app, consent(&key.repeat(32), phone).to_request()).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
}

/// `POST /v1/receipts` of a form consent typed with `phone`, under `key`.
fn consent(key: &str, phone: &str) -> TestRequest {
    post_receipt(&form_request(key, phone))
}

/// The demo site (without its cookie banner) with `erasure_deadline_days = days`.
fn harness_with_deadline(days: u32) -> Harness {
    Harness::with_config(config_edited(|text| {
        text.replace(
            "retention_days = 1095",
            &format!("retention_days = 1095\nerasure_deadline_days = {days}"),
        )
    }))
}

/// `POST /v1/admin/sites/demo/erasures` with `body`, as `token`.
fn erasure_request(token: &str, body: &str) -> TestRequest {
    admin_post(token, "erasures", body)
}

/// `POST /v1/admin/sites/demo/withdrawals` with this JSON body, as `token`.
fn withdrawal_request(token: &str, body: &str) -> TestRequest {
    admin_post(token, "withdrawals", body)
}

/// `GET` of an admin path of site demo, as `token`.
fn admin_get(token: &str, path: &str) -> TestRequest {
    TestRequest::get()
        .uri(&format!("/v1/admin/sites/demo/{path}"))
        .insert_header(bearer(token))
}

/// `POST …/erasure-requests/{request}/execute`, as `token`.
fn execute_request(token: &str, request: &str) -> TestRequest {
    TestRequest::post()
        .uri(&format!(
            "/v1/admin/sites/demo/erasure-requests/{request}/execute"
        ))
        .insert_header(bearer(token))
}

fn at(text: &serde_json::Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        text.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339")
}

/// `(action, token id, detail)` of an audit-trail answer, newest first; never the fixture's
/// phone number (tests erasing other numbers check theirs).
fn actions(trail: &crate::support::Reply) -> Vec<(String, String, String)> {
    assert_eq!(trail.status, 200, "{}", trail.text());
    assert!(!trail.text().contains("1234567"), "{}", trail.text());
    trail
        .json()
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("action").to_owned(),
                e["token_id"].as_str().expect("token").to_owned(),
                e["detail"].as_str().expect("detail").to_owned(),
            )
        })
        .collect()
}

fn intact(h: &Harness) -> audit::AuditReport {
    let keys = h.state.public_keys();
    audit::audit(&h.state.store.reader(), &keys).expect("audit runs")
}

/// A request to an admin route with its path parameters filled: `{id}` a receipt,
/// `{request}` an erasure request.
fn admin_request(method: &Method, path: &str, (id, request): (&str, &str)) -> TestRequest {
    let uri = path
        .replace("{site}", "demo")
        .replace("{id}", id)
        .replace("{request}", request);
    assert!(!uri.contains('{'), "fill every parameter of {path}");
    let req = TestRequest::default().method(method.clone()).uri(&uri);
    if *method == Method::POST {
        req.insert_header(("content-type", "application/json"))
            .set_payload(r#"{"subject":"+7 701 123 45 67"}"#)
    } else {
        req
    }
}

#[actix_web::test]
async fn every_admin_route_refuses_a_missing_bad_or_foreign_token() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let given = send(
        &app,
        post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
    )
    .await;
    let id = given.json()["id"].as_str().expect("id").to_owned();
    let other = token(&h, &["other"], Scope::Admin, None).await;
    let expired = token(&h, &["demo"], Scope::Admin, Some("2020-01-01T00:00:00Z")).await;
    let read = token(&h, &["demo"], Scope::Read, None).await;
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let pending = send(
        &app,
        erasure_request(&admin, r#"{"subject":"87011234567","pending":true}"#).to_request(),
    )
    .await;
    assert_eq!(pending.status, 202, "{}", pending.text());
    let request = pending.json()["id"]
        .as_str()
        .expect("request id")
        .to_owned();
    let id = (id.as_str(), request.as_str());
    let routes = registered_admin_routes();
    assert!(routes.len() >= 9, "{routes:?}");
    for route in [
        "GET /v1/admin/sites/{site}/erasure-requests",
        "POST /v1/admin/sites/{site}/erasure-requests/{request}/execute",
    ] {
        assert!(
            routes.iter().any(|(m, p)| format!("{m} {p}") == route),
            "{route} is in the table: {routes:?}"
        );
    }
    for (method, path) in &routes {
        let what = format!("{method} {path}");
        let none = send(&app, admin_request(method, path, id).to_request()).await;
        none.assert_problem(401, "unauthorized");
        assert!(
            none.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "{what}"
        );
        for bad in [
            "Bearer nonsense",
            &format!("Bearer {}x", &admin[..admin.len() - 1]),
        ] {
            let reply = send(
                &app,
                admin_request(method, path, id)
                    .insert_header(("authorization", bad))
                    .to_request(),
            )
            .await;
            reply.assert_problem(401, "unauthorized");
        }
        send(
            &app,
            admin_request(method, path, id)
                .insert_header(bearer(&expired))
                .to_request(),
        )
        .await
        .assert_problem(401, "unauthorized");
        send(
            &app,
            admin_request(method, path, id)
                .insert_header(bearer(&other))
                .to_request(),
        )
        .await
        .assert_problem(403, "forbidden");
        let as_reader = send(
            &app,
            admin_request(method, path, id)
                .insert_header(bearer(&read))
                .to_request(),
        )
        .await;
        if *method == Method::POST {
            as_reader.assert_problem(403, "forbidden");
        } else {
            assert_eq!(as_reader.status, 200, "{what}: {}", as_reader.text());
        }
        // No CORS on admin routes, even for an origin the site allows.
        let with_origin = send(
            &app,
            admin_request(method, path, id)
                .insert_header(bearer(&admin))
                .insert_header(("origin", "http://127.0.0.1:8080"))
                .to_request(),
        )
        .await;
        assert_eq!(with_origin.status, 200, "{what}: {}", with_origin.text());
        assert!(
            with_origin.header("access-control-allow-origin").is_none(),
            "{what} sent CORS headers"
        );
    }
}

#[actix_web::test]
async fn a_phone_typed_another_way_finds_the_receipt_and_the_exports_carry_it() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let created = send(
        &app,
        consent(&"a".repeat(32), "8 (701) 123-45-67").to_request(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().expect("id").to_owned();
    send(
        &app,
        consent(&"b".repeat(32), "+7 702 000 00 00").to_request(),
    )
    .await;
    let read = token(&h, &["demo"], Scope::Read, None).await;

    let found = send(
        &app,
        TestRequest::get()
            .uri("/v1/admin/sites/demo/receipts?subject=%2B7%20701%201234567")
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.text());
    let page = found.json();
    assert_eq!(page["total"], 1);
    assert_eq!(page["receipts"][0]["id"], id.as_str());
    assert_eq!(page["receipts"][0]["status"], "given");
    let none = send(
        &app,
        TestRequest::get()
            .uri("/v1/admin/sites/demo/receipts?subject=%2B7%20701%20999%2099%2099")
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await;
    assert_eq!(none.json()["total"], 0);
    send(
        &app,
        TestRequest::get()
            .uri("/v1/admin/sites/demo/receipts?subject=12")
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await
    .assert_problem(400, "invalid_request");

    // CSV: BOM, header, one line per receipt, Excel-friendly CRLF.
    let csv = send(
        &app,
        TestRequest::get()
            .uri("/v1/admin/sites/demo/export?format=csv")
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv.body.starts_with("\u{feff}seq,id,".as_bytes()));
    let text = csv.text();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains(&format!("1,{id},")), "{text}");
    assert!(text.ends_with("\r\n"));

    let ndjson = send(
        &app,
        TestRequest::get()
            .uri("/v1/admin/sites/demo/export?format=ndjson&subject=87011234567")
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await;
    let lines: Vec<serde_json::Value> = ndjson
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], id.as_str());

    // Kantara: every document validates against the specification's schema.
    let schema_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/standards/kantara-consent-receipt-v1_1-schema.json");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&schema_path).expect("kantara schema beside the repo"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let kantara = send(
        &app,
        TestRequest::get()
            .uri("/v1/admin/sites/demo/export?format=kantara")
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await;
    let docs: Vec<serde_json::Value> = kantara
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(docs.len(), 2);
    for doc in &docs {
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{doc:#}");
    }
    assert_eq!(docs[0]["consentReceiptID"], id.as_str());
    assert_eq!(
        docs[0]["piiControllers"][0]["piiController"],
        "ТОО «Алтын Жол Логистика»"
    );
    assert_eq!(docs[0]["jurisdiction"], "KZ");
    // The operator's address and contact (docs/compliance.md L6, L15) as the config has them.
    let controller = &docs[0]["piiControllers"][0];
    assert_eq!(
        controller["address"]["streetAddress"],
        "Республика Казахстан, г. Алматы, пр. Абая, 52, офис 305"
    );
    assert_eq!(controller["email"], "privacy@altynzhol.kz");
    // The term (L10): the site's retention_days.
    let termination = docs[0]["services"][0]["purposes"][0]["termination"].as_str();
    assert!(
        termination.is_some_and(|t| t.contains("kept 1095 days")),
        "{termination:?}"
    );
    // A broken document does not pass, so the check above means something.
    // The form's recipients (the demo's `[site.data] recipients`) are named as its third party;
    // a disclosure without the name is not valid Kantara.
    let purpose = &docs[0]["services"][0]["purposes"][0];
    assert_eq!(purpose["thirdPartyDisclosure"], true, "{purpose}");
    let mut broken = docs[0].clone();
    broken["services"][0]["purposes"][0]
        .as_object_mut()
        .expect("purpose")
        .remove("thirdPartyName");
    assert!(!validator.is_valid(&broken));

    let single = send(
        &app,
        TestRequest::get()
            .uri(&format!(
                "/v1/admin/sites/demo/receipts/{id}?format=kantara"
            ))
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await;
    assert!(validator.is_valid(&single.json()));

    // The detail view: decoded payload, signature, chain position; the JWS as a download.
    let detail = send(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/admin/sites/demo/receipts/{id}"))
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await
    .json();
    assert_eq!(detail["signature"], "valid");
    assert_eq!(detail["chain"]["seq"], 1);
    // The payload names no browser; the admin gets the salt that opens the commitment.
    assert!(
        detail["payload"]["subject"].get("browser_id").is_none(),
        "{detail}"
    );
    let salt = detail["subject_salt"].as_str().expect("the salt");
    let commitment = detail["payload"]["subject"]["identifiers"][0]["commitment"].clone();
    assert_eq!(
        commitment,
        kelisim_collector::receipt::subject::commitment_hex(
            &kelisim_collector::hash::unhex(salt).expect("hex"),
            "+77011234567"
        ),
        "the salt opens it for the phone"
    );
    let jws = send(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/admin/sites/demo/receipts/{id}?format=jws"))
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await;
    assert_eq!(jws.header("content-type"), Some("application/jose"));
    assert_eq!(payload_of(&jws.text())["id"], id.as_str());

    // The audit trail names every read, never the phone number searched for.
    let trail = send(
        &app,
        TestRequest::get()
            .uri("/v1/admin/sites/demo/audit")
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await;
    let entries = trail.json();
    let actions: Vec<&str> = entries
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions[0], "audit");
    for action in ["list", "export", "open"] {
        assert!(actions.contains(&action), "{actions:?}");
    }
    assert!(!trail.text().contains("1234567"), "{}", trail.text());
}

#[actix_web::test]
async fn withdrawal_on_request_is_signed_and_shows_as_status() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let created = send(
        &app,
        consent(&"a".repeat(32), "8 701 123 45 67").to_request(),
    )
    .await;
    let id = created.json()["id"].as_str().expect("id").to_owned();
    send(&app, consent(&"b".repeat(32), "+77011234567").to_request()).await;
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let withdraw = |subject: &str| {
        withdrawal_request(&admin, &format!(r#"{{"subject":"{subject}"}}"#)).to_request()
    };
    let first = send(&app, withdraw("7 (701) 123-45-67")).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let body = first.json();
    assert_eq!(body["withdrawals"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["already"], 0);
    let again = send(&app, withdraw("+7 701 123 45 67")).await.json();
    assert_eq!(again["withdrawals"].as_array().map(Vec::len), Some(0));
    assert_eq!(again["already"], 2);

    let detail = send(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/admin/sites/demo/receipts/{id}"))
            .insert_header(bearer(&admin))
            .to_request(),
    )
    .await
    .json();
    assert_eq!(detail["status"], "withdrawn");
    // The visitor's receipt page shows it too: the same withdrawal as a browser's.
    let public = send(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/receipts/{id}?format=html"))
            .to_request(),
    )
    .await;
    assert!(
        public
            .text()
            .contains(detail["withdrawn_by"][0].as_str().expect("withdrawal id"))
    );
    assert!(intact(&h).is_intact(), "{}", intact(&h));
    send(
        &app,
        withdrawal_request(&admin, r#"{"subject":"+77011234567","receipt":"x"}"#).to_request(),
    )
    .await
    .assert_problem(400, "invalid_body");
}

/// A cookie choice of `browser` under `key`: "Accept all" of the test categories.
fn cookie_choice(key: &str, browser: &str) -> TestRequest {
    let mut body: serde_json::Value =
        serde_json::from_str(&fixture("receipt_request_cookies_updated.json")).expect("fixture");
    body["key"] = key.into();
    body["subject"]["browser_id"] = browser.into();
    post_receipt(&body.to_string())
}

#[actix_web::test]
async fn a_subjects_withdrawal_also_withdraws_their_browsers_current_cookie_choice() {
    let h = Harness::with_config(crate::support::demo_config());
    let app = test::init_service(build_app(h.state.clone())).await;
    let form_browser = fixture_browser();
    let stranger = "0".repeat(32);
    for request in [
        consent(&"a".repeat(32), "8 701 123 45 67"),
        cookie_choice(&"c".repeat(32), &form_browser), // later replaced by the next choice
        cookie_choice(&"d".repeat(32), &form_browser), // the browser's current choice
        cookie_choice(&"e".repeat(32), &stranger),     // someone else's browser
    ] {
        let reply = send(&app, request.to_request()).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let withdrawn = send(
        &app,
        withdrawal_request(&admin, r#"{"subject":"+7 701 123 45 67"}"#).to_request(),
    )
    .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text());
    assert_eq!(
        withdrawn.json()["withdrawals"].as_array().map(Vec::len),
        Some(2),
        "the form consent and the current cookie choice: {}",
        withdrawn.text()
    );
    // What each browser's widget learns at its next visit.
    let status = |key: String| TestRequest::get().uri(&format!("/v1/receipts/{key}/status"));
    for (key, want) in [
        ("a".repeat(32), "withdrawn"),
        ("d".repeat(32), "withdrawn"),
        ("c".repeat(32), "updated"),
        ("e".repeat(32), "updated"),
    ] {
        let got = send(&app, status(key.clone()).to_request()).await.json();
        assert_eq!(got["status"], want, "{key}: {got}");
    }
    assert!(intact(&h).is_intact(), "{}", intact(&h));
}

/// The browser id of the form fixture, which [`consent`] sends.
fn fixture_browser() -> String {
    let body: serde_json::Value =
        serde_json::from_str(&fixture("receipt_request_form_given.json")).expect("fixture");
    body["subject"]["browser_id"]
        .as_str()
        .expect("browser_id")
        .to_owned()
}

#[actix_web::test]
async fn erasure_forgets_the_subject_and_keeps_the_chain() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    consents(
        &app,
        &[
            ("a", "87011234567"),
            ("b", "+7 701 123 45 67"),
            ("c", "+7 702 000 00 00"),
        ],
    )
    .await;
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let erased = send(
        &app,
        erasure_request(&admin, r#"{"subject":"8 (701) 123 45 67"}"#).to_request(),
    )
    .await;
    assert_eq!(erased.status, 200, "{}", erased.text());
    let request = erased.json();
    assert_eq!(request["receipts"], 2);
    // Carried out at once, received now, due in the default 30 days.
    assert_eq!(request["status"], "done");
    assert_eq!(request["overdue"], false);
    assert_eq!(request["received_at"], request["done_at"]);
    assert_eq!(
        at(&request["due_at"]) - at(&request["received_at"]),
        time::Duration::days(30)
    );
    let (token_id, _) = tokens::parse(&admin).expect("token");
    assert_eq!(request["done_by"], token_id);
    assert_eq!(request["recorded_by"], token_id);
    let search = |subject: &'static str| {
        TestRequest::get()
            .uri(&format!("/v1/admin/sites/demo/receipts?subject={subject}"))
            .insert_header(bearer(&admin))
            .to_request()
    };
    assert_eq!(send(&app, search("87011234567")).await.json()["total"], 0);
    assert_eq!(send(&app, search("87020000000")).await.json()["total"], 1);
    // The receipts stay, verifiable, marked as erased.
    let all = send(
        &app,
        TestRequest::get()
            .uri("/v1/admin/sites/demo/receipts")
            .insert_header(bearer(&admin))
            .to_request(),
    )
    .await
    .json();
    let erased_flags: Vec<bool> = all["receipts"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["erased"].as_bool().expect("flag"))
        .collect();
    assert_eq!(erased_flags, [false, true, true]);
    let report = intact(&h);
    assert!(report.is_intact(), "{report}");
    let trail = actions(&send(&app, admin_get(&admin, "audit").to_request()).await);
    assert!(
        trail
            .iter()
            .any(|(action, _, detail)| action == "erase" && detail.ends_with("receipts=2")),
        "{trail:?}"
    );
}

#[actix_web::test]
async fn a_pending_erasure_keeps_only_the_keyed_hash_until_it_is_carried_out() {
    let h = harness_with_deadline(10);
    let app = test::init_service(build_app(h.state.clone())).await;
    consents(
        &app,
        &[
            ("a", "87011234567"),
            ("b", "+7 701 123 45 67"),
            ("c", "87020000000"),
        ],
    )
    .await;
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let received = days_ago(3);
    let body = format!(r#"{{"subject":"8 701 123 45 67","pending":true,"received":"{received}"}}"#);
    let recorded = send(&app, erasure_request(&admin, &body).to_request()).await;
    assert_eq!(recorded.status, 202, "{}", recorded.text());
    let request = recorded.json();
    let id = request["id"].as_str().expect("id").to_owned();
    assert_eq!(request["status"], "pending");
    assert_eq!(request["receipts"], 0);
    assert!(request["done_at"].is_null());
    assert_eq!(request["received_at"], format!("{received}T00:00:00.000Z"));
    // The site's deadline, counted from the day it arrived.
    assert_eq!(
        at(&request["due_at"]) - at(&request["received_at"]),
        time::Duration::days(10)
    );
    assert_eq!(request["overdue"], false);

    // Nothing erased yet, and only the keyed hash is kept: never the phone number.
    let search = || admin_get(&admin, "receipts?subject=87011234567").to_request();
    assert_eq!(send(&app, search()).await.json()["total"], 2);
    let index_hash =
        query_text(&h.data, "SELECT hmac FROM subject_hashes WHERE seq = 1").expect("index");
    // The site's reading (the index entry) and payload v1's, whose receipts the request
    // covers too: a JSON array in SQLite (bound through `json_each` like every list the
    // store binds), an array in PostgreSQL.
    let kept_sql = if on_postgres(&h.data) {
        format!("SELECT array_to_json(hmacs)::text FROM erasure_requests WHERE id = '{id}'")
    } else {
        format!("SELECT hmacs FROM erasure_requests WHERE id = '{id}'")
    };
    let kept = query_text(&h.data, &kept_sql);
    let kept: Vec<String> = serde_json::from_str(&kept.expect("kept")).expect("JSON array");
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[0], index_hash);
    assert_not_in_files(h.data.root(), RAW_PHONE_DIGITS);

    // A consent given after the request is not part of it.
    send(&app, consent(&"d".repeat(32), "87011234567").to_request()).await;
    let list = send(&app, admin_get(&admin, "erasure-requests").to_request())
        .await
        .json();
    assert_eq!(
        (list["pending"].as_u64(), list["overdue"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(list["erasures"][0]["id"], id.as_str());

    let done = send(&app, execute_request(&admin, &id).to_request()).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let done = done.json();
    assert_eq!(done["status"], "done");
    assert_eq!(done["receipts"], 2);
    assert_eq!(done["overdue"], false);
    assert_eq!(
        send(&app, search()).await.json()["total"],
        1,
        "the later consent"
    );
    let kept = query_text(
        &h.data,
        &format!(
            "SELECT CASE WHEN hmacs IS NULL THEN 'none' ELSE 'kept' END FROM erasure_requests WHERE id = '{id}'"
        ),
    );
    assert_eq!(
        kept.as_deref(),
        Some("none"),
        "the request's copy of the hash is destroyed too"
    );

    // Again: answered as it is; an unknown request is a 404 naming the list.
    let again = send(&app, execute_request(&admin, &id).to_request()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), done);
    let unknown = send(&app, execute_request(&admin, "nope").to_request()).await;
    let problem = unknown.assert_problem(404, "not_found");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("/erasure-requests` lists them"))
    );

    let trail = actions(&send(&app, admin_get(&admin, "audit").to_request()).await);
    let names: Vec<&str> = trail.iter().map(|(a, _, _)| a.as_str()).collect();
    for action in ["erase_pending", "erasure_requests", "erase_execute"] {
        assert!(names.contains(&action), "{names:?}");
    }
    assert!(
        trail
            .iter()
            .any(|(a, _, d)| a == "erase_execute" && d == &format!("request={id} receipts=2")),
        "{trail:?}"
    );
    let report = intact(&h);
    assert!(report.is_intact(), "{report}");
}

/// `POST` of an admin path of site demo with a JSON `body`, as `token`.
fn admin_post(token: &str, path: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(&format!("/v1/admin/sites/demo/{path}"))
        .insert_header(bearer(token))
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_owned())
}

/// An admin search of site demo for `phone`, as `token`.
fn search(token: &str, phone: &str) -> TestRequest {
    admin_get(token, &format!("receipts?subject={phone}"))
}

#[actix_web::test]
async fn withdrawing_an_erased_consent_keeps_the_subject_out_of_the_index() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let mut ids = Vec::new();
    for key in ["a", "b"] {
        let r = send(&app, consent(&key.repeat(32), "87011234567").to_request()).await;
        assert_eq!(r.status, 201, "{}", r.text());
        ids.push(r.json()["id"].as_str().expect("id").to_owned());
    }
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let erased = send(
        &app,
        erasure_request(&admin, r#"{"subject":"87011234567"}"#).to_request(),
    )
    .await;
    assert_eq!(erased.json()["receipts"], 2, "{}", erased.text());

    // The visitor's browser withdraws one consent, the admin the other: each withdrawal
    // copies the consent's subject, keyed hash included.
    let by_browser = send(
        &app,
        crate::support::post_withdraw(&ids[0], &"c".repeat(32), crate::support::FORM_SECRET)
            .to_request(),
    )
    .await;
    assert_eq!(by_browser.status, 201, "{}", by_browser.text());
    let body = format!(r#"{{"receipt":"{}"}}"#, ids[1]);
    let by_admin = send(&app, admin_post(&admin, "withdrawals", &body).to_request()).await;
    assert_eq!(by_admin.status, 200, "{}", by_admin.text());
    assert_eq!(
        by_admin.json()["withdrawals"].as_array().map(Vec::len),
        Some(1)
    );

    assert_eq!(
        send(&app, search(&admin, "87011234567").to_request())
            .await
            .json()["total"],
        0
    );
    let all = send(&app, admin_get(&admin, "receipts").to_request())
        .await
        .json();
    let rows: Vec<(&str, bool)> = all["receipts"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().expect("status"),
                r["erased"].as_bool().expect("flag"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("withdrawal", true),
            ("withdrawal", true),
            ("withdrawn", true),
            ("withdrawn", true)
        ]
    );
    let report = intact(&h);
    assert!(report.is_intact(), "{report}");
}

#[actix_web::test]
async fn a_consent_withdrawn_while_its_erasure_is_pending_is_erased_with_its_withdrawal() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    for key in ["a", "b"] {
        let r = send(&app, consent(&key.repeat(32), "87011234567").to_request()).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    // "Withdraw and erase": the request is recorded while the identity is checked, and the
    // consents are withdrawn at once.
    let pending = send(
        &app,
        erasure_request(&admin, r#"{"subject":"87011234567","pending":true}"#).to_request(),
    )
    .await;
    assert_eq!(pending.status, 202, "{}", pending.text());
    let id = pending.json()["id"].as_str().expect("id").to_owned();
    let withdrawn = send(
        &app,
        admin_post(&admin, "withdrawals", r#"{"subject":"87011234567"}"#).to_request(),
    )
    .await;
    assert_eq!(
        withdrawn.json()["withdrawals"].as_array().map(Vec::len),
        Some(2),
        "{}",
        withdrawn.text()
    );
    assert_eq!(
        send(&app, search(&admin, "87011234567").to_request())
            .await
            .json()["total"],
        4
    );
    // A consent given after the request stays out of it.
    let later = send(&app, consent(&"d".repeat(32), "87011234567").to_request()).await;
    assert_eq!(later.status, 201, "{}", later.text());

    let done = send(&app, execute_request(&admin, &id).to_request()).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(
        done.json()["receipts"],
        4,
        "the consents and their withdrawals"
    );
    let left = send(&app, search(&admin, "87011234567").to_request())
        .await
        .json();
    assert_eq!(left["total"], 1, "{left}");
    assert_eq!(left["receipts"][0]["ref"], "d".repeat(32));
    let report = intact(&h);
    assert!(report.is_intact(), "{report}");
}

#[actix_web::test]
async fn an_erasure_change_and_its_audit_entry_are_committed_together() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let r = send(&app, consent(&"a".repeat(32), "87011234567").to_request()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let pending = send(
        &app,
        erasure_request(&admin, r#"{"subject":"87011234567","pending":true}"#).to_request(),
    )
    .await;
    assert_eq!(pending.status, 202, "{}", pending.text());
    let id = pending.json()["id"].as_str().expect("id").to_owned();

    // The audit trail cannot take erasure entries for a while.
    refuse_audit_entries(&h.data, &["erase", "erase_pending", "erase_execute"]);
    for request in [
        erasure_request(&admin, r#"{"subject":"87011234567"}"#),
        erasure_request(&admin, r#"{"subject":"87011234567","pending":true}"#),
        execute_request(&admin, &id),
    ] {
        send(&app, request.to_request())
            .await
            .assert_problem(500, "internal");
    }
    // Failed means not done: no request recorded, nothing erased.
    let list = send(&app, admin_get(&admin, "erasure-requests").to_request())
        .await
        .json();
    assert_eq!(list["pending"], 1, "{list}");
    assert_eq!(list["erasures"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(
        send(&app, search(&admin, "87011234567").to_request())
            .await
            .json()["total"],
        1
    );

    // The retry does it, once.
    allow_audit_entries(&h.data);
    let done = send(&app, execute_request(&admin, &id).to_request()).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["receipts"], 1);
    assert_eq!(
        send(&app, search(&admin, "87011234567").to_request())
            .await
            .json()["total"],
        0
    );
    let trail = actions(&send(&app, admin_get(&admin, "audit").to_request()).await);
    let erasures: Vec<&str> = trail
        .iter()
        .filter(|(a, _, _)| a.starts_with("erase"))
        .map(|(a, _, _)| a.as_str())
        .collect();
    assert_eq!(erasures, ["erase_execute", "erase_pending"], "{trail:?}");
}

#[actix_web::test]
async fn carrying_out_a_request_the_deadline_task_just_carried_out_says_so() {
    let h = harness_with_deadline(1);
    let app = test::init_service(build_app(h.state.clone())).await;
    let r = send(&app, consent(&"a".repeat(32), "87011234567").to_request()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let body = format!(
        r#"{{"subject":"87011234567","pending":true,"received":"{}"}}"#,
        days_ago(3)
    );
    let pending = send(&app, erasure_request(&admin, &body).to_request()).await;
    assert_eq!(pending.status, 202, "{}", pending.text());
    let id = pending.json()["id"].as_str().expect("id").to_owned();

    // The hourly task and the admin's "carry out now" at the same moment; every write waits,
    // so the task's erasure is not committed yet when the admin's request arrives.
    let faults = h.data.root().with_file_name("faults");
    std::fs::write(&faults, "slow 800\n").expect("fault file");
    h.state.store.inject_faults_from(&faults);
    let (due, reply) = tokio::join!(
        retention::erase_due(&h.state.store),
        send(&app, execute_request(&admin, &id).to_request())
    );
    std::fs::remove_file(&faults).expect("clear faults");
    assert_eq!(due, 1);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let request = reply.json();
    assert_eq!(
        (
            &request["status"],
            &request["done_by"],
            &request["receipts"]
        ),
        (&"done".into(), &"deadline".into(), &1.into()),
        "{request}"
    );
    let (token_id, _) = tokens::parse(&admin).expect("token");
    let trail = actions(&send(&app, admin_get(&admin, "audit").to_request()).await);
    let executed: Vec<&(String, String, String)> = trail
        .iter()
        .filter(|(a, _, _)| a == "erase_execute")
        .collect();
    assert_eq!(executed.len(), 1, "{trail:?}");
    assert_eq!(executed[0].1, token_id);
    assert!(
        executed[0]
            .2
            .starts_with(&format!("request={id} already done at "))
            && executed[0].2.ends_with(" by deadline"),
        "the admin's entry names who did it, never `receipts=0`: {trail:?}"
    );
    let report = intact(&h);
    assert!(report.is_intact(), "{report}");
}

#[actix_web::test]
async fn due_erasures_are_carried_out_by_the_daily_task_before_their_deadline_passes() {
    let h = harness_with_deadline(1);
    let app = test::init_service(build_app(h.state.clone())).await;
    consents(
        &app,
        &[
            ("a", "87011111111"),
            ("b", "87012222222"),
            ("c", "87013333333"),
        ],
    )
    .await;
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let pending = |phone: &str, received: Option<String>| {
        let received = received.map_or_else(String::new, |r| format!(r#","received":"{r}""#));
        erasure_request(
            &admin,
            &format!(r#"{{"subject":"{phone}","pending":true{received}}}"#),
        )
        .to_request()
    };
    // Overdue already; due within the hour; due tomorrow.
    let late = send(&app, pending("87011111111", Some(days_ago(3))))
        .await
        .json();
    let soon_received =
        format_timestamp(time::OffsetDateTime::now_utc() - time::Duration::hours(23));
    let soon = send(&app, pending("87012222222", Some(soon_received)))
        .await
        .json();
    let later = send(&app, pending("87013333333", None)).await.json();
    assert_eq!(late["overdue"], true);

    let list = send(&app, admin_get(&admin, "erasure-requests").to_request())
        .await
        .json();
    assert_eq!(
        (list["pending"].as_u64(), list["overdue"].as_u64()),
        (Some(3), Some(1))
    );
    let order: Vec<&str> = list["erasures"]
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    let ids = |v: &[&serde_json::Value]| -> Vec<String> {
        v.iter()
            .map(|e| e["id"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(order, ids(&[&late, &soon, &later]), "soonest due first");

    // The task carries out what is due before its next look, and nothing else.
    assert_eq!(retention::erase_due(&h.state.store).await, 2);
    let list = send(&app, admin_get(&admin, "erasure-requests").to_request())
        .await
        .json();
    let rows = list["erasures"].as_array().expect("array");
    assert_eq!(
        (list["pending"].as_u64(), list["overdue"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(rows[0]["id"], later["id"], "pending first");
    for done in &rows[1..] {
        assert_eq!(done["status"], "done");
        assert_eq!(done["done_by"], "deadline");
        assert_eq!(done["receipts"], 1);
    }
    let late_done = rows.iter().find(|e| e["id"] == late["id"]).expect("late");
    let soon_done = rows.iter().find(|e| e["id"] == soon["id"]).expect("soon");
    assert_eq!(late_done["overdue"], true, "carried out after its due time");
    assert_eq!(
        soon_done["overdue"], false,
        "carried out before its due time"
    );
    for (phone, total) in [("87011111111", 0), ("87012222222", 0), ("87013333333", 1)] {
        let found = send(
            &app,
            admin_get(&admin, &format!("receipts?subject={phone}")).to_request(),
        )
        .await;
        assert_eq!(found.json()["total"], total, "{phone}");
    }
    let answer = send(&app, admin_get(&admin, "audit").to_request()).await;
    // The numbers this test erased, as `actions` checks the fixture's.
    for digits in ["7011111111", "7012222222", "7013333333"] {
        assert!(!answer.text().contains(digits), "{}", answer.text());
    }
    let trail = actions(&answer);
    assert_eq!(
        trail
            .iter()
            .filter(|(a, t, _)| a == "erase_due" && t == "deadline")
            .count(),
        2,
        "{trail:?}"
    );
    assert_eq!(
        retention::erase_due(&h.state.store).await,
        0,
        "nothing twice"
    );
    let report = intact(&h);
    assert!(report.is_intact(), "{report}");
}

#[actix_web::test]
async fn bad_erasure_requests_are_refused_and_change_nothing() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let r = send(&app, consent(&"a".repeat(32), "87011234567").to_request()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let read = token(&h, &["demo"], Scope::Read, None).await;
    let in_two_days = format_timestamp(time::OffsetDateTime::now_utc() + time::Duration::days(2));
    let cases = [
        (
            r#"{"subject":"87011234567","received":"last week"}"#.to_owned(),
            "invalid_body",
            "`received`: `last week` is not a date; write the day the request arrived as YYYY-MM-DD",
        ),
        (
            format!(
                r#"{{"subject":"87011234567","received":"{}"}}"#,
                &in_two_days[..10]
            ),
            "invalid_body",
            "is in the future; give the date the request arrived",
        ),
        (
            format!(
                r#"{{"subject":"87011234567","received":"{}","pending":true}}"#,
                days_ago(400)
            ),
            "invalid_body",
            "is more than a year ago",
        ),
        (
            r#"{"subject":"87011234567","pending":"yes"}"#.to_owned(),
            "invalid_body",
            "request body: invalid type",
        ),
        (
            r#"{"subject":"87011234567","receipt":"x"}"#.to_owned(),
            "invalid_body",
            "request body: unknown field `receipt`",
        ),
        (
            r#"{"pending":true}"#.to_owned(),
            "invalid_body",
            "send `subject`",
        ),
        (
            r#"{"subject":"12"}"#.to_owned(),
            "invalid_request",
            "`subject`",
        ),
        (
            "subject=87011234567".to_owned(),
            "invalid_body",
            "request body",
        ),
    ];
    for (body, code, detail) in cases {
        let reply = send(&app, erasure_request(&admin, &body).to_request()).await;
        let problem = reply.assert_problem(400, code);
        let got = problem["detail"].as_str().expect("detail");
        assert!(got.contains(detail), "{body}: {got}");
    }
    // A read token may list but not change.
    send(
        &app,
        erasure_request(&read, r#"{"subject":"87011234567"}"#).to_request(),
    )
    .await
    .assert_problem(403, "forbidden");
    send(&app, execute_request(&read, "x").to_request())
        .await
        .assert_problem(403, "forbidden");

    // Nothing was recorded or erased.
    let list = send(&app, admin_get(&read, "erasure-requests").to_request()).await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.json()["erasures"].as_array().map(Vec::len), Some(0));
    let found = send(
        &app,
        admin_get(&read, "receipts?subject=87011234567").to_request(),
    )
    .await;
    assert_eq!(found.json()["total"], 1);
    let trail = actions(&send(&app, admin_get(&read, "audit").to_request()).await);
    assert!(
        trail
            .iter()
            .all(|(a, _, _)| !a.starts_with("erase_") && a != "erase"),
        "{trail:?}"
    );
}

#[actix_web::test]
async fn purge_leaves_tombstones_that_audit_links_across() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let a = send(&app, consent(&"a".repeat(32), "87011234567").to_request())
        .await
        .json();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let b = send(&app, consent(&"b".repeat(32), "87011234568").to_request())
        .await
        .json();
    let b_at = payload_of(b["jws"].as_str().expect("jws"))["issued_at"]
        .as_str()
        .expect("issued_at")
        .to_owned();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    send(
        &app,
        withdrawal_request(
            &admin,
            &format!(r#"{{"receipt":"{}"}}"#, a["id"].as_str().expect("id")),
        )
        .to_request(),
    )
    .await;
    let purge = |cutoff: &str| Maintenance::Purge {
        site: "demo".into(),
        cutoff: cutoff.into(),
        at: format_timestamp(time::OffsetDateTime::now_utc()),
    };
    // Receipt a is older than the cutoff, but its withdrawal is not: its last event counts.
    assert_eq!(
        h.state.store.maintain(purge(&b_at)).await.expect("purge"),
        0
    );
    // Everything before the far future goes; tombstones keep the chain.
    assert_eq!(
        h.state
            .store
            .maintain(purge("9999-01-01"))
            .await
            .expect("purge"),
        3
    );
    assert_eq!(h.count(), 0);
    let report = intact(&h);
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.last_seq, 3);
    // The log continues after the tombstones, and still verifies.
    let c = send(&app, consent(&"c".repeat(32), "87011234569").to_request()).await;
    assert_eq!(c.json()["seq"], 4);
    let report = intact(&h);
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.receipts, 1);
}

#[actix_web::test]
async fn pages_are_stable_while_receipts_arrive() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    for i in 0..5 {
        send(
            &app,
            consent(&format!("{i:032x}"), "87011234567").to_request(),
        )
        .await;
    }
    let read = token(&h, &["demo"], Scope::Read, None).await;
    let page = |query: String| {
        TestRequest::get()
            .uri(&format!("/v1/admin/sites/demo/receipts?{query}"))
            .insert_header(bearer(&read))
            .to_request()
    };
    let seqs = |v: &serde_json::Value| -> Vec<i64> {
        v["receipts"]
            .as_array()
            .expect("array")
            .iter()
            .map(|r| r["seq"].as_i64().expect("seq"))
            .collect()
    };
    let first = send(&app, page("limit=2".into())).await.json();
    assert_eq!(seqs(&first), [5, 4]);
    assert_eq!(
        (first["total"].as_i64(), first["next"].as_i64()),
        (Some(5), Some(4))
    );
    for i in 5..7 {
        send(
            &app,
            consent(&format!("{i:032x}"), "87011234567").to_request(),
        )
        .await;
    }
    let second = send(&app, page("limit=2&before=4".into())).await.json();
    assert_eq!(seqs(&second), [3, 2]);
    let last = send(&app, page("limit=2&before=2".into())).await.json();
    assert_eq!(seqs(&last), [1]);
    assert!(last["next"].is_null());
    let filtered = send(&app, page("lang=kk".into())).await.json();
    assert_eq!(filtered["total"], 0);
    // Each form submission is its own consent: a later one under the same policy does not
    // replace it (only a cookie choice or a re-consent to a new policy version does).
    assert_eq!(first["receipts"][1]["status"], "given");

    let stats = send(
        &app,
        TestRequest::get()
            .uri("/v1/admin/sites/demo/stats")
            .insert_header(bearer(&read))
            .to_request(),
    )
    .await
    .json();
    assert_eq!(stats["total"]["given"], 7);
    assert_eq!(stats["per_lang"]["ru"]["given"], 7);
    assert_eq!(stats["per_policy_version"]["2026-03"]["given"], 7);
}

#[actix_web::test]
async fn the_admin_page_is_served_with_a_strict_csp_in_three_languages() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let page = send(
        &app,
        TestRequest::get()
            .uri("/admin")
            .insert_header(("accept-language", "kk-KZ,ru;q=0.8"))
            .to_request(),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<html lang=\"kk\">"));
    let csp = page.header("content-security-policy").expect("csp");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    for (file, kind) in [("admin.js", "text/javascript"), ("admin.css", "text/css")] {
        let reply = send(
            &app,
            TestRequest::get()
                .uri(&format!("/admin/{file}"))
                .to_request(),
        )
        .await;
        assert_eq!(reply.status, 200);
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with(kind))
        );
    }
    send(&app, TestRequest::get().uri("/admin/other.js").to_request())
        .await
        .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn the_cli_manages_tokens_and_exports_erases_and_purges_offline() {
    use crate::process::{run, stderr, stdout};
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let created = send(&app, consent(&"a".repeat(32), "87011234567").to_request()).await;
    let id = created.json()["id"].as_str().expect("id").to_owned();
    send(&app, consent(&"b".repeat(32), "87021234567").to_request()).await;
    h.state.store.shutdown();
    let dir = h.data.root().to_str().expect("utf-8 path").to_owned();
    let config = crate::support::demo_dir().join("kelisim.toml");
    let config = config.to_str().expect("utf-8 path");

    // Tokens: printed once, listed without the secret, revocable.
    let out = run(&[
        "tokens",
        "create",
        "--data-dir",
        &dir,
        "--config",
        config,
        "--site",
        "demo",
        "--expires",
        "30d",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    let (token_id, secret) = tokens::parse(&token).expect("a kls_ token");
    let list = stdout(&run(&["tokens", "list", "--data-dir", &dir]));
    assert!(
        list.contains(token_id) && list.contains("read") && !list.contains(secret),
        "{list}"
    );
    let out = run(&["tokens", "revoke", token_id, "--data-dir", &dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&run(&["tokens", "list", "--data-dir", &dir])).contains("revoked"));
    assert!(
        !run(&["tokens", "revoke", token_id, "--data-dir", &dir])
            .status
            .success()
    );

    // Export and stats straight from the data directory, subject in another spelling.
    let out = run(&[
        "receipts",
        "export",
        "--data-dir",
        &dir,
        "--site",
        "demo",
        "--subject",
        "+7 701 123-45-67",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    assert!(csv.starts_with('\u{feff}') && csv.contains(&id), "{csv}");
    assert_eq!(csv.lines().count(), 2);
    let out = run(&[
        "receipts",
        "export",
        "--data-dir",
        &dir,
        "--format",
        "kantara",
        "--config",
        config,
    ]);
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stderr(&out));
    let stats: serde_json::Value =
        serde_json::from_str(&stdout(&run(&["receipts", "stats", "--data-dir", &dir])))
            .expect("json");
    assert_eq!(stats["total"]["given"], 2);
    let shown = stdout(&run(&[
        "receipts",
        "show",
        &id,
        "--data-dir",
        &dir,
        "--format",
        "jws",
    ]));
    assert_eq!(payload_of(shown.trim())["id"], id.as_str());

    // Erasure and purge, then the chain still verifies.
    let out = run(&[
        "erase",
        "--data-dir",
        &dir,
        "--site",
        "demo",
        "--subject",
        "8 701 123 45 67",
        "--config",
        config,
    ]);
    assert!(
        stdout(&out).contains("1 receipts"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = run(&[
        "receipts",
        "export",
        "--data-dir",
        &dir,
        "--subject",
        "87011234567",
    ]);
    assert_eq!(
        stdout(&out).lines().count(),
        1,
        "only the header after erasure"
    );
    let out = run(&["purge", "--config", config, "--data-dir", &dir]);
    assert!(
        stdout(&out).contains("purged 0 receipts"),
        "{}",
        stdout(&out)
    );
    let out = run(&["audit", "--data-dir", &dir]);
    assert!(out.status.success(), "{}", stdout(&out));
}
