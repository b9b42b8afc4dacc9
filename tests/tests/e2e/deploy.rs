//! Issue 17, TLS in front: the collector as docs/deploy.md runs it — the widget built into the
//! binary (no `--widget-dir`), `deploy/nginx.conf` in front with a certificate — serves a
//! site's form over HTTPS and HTTP/2 in a real browser; the proxy keeps the widget's caching,
//! gives the rate limit the visitor's address (and nothing a client chose), refuses oversized
//! bodies and hides `/metrics`. `deploy/Caddyfile` is checked by Debian's Caddy.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use jsonwebtoken::jwk::JwkSet;
use kelisim_tests::proxy::{Fetched, Nginx};
use kelisim_tests::site::{POLICY, write_config};
use kelisim_tests::{Browser, Collector, Site, env_path, jose, root};
use serde_json::Value;
use sha2::{Digest, Sha256};
use thirtyfour::prelude::*;

/// The site origin of the tests that need no browser (no traffic goes there).
const SHOP: &str = "https://shop.example.kz";

/// A collector for `site_origin` behind nginx, set up as docs/deploy.md says: `public_url`
/// is nginx's https address and nginx (127.0.0.1) is the one proxy trusted for
/// X-Forwarded-For. `rate_limit` adds lines to `[rate_limit]`.
async fn behind_nginx(
    config_dir: &Path,
    site_origin: &str,
    rate_limit: &str,
) -> Result<(Collector, Nginx)> {
    // nginx needs the collector's port and the collector nginx's address (public_url):
    // reserve the collector's port, start nginx pointing at it, then the collector.
    let collector_port = free_port()?;
    let nginx = Nginx::start(collector_port).await?;
    let config = write_config(config_dir, site_origin, POLICY)?;
    let text = std::fs::read_to_string(&config)?;
    std::fs::write(
        &config,
        format!(
            "public_url = \"{}\"\n[rate_limit]\ntrusted_proxies = [\"127.0.0.1\"]\n{rate_limit}\n{text}",
            nginx.url
        ),
    )?;
    let collector =
        Collector::serve_built_in(&config, tempfile::tempdir()?, collector_port).await?;
    Ok((collector, nginx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_form_records_a_receipt_through_nginx_over_https() -> Result<()> {
    let site = Site::start().await?;
    let config_dir = tempfile::tempdir()?;
    let (collector, nginx) = behind_nginx(config_dir.path(), &site.url, "").await?;
    // The page names the collector's https address in its script tag (open/proxied.html).
    site.set_collector(&nginx.url);
    let browser = Browser::start_with(&[format!(
        "--ignore-certificate-errors-spki-list={}",
        nginx.spki
    )])
    .await?;
    let result = browser
        .run(async |browser| {
            let driver = &browser.driver;
            driver
                .goto(format!("{}/open/proxied.html", site.url))
                .await?;
            browser.widget_state("ready").await.with_context(|| {
                format!(
                    "the widget did not load through nginx: {}",
                    nginx.error_log()
                )
            })?;
            let loaded = browser
                .js(
                    "return performance.getEntriesByType('resource')
                        .filter(e => e.name.startsWith(arguments[0]))
                        .map(e => [e.name.slice(arguments[0].length), e.nextHopProtocol]);",
                    vec![Value::from(nginx.url.clone())],
                )
                .await?;
            let loaded: Vec<(String, String)> = serde_json::from_value(loaded)?;
            for wanted in ["/kelisim.js", ".wasm", ".css"] {
                ensure!(
                    loaded.iter().any(|(name, _)| name.ends_with(wanted)),
                    "the page loaded no {wanted} from nginx: {loaded:?}"
                );
            }
            // Cross-origin entries may hide their protocol (""); any shown must be HTTP/2.
            ensure!(
                loaded.iter().all(|(_, p)| p.is_empty() || p == "h2"),
                "widget files not over HTTP/2: {loaded:?}"
            );

            for (field, value) in [("name", "Айгерим"), ("phone", "8 (701) 555-12-34")] {
                driver
                    .find(By::Css(format!("#feedback [name={field}]")))
                    .await?
                    .send_keys(value)
                    .await?;
            }
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
            let reference = site
                .submission(1)
                .await?
                .get("kelisim_receipt")
                .unwrap_or_default()
                .to_owned();
            ensure!(
                !reference.is_empty(),
                "the form carried no receipt reference"
            );

            // What a verifier does: the receipt and the keys over https, the signature checked
            // with an independent JOSE library, the consent text's hash against its URL.
            let stored = collector.stored_receipt(&reference).await?;
            let jws = stored["jws"].as_str().context("stored receipt has a jws")?;
            let keys = nginx.curl("/.well-known/jwks.json", "127.0.0.1", &[])?;
            ensure!(keys.status == 200, "jwks through nginx: {}", keys.status);
            let jwks: JwkSet = serde_json::from_slice(&keys.body)?;
            let payload = jose::verify(jws, &jwks)?;
            assert_eq!(payload["ref"], reference.as_str());
            let policy_url = payload["policy"]["url"].as_str().context("policy.url")?;
            let path = policy_url
                .strip_prefix(nginx.url.as_str())
                .with_context(|| format!("policy.url {policy_url} is not under public_url"))?;
            let text = nginx.curl(&format!("{path}&format=text"), "127.0.0.1", &[])?;
            assert_eq!(
                payload["policy"]["sha256"],
                hex(&Sha256::digest(&text.body)).as_str()
            );

            // The browser itself speaks HTTP/2 with this nginx and trusts only its test key.
            driver
                .goto(format!("{}/.well-known/jwks.json", nginx.url))
                .await?;
            let protocol = browser
                .js(
                    "return performance.getEntriesByType('navigation')[0].nextHopProtocol",
                    vec![],
                )
                .await?;
            assert_eq!(protocol, "h2");
            Ok(())
        })
        .await;
    nginx.stop().await?;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_keeps_caching_limits_and_the_visitors_address() -> Result<()> {
    let config_dir = tempfile::tempdir()?;
    let (_collector, nginx) =
        behind_nginx(config_dir.path(), SHOP, "per_second = 1\nburst = 3").await?;
    let widget = Collector::widget_dir()?;
    let result = check_proxy(&nginx, &widget);
    if result.is_err() {
        eprintln!("nginx error log:\n{}", nginx.error_log());
    }
    nginx.stop().await?;
    result
}

fn check_proxy(nginx: &Nginx, widget: &Path) -> Result<()> {
    // The loader, from the widget built into the collector: precompressed, revalidated.
    let loader = nginx.curl("/kelisim.js", "127.0.0.1", &["-H", "Accept-Encoding: br"])?;
    ensure!(
        loader.status == 200,
        "GET /kelisim.js through nginx: {} {} (a collector built without the widget? \
         cargo xtask test builds it with KELISIM_EMBED_WIDGET)",
        loader.status,
        String::from_utf8_lossy(&loader.body)
    );
    assert_eq!(loader.http_version, "2");
    assert_eq!(loader.header("content-encoding"), Some("br"));
    assert_eq!(loader.header("cache-control"), Some("no-cache"));
    assert!(has_header_value(&loader, "vary", "Accept-Encoding"));
    assert_eq!(loader.body, std::fs::read(widget.join("kelisim.js.br"))?);
    assert!(loader.header("strict-transport-security").is_some());
    let etag = loader.header("etag").context("loader etag")?.to_owned();
    let again = nginx.curl(
        "/kelisim.js",
        "127.0.0.1",
        &[
            "-H",
            "Accept-Encoding: br",
            "-H",
            &format!("If-None-Match: {etag}"),
        ],
    )?;
    assert_eq!(again.status, 304, "revalidation through nginx");

    // A content-hashed file: cached for a year.
    let wasm = std::fs::read_dir(widget)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|n| n.ends_with(".wasm"))
        .context("a built wasm")?;
    let hashed = nginx.curl(&format!("/{wasm}"), "127.0.0.1", &[])?;
    assert_eq!(hashed.status, 200);
    assert_eq!(
        hashed.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(hashed.header("content-type"), Some("application/wasm"));
    assert_eq!(hashed.body, std::fs::read(widget.join(&wasm))?);
    // …but a name that does not exist is a problem, never cached for a year.
    let missing = nginx.curl("/kelisim.0000000000000000.js", "127.0.0.1", &[])?;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        !missing
            .header("cache-control")
            .is_some_and(|c| c.contains("immutable")),
        "{missing:?}"
    );

    // Metrics are not public.
    assert_eq!(nginx.curl("/metrics", "127.0.0.1", &[])?.status, 404);

    // Bodies: nginx refuses what no client of the collector sends; the collector refuses
    // anything over its own 16 KiB with its problem.
    let dir = tempfile::tempdir()?;
    for (size, status, from_collector) in [(100 * 1024, 413, false), (20 * 1024, 413, true)] {
        let body = dir.path().join(format!("{size}.json"));
        std::fs::write(&body, format!("{{\"pad\":\"{}\"}}", "x".repeat(size)))?;
        let answer = nginx.curl(
            "/v1/receipts",
            "127.0.0.1",
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-H",
                &format!("Origin: {SHOP}"),
                "--data-binary",
                &format!("@{}", body.display()),
            ],
        )?;
        assert_eq!(answer.status, status, "{size} bytes");
        let problem = answer.header("content-type") == Some("application/problem+json");
        assert_eq!(problem, from_collector, "{size} bytes: {answer:?}");
    }

    // The rate limit (burst 3, 1/s) counts each visitor as nginx saw them. Visitor 127.0.0.2
    // runs out, whatever X-Forwarded-For it sends; visitor 127.0.0.3 still gets in.
    let config = "/v1/sites/demo/config";
    let origin = format!("Origin: {SHOP}");
    let mut refused = 0;
    for i in 0..6 {
        let spoofed = format!("X-Forwarded-For: 198.51.100.{i}");
        let answer = nginx.curl(config, "127.0.0.2", &["-H", &origin, "-H", &spoofed])?;
        match answer.status {
            200 => {}
            429 => {
                ensure!(answer.header("retry-after").is_some(), "{answer:?}");
                refused += 1;
            }
            other => anyhow::bail!("unexpected {other} for request {i}: {answer:?}"),
        }
    }
    ensure!(
        refused >= 2,
        "a visitor sending its own X-Forwarded-For escaped the limit ({refused} of 6 refused)"
    );
    let other = nginx.curl(config, "127.0.0.3", &["-H", &origin])?;
    assert_eq!(
        other.status, 200,
        "another visitor shares no bucket with the first"
    );
    Ok(())
}

#[test]
fn the_caddy_site_config_is_valid_and_formatted() -> Result<()> {
    let caddy = env_path("KELISIM_TEST_CADDY", "/usr/bin/caddy");
    let file = root().join("deploy/Caddyfile");
    let out = Command::new(&caddy)
        .args(["validate", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .current_dir(std::env::temp_dir())
        .output()
        .with_context(|| {
            format!(
                "cannot run {} (cargo xtask test installs caddy)",
                caddy.display()
            )
        })?;
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &*String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "caddy refuses deploy/Caddyfile: {log}"
    );
    ensure!(
        !log.contains("\"level\":\"warn\""),
        "caddy warns about deploy/Caddyfile: {log}"
    );
    let formatted = Command::new(&caddy).arg("fmt").arg(&file).output()?;
    assert_eq!(
        String::from_utf8_lossy(&formatted.stdout),
        std::fs::read_to_string(&file)?,
        "deploy/Caddyfile is not as `caddy fmt` writes it"
    );
    Ok(())
}

fn has_header_value(answer: &Fetched, name: &str, value: &str) -> bool {
    answer
        .headers
        .iter()
        .any(|(n, v)| n == name && v.split(',').any(|part| part.trim() == value))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
