//! The admin API (issue 7): token checks on every route (generated from the route table),
//! search by a phone typed another way, keyset pages, CSV/NDJSON/Kantara export (validated
//! against the Kantara v1.1 JSON Schema), withdrawal, erasure, retention purge, the audit
//! trail — and `audit` still verifying the chain after each lifecycle change.

use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use kelisim_collector::app::registered_admin_routes;
use kelisim_collector::audit;
use kelisim_collector::build_app;
use kelisim_collector::receipt::format_timestamp;
use kelisim_collector::store::{Maintenance, Scope};
use kelisim_collector::tokens;

use crate::support::{Harness, config_with, fixture, payload_of, post_receipt, send};

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

/// `POST /v1/receipts` of a form consent typed with `phone`, under `key`.
fn consent(key: &str, phone: &str) -> TestRequest {
    post_receipt(&form_request(key, phone))
}

fn intact(h: &Harness) -> audit::AuditReport {
    let keys = h.state.public_keys();
    audit::audit(&h.state.store.reader(), &keys).expect("audit runs")
}

fn admin_request(method: &Method, path: &str, id: &str) -> TestRequest {
    let uri = path.replace("{site}", "demo").replace("{id}", id);
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
    let routes = registered_admin_routes();
    assert!(routes.len() >= 7, "{routes:?}");
    for (method, path) in &routes {
        let what = format!("{method} {path}");
        let none = send(&app, admin_request(method, path, &id).to_request()).await;
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
                admin_request(method, path, &id)
                    .insert_header(("authorization", bad))
                    .to_request(),
            )
            .await;
            reply.assert_problem(401, "unauthorized");
        }
        send(
            &app,
            admin_request(method, path, &id)
                .insert_header(bearer(&expired))
                .to_request(),
        )
        .await
        .assert_problem(401, "unauthorized");
        send(
            &app,
            admin_request(method, path, &id)
                .insert_header(bearer(&other))
                .to_request(),
        )
        .await
        .assert_problem(403, "forbidden");
        let as_reader = send(
            &app,
            admin_request(method, path, &id)
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
            admin_request(method, path, &id)
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
    // A broken document does not pass, so the check above means something.
    let mut broken = docs[0].clone();
    broken["services"][0]["purposes"][0]["thirdPartyDisclosure"] = true.into();
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
    assert_eq!(
        detail["payload"]["subject"]["browser_id"],
        "5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94"
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
        TestRequest::post()
            .uri("/v1/admin/sites/demo/withdrawals")
            .insert_header(bearer(&admin))
            .insert_header(("content-type", "application/json"))
            .set_payload(format!(r#"{{"subject":"{subject}"}}"#))
            .to_request()
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
        TestRequest::post()
            .uri("/v1/admin/sites/demo/withdrawals")
            .insert_header(bearer(&admin))
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"subject":"+77011234567","receipt":"x"}"#)
            .to_request(),
    )
    .await
    .assert_problem(400, "invalid_body");
}

#[actix_web::test]
async fn erasure_forgets_the_subject_and_keeps_the_chain() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    for (key, phone) in [
        ("a", "87011234567"),
        ("b", "+7 701 123 45 67"),
        ("c", "+7 702 000 00 00"),
    ] {
        let r = send(&app, consent(&key.repeat(32), phone).to_request()).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let admin = token(&h, &["demo"], Scope::Admin, None).await;
    let erased = send(
        &app,
        TestRequest::post()
            .uri("/v1/admin/sites/demo/erasures")
            .insert_header(bearer(&admin))
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"subject":"8 (701) 123 45 67"}"#)
            .to_request(),
    )
    .await;
    assert_eq!(erased.status, 200, "{}", erased.text());
    assert_eq!(erased.json()["receipts"], 2);
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
        TestRequest::post()
            .uri("/v1/admin/sites/demo/withdrawals")
            .insert_header(bearer(&admin))
            .insert_header(("content-type", "application/json"))
            .set_payload(format!(
                r#"{{"receipt":"{}"}}"#,
                a["id"].as_str().expect("id")
            ))
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
