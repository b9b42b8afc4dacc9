//! Widget files: content types, caching, ETag revalidation, precompressed variants.

use actix_web::test::{self, TestRequest};
use kelisim_collector::build_app;

use crate::support::{Harness, send};

const HASHED: &str = "kelisim.0123456789abcdef";

type Case = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static [u8],
);

fn widget_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let write =
        |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).expect("write");
    write("kelisim.js", b"/* loader */");
    write("kelisim.js.br", b"BR-loader");
    write("kelisim.js.gz", b"GZ-loader");
    write(
        &format!("{HASHED}.js"),
        b"export default function init() {}",
    );
    write(&format!("{HASHED}.wasm"), b"\0asm\x01\0\0\0");
    write(&format!("{HASHED}.wasm.br"), b"BR-wasm");
    write(&format!("{HASHED}.css"), b".kelisim-consent{}");
    write("notes.txt", b"not a widget file");
    dir
}

#[actix_web::test]
async fn loader_revalidates_and_hashed_files_are_immutable() {
    let dir = widget_dir();
    let h = Harness::with(Some(dir.path()), None);
    let app = test::init_service(build_app(h.state.clone())).await;

    let loader = send(&app, TestRequest::get().uri("/kelisim.js").to_request()).await;
    assert_eq!(loader.status, 200);
    assert_eq!(
        loader.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(loader.header("cache-control"), Some("no-cache"));
    assert_eq!(loader.header("content-encoding"), None);
    assert_eq!(loader.body.as_ref(), b"/* loader */");
    let etag = loader.header("etag").expect("etag").to_owned();
    let revalidated = send(
        &app,
        TestRequest::get()
            .uri("/kelisim.js")
            .insert_header(("if-none-match", etag))
            .to_request(),
    )
    .await;
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.body.is_empty());

    let cases = [
        (format!("/{HASHED}.js"), "text/javascript; charset=utf-8"),
        (format!("/{HASHED}.wasm"), "application/wasm"),
        (format!("/{HASHED}.css"), "text/css; charset=utf-8"),
    ];
    for (uri, content_type) in cases {
        let reply = send(&app, TestRequest::get().uri(&uri).to_request()).await;
        assert_eq!(reply.status, 200, "{uri}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{uri}");
        assert_eq!(
            reply.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{uri}"
        );
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("*"),
            "{uri}: loadable cross-origin"
        );
    }
    let missing = send(
        &app,
        TestRequest::get()
            .uri("/kelisim.fedcba9876543210.js")
            .to_request(),
    )
    .await;
    missing.assert_problem(404, "not_found");
    let other = send(&app, TestRequest::get().uri("/notes.txt").to_request()).await;
    other.assert_problem(404, "not_found");
}

#[actix_web::test]
async fn precompressed_variants_follow_accept_encoding() {
    let dir = widget_dir();
    let h = Harness::with(Some(dir.path()), None);
    let app = test::init_service(build_app(h.state.clone())).await;
    let get = |uri: &str, accept: Option<&str>| {
        let mut req = TestRequest::get().uri(uri);
        if let Some(accept) = accept {
            req = req.insert_header(("accept-encoding", accept.to_owned()));
        }
        req.to_request()
    };
    // (uri, Accept-Encoding, expected Content-Encoding, expected body)
    let cases: [Case; 6] = [
        (
            "/kelisim.js",
            Some("gzip, deflate, br"),
            Some("br"),
            b"BR-loader",
        ),
        ("/kelisim.js", Some("gzip"), Some("gzip"), b"GZ-loader"),
        (
            "/kelisim.js",
            Some("br;q=0, gzip"),
            Some("gzip"),
            b"GZ-loader",
        ),
        ("/kelisim.js", None, None, b"/* loader */"),
        (
            "/kelisim.0123456789abcdef.wasm",
            Some("gzip, br"),
            Some("br"),
            b"BR-wasm",
        ),
        (
            "/kelisim.0123456789abcdef.wasm",
            Some("gzip"),
            None,
            b"\0asm\x01\0\0\0",
        ),
    ];
    for (uri, accept, encoding, body) in cases {
        let reply = send(&app, get(uri, accept)).await;
        assert_eq!(reply.status, 200, "{uri} {accept:?}");
        assert_eq!(
            reply.header("content-encoding"),
            encoding,
            "{uri} {accept:?}"
        );
        assert_eq!(
            reply.header("vary"),
            Some("Accept-Encoding"),
            "{uri} {accept:?}"
        );
        assert_eq!(reply.body.as_ref(), body, "{uri} {accept:?}");
    }
    let css = send(&app, get("/kelisim.0123456789abcdef.css", Some("br"))).await;
    assert_eq!(
        (css.header("content-encoding"), css.header("vary")),
        (None, None),
        "no variants, no Vary"
    );
}
