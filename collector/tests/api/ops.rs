//! Operators' surfaces and abuse limits: `/metrics`, `/openapi.json` (covering every
//! registered route), the per-address rate limit (429 with Retry-After, store untouched),
//! CORS preflight refusals as problem+json, and a database upgraded from schema v1.

use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use kelisim_collector::build_app;
use kelisim_collector::web::app::registered_routes;

use crate::support::{Harness, config_with, fixture, post_receipt, send};

#[actix_web::test]
async fn metrics_count_receipts_rejections_latency_and_batches() {
    let h = Harness::serving_metrics();
    let app = test::init_service(build_app(h.state.clone())).await;
    let given = fixture("receipt_request_form_given.json");
    assert_eq!(
        send(&app, post_receipt(&given).to_request()).await.status,
        201
    );
    assert_eq!(
        send(&app, post_receipt(&given).to_request()).await.status,
        200
    );
    let unknown = given.replace("\"site\": \"demo\"", "\"site\": \"nope\"");
    send(&app, post_receipt(&unknown).to_request())
        .await
        .assert_problem(404, "unknown_site");

    let reply = send(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = reply.text();
    for line in [
        // The replay is not a new receipt.
        "kelisim_receipts_total{event=\"given\",kind=\"form\",site=\"demo\"} 1",
        "kelisim_rejections_total{code=\"unknown_site\"} 1",
        "kelisim_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/receipts\",status=\"201\"} 1",
        "kelisim_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/receipts\",status=\"404\"} 1",
        "kelisim_writer_batch_size_count 2",
        "kelisim_store_last_seq 1",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let bytes: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kelisim_store_bytes "))
        .and_then(|v| v.parse().ok())
        .expect("store size");
    assert!(bytes > 0, "{text}");
    assert!(
        !text.contains("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3"),
        "no references in labels"
    );
}

#[actix_web::test]
async fn metrics_are_not_served_to_the_public() {
    // `serve` without `--metrics-listen`: per-site consent counts and admin activity are the
    // operator's, not anyone's.
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    send(&app, TestRequest::get().uri("/metrics").to_request())
        .await
        .assert_problem(404, "not_found");
    let health = send(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(health.status, 200);
}

#[actix_web::test]
async fn openapi_describes_every_registered_route_and_the_problem_format() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let reply = send(&app, TestRequest::get().uri("/openapi.json").to_request()).await;
    assert_eq!(reply.status, 200);
    let doc = reply.json();
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let routes = registered_routes();
    for (method, path) in &routes {
        let op = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is registered but not in /openapi.json"))
            [method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
    }
    // And nothing is documented that is not served.
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
            assert!(
                routes.contains(&(m, path.clone())),
                "{method} {path} is documented but not registered"
            );
        }
    }
    let problem = &doc["components"]["schemas"]["Problem"];
    let mut members: Vec<&str> = problem["properties"]
        .as_object()
        .expect("Problem properties")
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(members, ["code", "detail", "status", "title", "type"]);
    let rejection = &paths["/v1/receipts"]["post"]["responses"]["422"]["content"];
    assert!(
        rejection["application/problem+json"]["schema"]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with("/Problem")),
        "{rejection}"
    );
    assert!(doc["components"]["schemas"]["ReceiptPayload"].is_object());
    assert!(doc["components"]["schemas"]["ReceiptRequest"].is_object());
}

#[actix_web::test]
async fn one_address_over_its_limit_gets_429_with_retry_after_and_changes_nothing() {
    let h = Harness::with_config(config_with("[rate_limit]\nper_second = 1\nburst = 2\n"));
    let app = test::init_service(build_app(h.state.clone())).await;
    let peer = "198.51.100.20:5000".parse().expect("addr");
    let body = |i: u32| {
        fixture("receipt_request_form_given.json")
            .replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", &format!("{i:032x}"))
    };
    for i in 0..2 {
        let reply = send(&app, post_receipt(&body(i)).peer_addr(peer).to_request()).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let head = h.state.store.reader().head().expect("head");
    let limited = send(&app, post_receipt(&body(2)).peer_addr(peer).to_request()).await;
    let problem = limited.assert_problem(429, "too_many_requests");
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Retry-After")),
        "{problem}"
    );
    assert_eq!(h.count(), 2, "the refused receipt is not stored");
    assert_eq!(h.state.store.reader().head().expect("head"), head);

    // Another address is not affected; operators' endpoints are not limited.
    let other = "198.51.100.21:5000".parse().expect("addr");
    let reply = send(&app, post_receipt(&body(3)).peer_addr(other).to_request()).await;
    assert_eq!(reply.status, 201);
    let health = send(
        &app,
        TestRequest::get()
            .uri("/healthz")
            .peer_addr(peer)
            .to_request(),
    )
    .await;
    assert_eq!(health.status, 200);
}

#[actix_web::test]
async fn refused_preflights_are_problem_documents() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let preflight = |origin: &str, method: &str| {
        TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/v1/receipts")
            .insert_header(("origin", origin.to_owned()))
            .insert_header(("access-control-request-method", method.to_owned()))
            .insert_header(("host", "consent.example.kz"))
            .to_request()
    };
    let foreign = send(&app, preflight("https://evil.example", "POST")).await;
    let problem = foreign.assert_problem(403, "origin_not_allowed");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("https://evil.example")),
        "{problem}"
    );
    assert_eq!(foreign.header("access-control-allow-origin"), None);
    let wrong_method = send(&app, preflight("http://localhost:8080", "DELETE")).await;
    wrong_method.assert_problem(400, "preflight_refused");
    let fine = send(&app, preflight("http://localhost:8080", "POST")).await;
    assert!(fine.status.is_success(), "{fine:?}");
}
