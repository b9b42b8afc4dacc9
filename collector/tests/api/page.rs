//! The visitor's receipt: the HTML page (language, escaping, strict CSP, signature status,
//! withdrawal notice), the signed JWS as a download, and the page's stylesheet.

use actix_web::test::{self, TestRequest};
use kelisim_collector::build_app;
use kelisim_collector::web::pages::receipt as receipt_page;

use crate::support::{Harness, fixture, post_receipt, post_withdraw, send};

const REF: &str = "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3";
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[actix_web::test]
async fn a_browser_gets_the_receipt_page_in_its_language() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let created = send(
        &app,
        post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
    )
    .await
    .json();

    let page = send(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/receipts/{REF}?lang=kk"))
            .insert_header(("accept", BROWSER_ACCEPT))
            .to_request(),
    )
    .await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        page.header("content-security-policy"),
        Some(receipt_page::CSP)
    );
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let html = page.text();
    assert!(html.contains("<html lang=\"kk\">"), "{html}");
    assert!(html.contains("Келісім туралы түбіртек"));
    // The label the visitor saw (in Russian: the receipt's notice language), the operator,
    // the policy version with its link, the time, and a valid signature.
    assert!(
        html.contains("<q lang=\"ru\">Я согласен(на) на обработку персональных данных</q>"),
        "{html}"
    );
    assert!(html.contains("ТОО «Алтын Жол Логистика» (БСН 180940012348)"));
    assert!(html.contains("http://127.0.0.1:8080/v1/sites/demo/policies/2026-03?lang=ru"));
    assert!(html.contains("receipt__sig--valid"));
    // The purpose by the name the config gives it in the page's language, not its id.
    assert!(html.contains("<li>Өтінішіңізге жауап беру: "), "{html}");
    assert!(!html.contains("<code>feedback</code>"));
    assert!(html.contains(&h.state.active_kid()));
    assert!(html.contains(&format!("<code id=\"receipt-ref\">{REF}</code>")));
    assert!(html.contains(&format!(
        "href=\"/v1/receipts/{}?format=jws\"",
        created["id"].as_str().expect("id")
    )));
    assert!(!html.contains("<script") && !html.contains("style="));
    assert!(
        !html.contains(crate::support::RAW_PHONE_DIGITS),
        "no raw phone on the page"
    );

    // Without ?lang, Accept-Language picks; ?format=html works without Accept.
    for (uri, accept_language, lang) in [
        (format!("/v1/receipts/{REF}"), "en-GB,en;q=0.9", "en"),
        (format!("/v1/receipts/{REF}?format=html"), "ru", "ru"),
    ] {
        let mut req = TestRequest::get()
            .uri(&uri)
            .insert_header(("accept-language", accept_language));
        if !uri.contains("format=") {
            req = req.insert_header(("accept", BROWSER_ACCEPT));
        }
        let page = send(&app, req.to_request()).await;
        assert_eq!(page.status, 200, "{uri}");
        assert!(
            page.text().contains(&format!("<html lang=\"{lang}\">")),
            "{uri}"
        );
    }

    // A script asking for anything still gets JSON.
    let json = send(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/receipts/{REF}"))
            .insert_header(("accept", "*/*"))
            .to_request(),
    )
    .await;
    assert_eq!(json.json(), created);
    let bad = send(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/receipts/{REF}?format=pdf"))
            .to_request(),
    )
    .await;
    bad.assert_problem(400, "invalid_request");
}

#[actix_web::test]
async fn the_page_says_when_a_consent_was_withdrawn_and_when_a_row_was_tampered() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    assert_eq!(
        send(
            &app,
            post_receipt(&fixture("receipt_request_form_given.json")).to_request()
        )
        .await
        .status,
        201
    );
    let withdrawal = send(
        &app,
        post_withdraw(
            REF,
            "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0",
            crate::support::FORM_SECRET,
        )
        .to_request(),
    )
    .await
    .json();
    let page = |uri: String| TestRequest::get().uri(&uri).to_request();
    let html = send(
        &app,
        page(format!("/v1/receipts/{REF}?format=html&lang=en")),
    )
    .await
    .text();
    assert!(html.contains("id=\"receipt-withdrawn\""), "{html}");
    assert!(html.contains(withdrawal["id"].as_str().expect("id")));
    let html = send(
        &app,
        page(format!(
            "/v1/receipts/{}?format=html&lang=ru",
            withdrawal["id"].as_str().expect("id")
        )),
    )
    .await
    .text();
    assert!(html.contains("Вы отозвали согласие"), "{html}");

    // Rewrite the stored receipt's payload: the page shows the signature as invalid.
    h.state.store.shutdown();
    let jws =
        crate::support::query_text(&h.data, "SELECT jws FROM receipts WHERE seq = 1").expect("jws");
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = String::from_utf8(b64.decode(&parts[1]).expect("b64")).expect("utf8");
    parts[1] = b64.encode(payload.replace("\"gpc\":false", "\"gpc\":true"));
    crate::support::tamper_sql(
        &h.data,
        &format!(
            "UPDATE receipts SET jws = '{}' WHERE seq = 1",
            parts.join(".")
        ),
    );
    let html = send(
        &app,
        page(format!("/v1/receipts/{REF}?format=html&lang=en")),
    )
    .await
    .text();
    assert!(html.contains("receipt__sig--invalid"), "{html}");
    assert!(html.contains("NOT VALID"));
}

#[actix_web::test]
async fn the_jws_downloads_as_a_file_and_the_css_is_served() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let created = send(
        &app,
        post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
    )
    .await
    .json();
    let download = send(
        &app,
        TestRequest::get()
            .uri(&format!(
                "/v1/receipts/{}?format=jws",
                created["id"].as_str().expect("id")
            ))
            .to_request(),
    )
    .await;
    assert_eq!(download.status, 200);
    assert_eq!(download.header("content-type"), Some("application/jose"));
    assert_eq!(
        download.header("content-disposition"),
        Some(format!("attachment; filename=\"kelisim-receipt-{REF}.jws\"").as_str())
    );
    assert_eq!(download.text(), created["jws"].as_str().expect("jws"));

    let css = send(
        &app,
        TestRequest::get().uri("/kelisim-receipt.css").to_request(),
    )
    .await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.text().contains(".receipt__facts"));
}
