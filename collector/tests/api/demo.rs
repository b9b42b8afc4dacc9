//! Demo mode: the static site with its CSP, the feedback thank-you page, and that nothing
//! the visitor typed is logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::test::{self, TestRequest};
use kelisim_collector::build_app;
use kelisim_collector::web::demo::CSP;

use crate::support::{Harness, RAW_PHONE_DIGITS, fixture, post_receipt, send};

fn demo_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("index.html", "<!doctype html><title>home</title>");
    write(
        "kk/contact.html",
        "<!doctype html><html lang=\"kk\"><title>kk</title>",
    );
    write("kk/index.html", "<!doctype html><title>kk home</title>");
    write("kelisim.toml", "secret = true");
    write("policies/consent.md", "source");
    dir
}

#[actix_web::test]
async fn demo_pages_are_served_with_csp_and_sources_are_not() {
    let site = demo_site();
    let h = Harness::with(None, Some(site.path()));
    let app = test::init_service(build_app(h.state.clone())).await;
    for (uri, body) in [
        ("/", "home"),
        ("/kk/contact.html", "<title>kk</title>"),
        ("/kk/", "kk home"),
    ] {
        let reply = send(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(reply.status, 200, "{uri}");
        assert!(reply.text().contains(body), "{uri}");
        assert_eq!(reply.header("content-security-policy"), Some(CSP), "{uri}");
        assert!(
            reply
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{uri}"
        );
    }
    for uri in ["/kelisim.toml", "/policies/consent.md", "/missing.html"] {
        let reply = send(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(reply.status, 404, "{uri}");
        assert!(!reply.text().contains("secret"), "{uri}");
    }
    // The API keeps working next to the static site.
    let config = send(
        &app,
        TestRequest::get().uri("/v1/sites/demo/config").to_request(),
    )
    .await;
    assert_eq!(config.status, 200);
}

/// Collects everything logged while the test runs on this thread.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn feedback_shows_the_reference_and_nothing_typed_is_logged() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // tracing-core asks only the registering thread's subscriber about a new callsite while
    // a single dispatcher exists: another test thread hitting the access log first would
    // cache "never" for it. A second live dispatcher makes it ask every dispatcher.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    tracing::callsite::rebuild_interest_cache();

    let site = demo_site();
    let h = Harness::with(None, Some(site.path()));
    let app = test::init_service(build_app(h.state.clone())).await;
    let receipt = send(
        &app,
        post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
    )
    .await;
    assert_eq!(receipt.status, 201);

    let reference = "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3";
    let form = format!(
        "name=%D0%90%D0%B9%D0%B3%D0%B5%D1%80%D0%B8%D0%BC+Secretname&phone=8+%28701%29+123-45-67\
         &message=Privatemessage&lang=en&kelisim_receipt={reference}"
    );
    let reply = send(
        &app,
        TestRequest::post()
            .uri("/feedback")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form)
            .to_request(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let html = reply.text();
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(
        html.contains(&format!("<code id=\"receipt-ref\">{reference}</code>")),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"/v1/receipts/{reference}\"")),
        "{html}"
    );
    assert!(!html.contains("Secretname") && !html.contains("Privatemessage"));
    assert_eq!(reply.header("content-security-policy"), Some(CSP));

    let missing = send(
        &app,
        TestRequest::post()
            .uri("/feedback")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload("name=x&lang=kk")
            .to_request(),
    )
    .await;
    assert_eq!(missing.status, 422);
    assert!(missing.text().contains("<html lang=\"kk\">"));

    // The widget could not load: the loader's plain checkbox was ticked, no receipt exists.
    let fallback = send(
        &app,
        TestRequest::post()
            .uri("/feedback")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload("name=Secretname&message=Privatemessage&lang=ru&kelisim_consent=yes&kelisim_receipt=")
            .to_request(),
    )
    .await;
    assert_eq!(fallback.status, 200);
    let html = fallback.text();
    assert!(html.contains("id=\"consent-fallback\""), "{html}");
    assert!(!html.contains("receipt-ref") && !html.contains("Secretname"));
    let unticked = send(
        &app,
        TestRequest::post()
            .uri("/feedback")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload("name=Secretname&lang=en&kelisim_receipt=")
            .to_request(),
    )
    .await;
    assert_eq!(unticked.status, 422);
    assert_eq!(h.count(), 1, "the demo form stores nothing itself");

    let logged = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf8 logs");
    assert!(
        logged.contains("/feedback"),
        "the request itself is logged: {logged}"
    );
    for secret in [
        "Secretname",
        "Privatemessage",
        RAW_PHONE_DIGITS,
        "701) 123",
        "Айгерим",
    ] {
        assert!(
            !logged.contains(secret),
            "`{secret}` reached the log:\n{logged}"
        );
    }
    crate::support::assert_not_in_files(h.data.root(), "Secretname");
}
