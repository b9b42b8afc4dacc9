//! Security review points, each as a test: secrets never in the log, owner-only files, body
//! and header limits, the per-address rate limit, no admin route without a valid token, config
//! texts rendered as text (never markup) by the collector, widget and admin page, and SQL built
//! only with bound parameters.

use std::path::Path;
use std::time::Duration;

use crate::process::{demo_site_with, run, spawn_serve, stdout};
use crate::support::{RAW_PHONE_DIGITS, fixture, repo_dir};

const FIXTURE_KEY: &str = "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn post_json(agent: &ureq::Agent, url: &str, body: &str) -> (u16, String) {
    match agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)
    {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(e) => (0, e.to_string()),
    }
}

/// The admin routes the OpenAPI document lists, with `{param}`s filled in.
fn admin_routes(base: &str) -> Vec<(String, String)> {
    let (status, doc) = crate::process::get(&format!("{base}/openapi.json"));
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("openapi JSON");
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/v1/admin") {
            continue;
        }
        let concrete = path
            .replace("{site}", "demo")
            .replace("{id}", "0190f3a4-0000-7000-8000-000000000000");
        for method in ops.as_object().expect("operations").keys() {
            out.push((method.to_uppercase(), concrete.clone()));
        }
    }
    out
}

#[test]
fn no_admin_route_answers_without_a_valid_token_and_tokens_never_reach_the_log() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(tmp.path(), "");
    let data = tmp.path().join("data");
    let log = tmp.path().join("collector.log");
    // Debug logging: the most a misconfigured operator would see.
    let server = {
        let mut cmd = crate::process::command();
        cmd.env("RUST_LOG", "debug")
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(site.join("kelisim.toml"))
            .arg("--data-dir")
            .arg(&data)
            .arg("--widget-dir")
            .arg(data.join("no-widget"));
        crate::process::spawn(cmd, &data, &log)
    };
    let agent = agent();
    let routes = admin_routes(&server.base);
    assert!(
        !routes.is_empty(),
        "the OpenAPI document lists admin routes"
    );
    let forged = "kls_0123456789abcdef_forgedsecretvalue0123456789abcdef";
    for (method, path) in &routes {
        for auth in [
            None,
            Some(format!("Bearer {forged}")),
            Some("Basic YTpi".into()),
        ] {
            let mut req = ureq::http::Request::builder()
                .method(method.as_str())
                .uri(format!("{}{path}", server.base));
            if let Some(auth) = &auth {
                req = req.header("authorization", auth);
            }
            let req = req
                .header("content-type", "application/json")
                .body("{}".to_owned())
                .expect("request");
            let status = agent.run(req).map_or(0, |r| r.status().as_u16());
            assert_eq!(status, 401, "{method} {path} with {auth:?}");
        }
    }
    // A real token: it works, and neither it nor the forged one is ever logged.
    let out = run(&[
        "tokens",
        "create",
        "--data-dir",
        data.to_str().expect("utf8"),
        "--config",
        site.join("kelisim.toml").to_str().expect("utf8"),
        "--site",
        "demo",
    ]);
    assert!(out.status.success(), "{}", crate::process::stderr(&out));
    let token = stdout(&out).trim().to_owned();
    assert!(token.starts_with("kls_"), "{token}");
    let ok = agent
        .get(&format!("{}/v1/admin/sites/demo/stats", server.base))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .map_or(0, |r| r.status().as_u16());
    assert_eq!(ok, 200);
    let (status, _) = post_json(
        &agent,
        &format!("{}/v1/receipts", server.base),
        &fixture("receipt_request_form_given.json"),
    );
    assert_eq!(status, 201);
    assert!(server.terminate().success());
    let secret = token.rsplit('_').next().expect("secret part");
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("DEBUG"), "debug logging was on");
    for needle in [secret, "forgedsecretvalue", RAW_PHONE_DIGITS, "YTpi"] {
        assert!(!logged.contains(needle), "`{needle}` is in the log");
    }
    crate::support::assert_not_in_files(&data, secret);
}

#[cfg(unix)]
#[test]
fn keys_secrets_and_the_database_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(tmp.path(), "");
    let data = tmp.path().join("data");
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &tmp.path().join("log"));
    assert!(server.terminate().success());
    let out = run(&["keys", "rotate", "--data-dir", data.to_str().expect("utf8")]);
    assert!(out.status.success());
    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("keys")), 0o700, "keys dir");
    let keys: Vec<_> = std::fs::read_dir(data.join("keys"))
        .expect("keys")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(keys.len() >= 2, "first key and rotated key");
    for file in keys
        .iter()
        .chain([&data.join("subject.key"), &data.join("kelisim.db")])
    {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}

#[test]
fn oversized_bodies_and_headers_are_refused_and_the_server_keeps_serving() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(tmp.path(), "");
    let data = tmp.path().join("data");
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &tmp.path().join("log"));
    let agent = agent();
    let url = format!("{}/v1/receipts", server.base);
    // 16 KiB + 1 of valid JSON: refused by size before it is parsed.
    let mut big = fixture("receipt_request_form_given.json");
    let pad = 16 * 1024 + 1 - big.len();
    big = big.replacen('{', &format!("{{\"pad\":\"{}\",", "x".repeat(pad)), 1);
    assert!(big.len() > 16 * 1024);
    let (status, body) = post_json(&agent, &url, &big);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("body_too_large"), "{body}");
    // actix-http's fixed limits: a 128 KiB header section and 96 headers. Beyond them the
    // request is refused (431, or the connection closed), and nothing else is affected.
    let huge = "a".repeat(160 * 1024);
    let status = agent
        .get(&format!("{}/healthz", server.base))
        .header("x-filler", &huge)
        .call()
        .map_or(0, |r| r.status().as_u16());
    assert!(
        matches!(status, 0 | 400 | 431),
        "160 KiB header got {status}"
    );
    // Many headers.
    let mut req = ureq::http::Request::builder().uri(format!("{}/healthz", server.base));
    for i in 0..200 {
        req = req.header(format!("x-h{i}"), "v");
    }
    let status = agent
        .run(req.body(()).expect("request"))
        .map_or(0, |r| r.status().as_u16());
    assert!(matches!(status, 0 | 400 | 431), "200 headers got {status}");
    let (status, body) = post_json(&agent, &url, &fixture("receipt_request_form_given.json"));
    assert_eq!(status, 201, "still serving: {body}");
    assert!(server.terminate().success());
}

#[test]
fn one_address_is_rate_limited_with_retry_after() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(tmp.path(), "[rate_limit]\nper_second = 5\nburst = 10\n");
    let data = tmp.path().join("data");
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &tmp.path().join("log"));
    let agent = agent();
    let template = fixture("receipt_request_form_given.json");
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for n in 0..40u32 {
        let body = template.replace(FIXTURE_KEY, &format!("{n:032x}"));
        let res = agent
            .post(&format!("{}/v1/receipts", server.base))
            .header("content-type", "application/json")
            .send(&body)
            .expect("answer");
        if res.status().as_u16() == 429 && retry_after.is_none() {
            retry_after = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        statuses.push(res.status().as_u16());
    }
    let accepted = statuses.iter().filter(|s| **s == 201).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(accepted + limited, 40, "{statuses:?}");
    assert!(
        (10..=20).contains(&accepted),
        "burst 10 then ~5/s: {statuses:?}"
    );
    assert!(
        retry_after
            .as_deref()
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)),
        "{retry_after:?}"
    );
    assert!(server.terminate().success());
    let reader = kelisim_collector::store::open_reader(&crate::support::store_of(
        &kelisim_collector::ops::datadir::DataDir::new(&data),
    ))
    .expect("db");
    assert_eq!(
        reader.count().expect("count"),
        i64::try_from(accepted).expect("fits")
    );
}

#[test]
fn config_texts_with_html_render_as_text_on_the_receipt_page() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = crate::process::demo_site(tmp.path());
    let config = site.join("kelisim.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let hostile = r#"<script>alert(1)</script><img src=x onerror=alert(2)> "Co" & 'Sons'"#;
    let text = text.replacen(
        "name = \"ТОО «Алтын Жол Логистика»\"",
        &format!("name = {}", toml_string(hostile)),
        1,
    );
    assert!(
        text.contains("onerror"),
        "the demo operator line was replaced"
    );
    std::fs::write(&config, text).expect("write");
    let data = tmp.path().join("data");
    let server = spawn_serve(&config, &data, &tmp.path().join("log"));
    let agent = agent();
    let (status, body) = post_json(
        &agent,
        &format!("{}/v1/receipts", server.base),
        &fixture("receipt_request_form_given.json"),
    );
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut res = agent
        .get(&format!("{}/v1/receipts/{id}?format=html", server.base))
        .call()
        .expect("page");
    let page = res.body_mut().read_to_string().expect("html");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        !page.contains("<script>alert"),
        "markup from the config reached the page"
    );
    assert!(
        !page.contains("<img src=x"),
        "markup from the config reached the page"
    );
    // The widget gets the text as JSON data, which it puts in the DOM as text (see below).
    let (_, config_json) = crate::process::get(&format!("{}/v1/sites/demo/config", server.base));
    let doc: serde_json::Value = serde_json::from_str(&config_json).expect("json");
    assert_eq!(doc["operator"]["name"], hostile);
    assert!(server.terminate().success());
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Source outside test modules: everything before the first `#[cfg(…test…)]` line.
fn shipped_source(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("source");
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("#[cfg(") && line.contains("test") {
            break;
        }
        end += line.len();
    }
    text[..end].to_owned()
}

fn files_with(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    crate::support::files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

#[test]
fn the_widget_and_admin_page_never_parse_strings_as_html() {
    let mut checked = 0;
    let sources = files_with(&repo_dir().join("widget/src"), "rs")
        .into_iter()
        .chain(files_with(&repo_dir().join("widget/js"), "js"))
        .chain(files_with(&repo_dir().join("collector/assets/admin"), "js"));
    for file in sources {
        let text = shipped_source(&file);
        for sink in [
            "set_inner_html",
            "set_outer_html",
            "insert_adjacent_html",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "createContextualFragment",
        ] {
            assert!(
                !text.contains(sink),
                "{} uses `{sink}`: config texts must go into the DOM as text",
                file.display()
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 5,
        "found the widget and admin sources ({checked})"
    );
}

#[test]
fn sql_is_only_built_with_bound_parameters() {
    let keywords = [
        "SELECT ", "INSERT ", "UPDATE ", "DELETE ", " WHERE ", "PRAGMA ",
    ];
    let mut statements = 0;
    for file in files_with(&repo_dir().join("collector/src"), "rs") {
        let text = shipped_source(&file);
        statements += keywords
            .iter()
            .map(|k| text.matches(k).count())
            .sum::<usize>();
        // A format!/concat building a string with SQL in it is how injection happens.
        for (at, _) in text.match_indices("format!(") {
            // 400 bytes, cut back to a character boundary (the built-in texts are Cyrillic).
            let mut end = (at + 400).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let call = &text[at..end];
            let literal = call.split('"').nth(1).unwrap_or_default();
            if !keywords.iter().any(|k| literal.contains(k)) {
                continue;
            }
            // Only constants (a column list, a table name) and `marks` — a run of `?,?,…`
            // placeholders for an IN list — may be spliced in; values are bound.
            for placeholder in literal.split('{').skip(1) {
                let name = placeholder.split('}').next().unwrap_or_default();
                assert!(
                    name == "marks"
                        || !name.is_empty()
                            && name
                                .bytes()
                                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                    "{}: SQL built with format! from `{{{name}}}`: {literal:?}; bind parameters \
                     instead",
                    file.display()
                );
            }
        }
    }
    assert!(statements > 10, "found the collector's SQL ({statements})");
}

#[cfg(unix)]
#[test]
fn an_existing_data_directory_open_to_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(tmp.path(), "");
    let data = tmp.path().join("data");
    let log = tmp.path().join("log");
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &log);
    assert!(server.terminate().success());
    // As a backup restored with a umask of 022 leaves them.
    let set = |p: &Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    set(&data, 0o755);
    set(&data.join("kelisim.db"), 0o644);
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &log);
    assert!(server.terminate().success());
    let logged = std::fs::read_to_string(&log).expect("log");
    for (path, fix) in [
        (data.clone(), "chmod 700"),
        (data.join("kelisim.db"), "chmod 600"),
    ] {
        let line = logged
            .lines()
            .find(|l| l.contains(&*path.to_string_lossy()) && l.contains("open to group or others"))
            .unwrap_or_else(|| panic!("no warning for {}:\n{logged}", path.display()));
        assert!(line.contains(fix), "{line}");
    }
}

#[test]
fn no_error_body_names_a_path_of_the_server() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(tmp.path(), "");
    let data = tmp.path().join("data");
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &tmp.path().join("log"));
    let agent = agent();
    let root = tmp.path().to_string_lossy().into_owned();
    for (method, path, body) in [
        ("GET", "/kelisim.js", ""),
        ("GET", "/kelisim.0123456789abcdef.wasm", ""),
        ("GET", "/v1/sites/demo/policies/1999-01", ""),
        ("GET", "/v1/sites/demo/policies/2026-03?lang=de", ""),
        ("GET", "/v1/receipts/ffffffffffffffffffffffffffffffff", ""),
        ("GET", "/nothing/here", ""),
        ("POST", "/v1/receipts", "{"),
        ("GET", "/metrics", ""),
    ] {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", server.base))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .expect("request");
        let mut res = agent.run(req).expect("answer");
        let text = res.body_mut().read_to_string().unwrap_or_default();
        assert!(res.status().as_u16() >= 400, "{path}: {text}");
        assert!(
            !text.contains(&root) && !text.contains("/tmp/"),
            "{path}: {text}"
        );
    }
    assert!(server.terminate().success());
}

#[test]
fn metrics_answer_only_on_their_own_address() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(tmp.path(), "");
    let data = tmp.path().join("data");
    let metrics = format!("127.0.0.1:{}", crate::process::free_port());
    let server = crate::process::spawn_serve_with(
        &site.join("kelisim.toml"),
        &data,
        &tmp.path().join("log"),
        &["--metrics-listen", &metrics],
    );
    let get = |url: &str| crate::process::get(url).0;
    assert_eq!(
        get(&format!("{}/metrics", server.base)),
        404,
        "not to the public"
    );
    assert_eq!(get(&format!("http://{metrics}/metrics")), 200);
    assert_eq!(get(&format!("http://{metrics}/readyz")), 200);
    assert_eq!(
        get(&format!("http://{metrics}/v1/sites/demo/config")),
        404,
        "the metrics address serves the operators' routes only"
    );
    assert_eq!(get(&format!("{}/v1/sites/demo/config", server.base)), 200);
    assert!(server.terminate().success());
}

#[test]
fn admin_calls_have_their_own_bucket_and_any_case_of_bearer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(
        tmp.path(),
        "[rate_limit]\nper_second = 1\nburst = 2\nadmin_per_second = 1\nadmin_burst = 5\n",
    );
    let data = tmp.path().join("data");
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &tmp.path().join("log"));
    let out = run(&[
        "tokens",
        "create",
        "--data-dir",
        data.to_str().expect("utf8"),
        "--config",
        site.join("kelisim.toml").to_str().expect("utf8"),
        "--site",
        "demo",
    ]);
    assert!(out.status.success(), "{}", crate::process::stderr(&out));
    let token = stdout(&out).trim().to_owned();
    let agent = agent();
    // The public bucket of this address is used up...
    let public: Vec<u16> = (0..6)
        .map(|_| {
            agent
                .get(&format!("{}/v1/sites/demo/config", server.base))
                .call()
                .map_or(0, |r| r.status().as_u16())
        })
        .collect();
    assert!(public.contains(&429), "{public:?}");
    // ...and the admin still gets in. A time filter that is not a time is an error, not an
    // empty result.
    let mut res = agent
        .get(&format!(
            "{}/v1/admin/sites/demo/receipts?from=garbage",
            server.base
        ))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .expect("answer");
    let body = res.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(res.status().as_u16(), 400, "{body}");
    assert!(
        body.contains("invalid_request") && body.contains("`from`"),
        "{body}"
    );
    // Under any spelling of the scheme (RFC 7235), until the admin bucket runs out in turn.
    let admin: Vec<u16> = ["Bearer", "bearer", "BEARER", "bEaReR"]
        .iter()
        .chain(&["Bearer"; 4])
        .map(|scheme| {
            agent
                .get(&format!("{}/v1/admin/sites/demo/stats", server.base))
                .header("authorization", &format!("{scheme} {token}"))
                .call()
                .map_or(0, |r| r.status().as_u16())
        })
        .collect();
    assert_eq!(&admin[..4], [200, 200, 200, 200], "{admin:?}");
    assert!(
        admin.contains(&429),
        "the admin bucket is limited too: {admin:?}"
    );
    assert!(server.terminate().success());
}

#[test]
fn tokens_are_refused_for_a_past_expiry_or_an_unknown_site() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(tmp.path(), "");
    let data = tmp.path().join("data");
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &tmp.path().join("log"));
    assert!(server.terminate().success());
    let config = site.join("kelisim.toml");
    let create = |extra: &[&str]| {
        let mut args = vec![
            "tokens",
            "create",
            "--data-dir",
            data.to_str().expect("utf8"),
            "--config",
            config.to_str().expect("utf8"),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    for (extra, reason) in [
        (
            &["--site", "demo", "--expires", "2020-01-01T00:00:00Z"][..],
            "is in the past",
        ),
        (
            &["--site", "demo", "--expires", "0d"][..],
            "a number of days",
        ),
        (&["--site", "demo", "--expires=-5d"][..], "a number of days"),
        (
            &["--site", "nosuchsite"][..],
            "--site `nosuchsite` is not configured",
        ),
    ] {
        let out = create(extra);
        assert!(!out.status.success(), "{extra:?} was accepted");
        let err = crate::process::stderr(&out);
        assert!(err.contains(reason), "{extra:?}: {err}");
    }
    let list = stdout(&run(&[
        "tokens",
        "list",
        "--data-dir",
        data.to_str().expect("utf8"),
    ]));
    assert!(list.starts_with("no tokens"), "nothing was created: {list}");
    let out = create(&["--site", "demo", "--expires", "90d"]);
    assert!(out.status.success(), "{}", crate::process::stderr(&out));
}
