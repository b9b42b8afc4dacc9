//! Live config reload with the real binary: SIGHUP (what `systemctl reload` sends) makes a
//! running collector serve a site, origins, a policy version and cookie categories added to
//! its file; an invalid file keeps the running sites and the log names file, key and reason,
//! exactly as `config check` prints them.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::process::{Running, demo_site, run, spawn_serve, stderr, stdout};
use crate::support::fixture;

/// A second site with its own origin, policy version and cookie categories.
const SHOP: &str = r#"
[[site]]
id = "shop"
allowed_origins = ["https://shop.example.kz"]
languages = ["ru", "kk", "en"]
default_language = "kk"
current_policy = "2026-05"
retention_days = 365

[site.operator]
name = "ТОО «Дүкен»"
bin = "180940012348"
jurisdiction = "KZ"

[[site.policy]]
version = "2026-05"
published = "2026-05-01"
files = { ru = "policies/consent-2026-03.ru.md", kk = "policies/consent-2026-03.kk.md", en = "policies/consent-2026-03.en.md" }

[[site.purpose]]
id = "feedback"
required = true

[[site.category]]
id = "necessary"
required = true

[[site.category]]
id = "analytics"
services = ["Яндекс Метрика"]
"#;

const SHOP_ORIGIN: &str = "https://shop.example.kz";

/// Sends a request with an `Origin` header; returns the status, the CORS header and the body.
fn with_origin(method: &str, url: &str, origin: &str, body: Option<&str>) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .into();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("origin", origin)
        .header("content-type", "application/json");
    if method == "OPTIONS" {
        request = request.header("access-control-request-method", "POST");
    }
    let response = match body {
        Some(body) => agent.run(request.body(body.to_owned()).expect("request")),
        None => agent.run(request.body(()).expect("request")),
    };
    let mut response = response.expect("the collector answers");
    let allow = response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let status = response.status().as_u16();
    (
        status,
        allow,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// Waits (at most 10 s) until `done` holds, polling.
fn eventually(what: &str, server: &Running, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn shop_receipt() -> String {
    fixture("receipt_request_minimal.json")
        .replace("\"site\": \"demo\"", "\"site\": \"shop\"")
        .replace("\"2026-03\"", "\"2026-05\"")
}

#[test]
fn sighup_applies_a_new_site_and_keeps_the_running_sites_when_the_file_is_invalid() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site(tmp.path());
    let config = site.join("kelisim.toml");
    let server = spawn_serve(&config, &tmp.path().join("data"), &tmp.path().join("log"));
    let base = server.base.clone();
    let shop_config = format!("{base}/v1/sites/shop/config");

    // Before: no such site, and its origin is refused by CORS.
    let (status, _, body) = with_origin("GET", &shop_config, SHOP_ORIGIN, None);
    assert_eq!(status, 404, "{body}");
    let (status, allow, _) =
        with_origin("OPTIONS", &format!("{base}/v1/receipts"), SHOP_ORIGIN, None);
    assert_eq!((status, allow.as_str()), (403, ""));

    let original = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{original}\n{SHOP}")).expect("write config");
    server.signal("HUP");
    eventually("the new site is served", &server, || {
        with_origin("GET", &shop_config, SHOP_ORIGIN, None).0 == 200
    });
    let (_, allow, body) = with_origin("GET", &shop_config, SHOP_ORIGIN, None);
    assert_eq!(allow, SHOP_ORIGIN, "the new origin gets CORS headers");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("config JSON");
    assert_eq!(doc["policy"]["version"], "2026-05", "{doc}");
    let categories: Vec<&str> = doc["cookies"]["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(categories, ["necessary", "analytics"], "{doc}");
    // The preflight and the receipt itself from the new site's origin.
    let (status, allow, _) =
        with_origin("OPTIONS", &format!("{base}/v1/receipts"), SHOP_ORIGIN, None);
    assert_eq!((status, allow.as_str()), (200, SHOP_ORIGIN));
    let (status, _, body) = with_origin(
        "POST",
        &format!("{base}/v1/receipts"),
        SHOP_ORIGIN,
        Some(&shop_receipt()),
    );
    assert_eq!(status, 201, "{body}");
    // The demo site is still served, and its origin may not record for the shop.
    let (status, _, body) = with_origin(
        "POST",
        &format!("{base}/v1/receipts"),
        "http://127.0.0.1:8080",
        Some(&shop_receipt().replace("7e1f2a3b", "7e1f2a3c")),
    );
    assert_eq!(status, 403, "{body}");
    assert!(server.log().contains("SIGHUP: site configuration reloaded"));

    // An invalid file: the running sites stay, the log says where and why.
    let bad = format!("{original}\n{SHOP}").replace(
        "allowed_origins = [\"https://shop.example.kz\"]",
        "allowed_origins = [\"https://shop.example.kz/\"]",
    );
    std::fs::write(&config, &bad).expect("write config");
    server.signal("HUP");
    eventually("the refusal is logged", &server, || {
        server
            .log()
            .contains("keeping the running site configuration")
    });
    let check = run(&["config", "check", config.to_str().expect("utf-8")]);
    assert_eq!(check.status.code(), Some(1), "{}", stdout(&check));
    let message = stderr(&check);
    let message = message
        .trim()
        .strip_prefix("kelisim: error: ")
        .expect("an error line");
    let log = server.log();
    assert!(
        log.contains(message),
        "the log says what `config check` says ({message}):\n{log}"
    );
    for part in [
        config.to_str().expect("utf-8"),
        "site[shop].allowed_origins[0]",
        "is not an origin",
    ] {
        assert!(message.contains(part), "{part} in {message}");
    }
    let (status, _, _) = with_origin("GET", &shop_config, SHOP_ORIGIN, None);
    assert_eq!(status, 200, "the last good configuration is still served");

    // Witnesses are read at start: a reload that adds one says a restart is needed.
    std::fs::write(
        &config,
        format!(
            "{original}\n{SHOP}\n[[log.witness]]\nurl = \"https://witness.example.kz/v1/witness\"\n\
             key = \"witness.example.kz+3ab9e3e5+BOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs\"\n"
        ),
    )
    .expect("write config");
    let check = run(&["config", "check", config.to_str().expect("utf-8")]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    server.signal("HUP");
    eventually("the restart warning", &server, || {
        server
            .log()
            .contains("`log` changed in the file; it applies only after a restart")
    });
    assert!(server.terminate().success());
}

#[test]
fn config_check_prints_the_sites_or_the_error_without_starting_anything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site(tmp.path());
    let config = site.join("kelisim.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}\n{SHOP}")).expect("write");
    let arg = |p: &Path| p.to_str().expect("utf-8").to_owned();

    let out = run(&["config", "check", &arg(&config)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("is valid: 2 site(s)"), "{said}");
    assert!(
        said.contains("  shop: origins https://shop.example.kz; policy 2026-05"),
        "{said}"
    );
    assert!(
        said.contains("  demo: origins http://127.0.0.1:8080, http://localhost:8080"),
        "{said}"
    );

    let broken = site.join("broken.toml");
    std::fs::write(
        &broken,
        text.replace("retention_days = 1095", "retention_days = \"long\""),
    )
    .expect("write");
    let out = run(&["config", "check", &arg(&broken)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("broken.toml:"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let out = run(&["config", "check", &arg(&site.join("missing.toml"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read config file"),
        "{}",
        stderr(&out)
    );
    // Nothing was started or created beside the files.
    assert!(!site.join("data").exists() && !tmp.path().join("data").exists());
}
