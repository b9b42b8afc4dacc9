//! Site config, policy texts, JWKS, health probes and unknown routes.

use actix_web::test::{self, TestRequest};
use kelisim_collector::build_app;
use kelisim_collector::hash::sha256_hex;

use crate::support::{BASE_URL, Harness, demo_config, demo_dir, get_jwks, send};

#[actix_web::test]
async fn site_config_matches_the_wire_contract_and_revalidates_by_etag() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let reply = send(
        &app,
        TestRequest::get().uri("/v1/sites/demo/config").to_request(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("public, max-age=300"));
    let json = reply.json();
    let revision = json["revision"].as_str().expect("revision");
    assert_eq!(revision.len(), 16);
    assert_eq!(
        reply.header("etag"),
        Some(format!("\"{revision}\"").as_str())
    );

    let config = demo_config();
    let site = config.site("demo").expect("demo site");
    assert_eq!(
        reply.body.to_vec(),
        site.public_view(BASE_URL).json,
        "served as rendered"
    );
    assert_eq!(json["site"], "demo");
    assert_eq!(
        json["operator"],
        serde_json::json!({ "name": "ТОО «Алтын Жол Логистика»", "bin": "180940012348" })
    );
    assert_eq!(json["policy"]["version"], "2026-03");
    assert_eq!(
        json["policy"]["url"],
        format!("{BASE_URL}/v1/sites/demo/policies/2026-03")
    );
    assert_eq!(json["languages"], serde_json::json!(["ru", "kk", "en"]));
    assert_eq!(json["default_language"], "ru");
    for lang in ["ru", "kk", "en"] {
        let texts = json["texts"][lang].as_object().expect("texts per language");
        for key in ["label", "link", "error", "receipt"] {
            assert!(
                texts[key].as_str().is_some_and(|t| !t.is_empty()),
                "{lang}.{key}"
            );
        }
    }
    assert_eq!(
        json["texts"]["kk"]["label"],
        "Дербес деректерді жинауға және өңдеуге келісемін"
    );
    // The optional purpose brings its box's text in every language; the required one has
    // the consent box's.
    assert_eq!(
        json["purposes"][0],
        serde_json::json!({ "id": "feedback", "required": true })
    );
    assert_eq!(json["purposes"][1]["id"], "news");
    assert_eq!(json["purposes"][1]["required"], false);
    assert_eq!(
        json["purposes"][1]["label"]["kk"],
        "Жаңалықтар мен арнайы ұсыныстарды e-mail және SMS арқылы алуға келісемін"
    );

    let cached = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/config")
            .insert_header(("if-none-match", format!("\"{revision}\"")))
            .to_request(),
    )
    .await;
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());

    let unknown = send(
        &app,
        TestRequest::get().uri("/v1/sites/nope/config").to_request(),
    )
    .await;
    unknown.assert_problem(404, "unknown_site");

    // A page on an origin the site does not list learns why, readably (issue 12): a CORS
    // failure would only say "Failed to fetch".
    let foreign = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/config")
            .insert_header(("origin", "https://shop.example.kz"))
            .to_request(),
    )
    .await;
    let problem = foreign.assert_problem(403, "origin_not_allowed");
    assert_eq!(
        foreign.header("access-control-allow-origin"),
        Some("https://shop.example.kz")
    );
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("https://shop.example.kz") && detail.contains("allowed_origins"),
        "{detail}"
    );
    let listed = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/config")
            .insert_header(("origin", "http://localhost:8080"))
            .to_request(),
    )
    .await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.header("access-control-allow-origin"),
        Some("http://localhost:8080")
    );
}

/// A page revalidates the config it keeps by its revision in the query (no header, so no CORS
/// preflight): `304` without a body while it is current, the whole config when it is not;
/// and the config travels compressed when the browser accepts it.
#[actix_web::test]
async fn site_config_revalidates_by_revision_and_is_sent_compressed() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let page = "http://localhost:8080";
    let get = |uri: String| {
        TestRequest::get()
            .uri(&uri)
            .insert_header(("origin", page))
            .insert_header(("accept-encoding", "gzip, deflate, br, zstd"))
            .to_request()
    };
    let full = send(&app, get("/v1/sites/demo/config".to_owned())).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.header("content-encoding"), Some("br"));
    assert!(
        full.header("vary")
            .is_some_and(|v| v.starts_with("Accept-Encoding")),
        "{:?}",
        full.header("vary")
    );
    let mut json = Vec::new();
    brotli::BrotliDecompress(&mut &full.body[..], &mut json).expect("brotli");
    let config = demo_config();
    let view = config
        .site("demo")
        .expect("demo site")
        .public_view(BASE_URL);
    assert_eq!(json, view.json, "the rendered config, compressed");
    assert!(
        full.body.len() * 2 < view.json.len(),
        "{} bytes compressed of {}",
        full.body.len(),
        view.json.len()
    );

    let current = send(
        &app,
        get(format!("/v1/sites/demo/config?revision={}", view.revision)),
    )
    .await;
    assert_eq!(current.status, 304);
    assert!(current.body.is_empty());
    assert_eq!(current.header("access-control-allow-origin"), Some(page));
    assert_eq!(current.header("cache-control"), Some("no-cache"));
    assert_eq!(
        current.header("etag"),
        Some(format!("\"{}\"", view.revision).as_str())
    );

    // Another revision (an older config, a reload since): the whole config, which no shared
    // cache may keep for that query.
    for stale in ["0123456789abcdef", "", "%22x%22"] {
        let changed = send(&app, get(format!("/v1/sites/demo/config?revision={stale}"))).await;
        assert_eq!(changed.status, 200, "{stale}");
        assert_eq!(changed.header("cache-control"), Some("no-cache"));
        let mut json = Vec::new();
        brotli::BrotliDecompress(&mut &changed.body[..], &mut json).expect("brotli");
        assert_eq!(json, view.json, "{stale}");
    }

    // The refusals stay what they were: the origin rule before any revision.
    let foreign = send(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/sites/demo/config?revision={}", view.revision))
            .insert_header(("origin", "https://shop.example.kz"))
            .to_request(),
    )
    .await;
    foreign.assert_problem(403, "origin_not_allowed");
    let unknown = send(&app, get("/v1/sites/nope/config?revision=x".to_owned())).await;
    unknown.assert_problem(404, "unknown_site");
}

#[actix_web::test]
async fn policy_texts_are_served_exactly_in_the_chosen_language() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let file = |lang: &str| {
        std::fs::read(demo_dir().join(format!("policies/consent-2026-03.{lang}.md")))
            .expect("policy file")
    };
    let kk = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/policies/2026-03?lang=kk")
            .to_request(),
    )
    .await;
    assert_eq!(kk.status, 200);
    assert_eq!(
        kk.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    assert_eq!(kk.header("content-language"), Some("kk"));
    assert_eq!(kk.body.to_vec(), file("kk"));
    assert_eq!(
        kk.header("etag"),
        Some(format!("\"{}\"", sha256_hex(&file("kk"))).as_str())
    );

    let negotiated = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/policies/2026-03")
            .insert_header(("accept-language", "en-GB,en;q=0.9"))
            .to_request(),
    )
    .await;
    assert_eq!(negotiated.body.to_vec(), file("en"));
    assert!(
        negotiated
            .header("vary")
            .is_some_and(|v| v.contains("Accept-Language")),
        "{negotiated:?}"
    );
    let default = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/policies/2026-03")
            .to_request(),
    )
    .await;
    assert_eq!(
        default.body.to_vec(),
        file("ru"),
        "the site's default language"
    );

    // A browser gets the Markdown rendered as a page (issue 12: visitors saw `# Согласие…`),
    // under the strict CSP, linking to the exact bytes; `format=text` gives those bytes.
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/policies/2026-03?lang=ru")
            .insert_header(("accept", browser))
            .to_request(),
    )
    .await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|csp| csp.starts_with("default-src 'none'"))
    );
    assert!(page.header("vary").is_some_and(|v| v.contains("Accept")));
    assert_ne!(page.header("etag"), kk.header("etag"));
    let html = std::str::from_utf8(&page.body).expect("utf-8");
    assert!(
        html.contains("<h1>Согласие на обработку персональных данных</h1>"),
        "{html}"
    );
    assert!(!html.contains("# Согласие"), "rendered, not raw");
    assert!(html.contains("<strong>Какие данные.</strong>"));
    assert!(html.contains(&sha256_hex(&file("ru"))));
    assert!(html.contains("href=\"/v1/sites/demo/policies/2026-03?lang=ru&amp;format=text\""));
    let exact = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/policies/2026-03?lang=ru&format=text")
            .insert_header(("accept", browser))
            .to_request(),
    )
    .await;
    assert_eq!(exact.body.to_vec(), file("ru"), "the bytes receipts hash");
    let bad_format = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/policies/2026-03?format=pdf")
            .to_request(),
    )
    .await;
    assert_eq!(bad_format.status, 400);

    let version = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/policies/2024-01")
            .to_request(),
    )
    .await;
    version.assert_problem(404, "unknown_policy");
    let lang = send(
        &app,
        TestRequest::get()
            .uri("/v1/sites/demo/policies/2026-03?lang=de")
            .to_request(),
    )
    .await;
    let problem = lang.assert_problem(404, "unknown_language");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("en, kk, ru"),
        "{problem}"
    );
}

#[actix_web::test]
async fn jwks_health_and_unknown_routes() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let jwks = get_jwks(&app).await;
    assert_eq!(jwks.status, 200);
    let keys = jwks.json()["keys"].as_array().expect("keys").clone();
    assert_eq!(keys.len(), 1);
    let key = keys[0].as_object().expect("key");
    let mut members: Vec<&str> = key.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x"]);
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );

    let health = send(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(
        (health.status.as_u16(), health.json()),
        (200, serde_json::json!({"status": "ok"}))
    );
    let ready = send(&app, TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(
        (ready.status.as_u16(), ready.json()),
        (200, serde_json::json!({"status": "ready"}))
    );
    h.state.store.shutdown();
    let stopped = send(&app, TestRequest::get().uri("/readyz").to_request()).await;
    stopped.assert_problem(503, "unavailable");
    assert_eq!(stopped.header("retry-after"), Some("1"));

    let unknown = send(&app, TestRequest::get().uri("/v2/anything").to_request()).await;
    unknown.assert_problem(404, "not_found");
    let wrong_method = send(
        &app,
        TestRequest::post()
            .uri("/v1/sites/demo/config")
            .to_request(),
    )
    .await;
    wrong_method.assert_problem(405, "method_not_allowed");
    let widget = send(&app, TestRequest::get().uri("/kelisim.js").to_request()).await;
    let problem = widget.assert_problem(404, "not_found");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("not built"),
        "{problem}"
    );
}
