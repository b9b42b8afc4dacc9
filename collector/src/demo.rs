//! Demo mode only: the static demo site at `/` and its `POST /feedback` thank-you page.
//!
//! The demo directory is served with a strict Content-Security-Policy (the widget must work
//! under it) and only web files are exposed — never `kelisim.toml` or the policy sources.
//! `/feedback` stands in for a site's own form handler: it shows the consent receipt's
//! reference from the hidden `kelisim_receipt` field — or, when the widget could not load and
//! the loader's plain checkbox was ticked instead (`kelisim_consent=yes`, no receipt), says
//! so — and deliberately reads nothing else of what was typed, so nothing of it can be
//! stored or logged.

use std::path::{Path, PathBuf};

use actix_files::Files;
use actix_web::dev::{RequestHead, fn_service};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::app::{Register, RouteSink};
use crate::error::ApiError;
use crate::hash::is_lower_hex;
use crate::html::escape;

/// Sent on every demo page.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'self'; \
                       frame-ancestors 'none'";

/// Extensions of files the demo site may serve.
const SERVED_EXTENSIONS: &[&str] = &[
    "html", "css", "js", "mjs", "wasm", "svg", "png", "jpg", "jpeg", "webp", "ico", "txt", "woff2",
];

/// The demo's API routes (the static site aside).
pub fn routes(r: &mut impl RouteSink) {
    r.add(actix_web::http::Method::POST, "/feedback", feedback);
}

/// Adds the demo routes; call last, since the static site is mounted at `/`.
pub fn configure(cfg: &mut web::ServiceConfig, dir: &Path) {
    let root = dir.to_owned();
    cfg.service(
        web::scope("")
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add((header::CACHE_CONTROL, "no-cache")),
            )
            .configure(|cfg| routes(&mut Register(cfg)))
            .service(
                Files::new("/", dir)
                    .index_file("index.html")
                    .prefer_utf8(true)
                    .path_filter(move |path, _: &RequestHead| is_servable(&root, path))
                    .default_handler(fn_service(
                        |req: actix_web::dev::ServiceRequest| async move {
                            let (req, _) = req.into_parts();
                            let err = ApiError::NotFound(format!("no such page: {}", req.path()));
                            Ok(actix_web::dev::ServiceResponse::new(
                                req,
                                actix_web::ResponseError::error_response(&err),
                            ))
                        },
                    )),
            ),
    );
}

/// Web files and directories (for their index.html); no hidden files, no config or sources.
fn is_servable(root: &Path, path: &Path) -> bool {
    let hidden = path
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
    if hidden {
        return false;
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => SERVED_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()),
        None => path.as_os_str().is_empty() || root.join(path).is_dir(),
    }
}

/// The fields the thank-you page needs; serde skips every other field of the form (name,
/// phone, message) without keeping it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FeedbackForm {
    lang: Option<String>,
    kelisim_receipt: Option<String>,
    /// The consent checkbox: the widget's, or the loader's plain fallback box.
    kelisim_consent: Option<String>,
}

/// How a submission shows the visitor's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent<'a> {
    /// The widget recorded a signed receipt with this reference.
    Receipt(&'a str),
    /// The widget could not load; the loader's plain checkbox was ticked.
    PlainCheckbox,
    /// Neither: the form arrived without consent.
    Missing,
}

impl<'a> Consent<'a> {
    fn of(form: &'a FeedbackForm) -> Consent<'a> {
        match form
            .kelisim_receipt
            .as_deref()
            .filter(|r| is_lower_hex(r, 32))
        {
            Some(reference) => Consent::Receipt(reference),
            None if form.kelisim_consent.as_deref() == Some("yes") => Consent::PlainCheckbox,
            None => Consent::Missing,
        }
    }
}

/// `POST /feedback` (urlencoded): the thank-you page in the form's language.
#[utoipa::path(
    post,
    path = "/feedback",
    tag = "demo",
    summary = "The demo contact form's thank-you page",
    description = "Demo only. Reads `lang`, `kelisim_receipt` and `kelisim_consent` and nothing else of the form. \
                   200 with the receipt reference, or — when the widget could not load and the plain checkbox \
                   was ticked — a note that consent was given without a signed receipt; 422 without consent.",
    request_body(content = FeedbackForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Thank-you page", body = String, content_type = "text/html; charset=utf-8"),
        (status = 400, description = "`invalid_body`: the form body does not parse",
         body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body_too_large`", body = crate::error::Problem,
         content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not a URL-encoded form",
         body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The form arrived without consent", body = String,
         content_type = "text/html; charset=utf-8"),
    )
)]
pub async fn feedback(form: web::Form<FeedbackForm>) -> HttpResponse {
    let form = form.into_inner();
    let consent = Consent::of(&form);
    let (status, html) = thank_you_page(form.lang.as_deref().unwrap_or("ru"), consent);
    let (receipt, plain_checkbox) = match consent {
        Consent::Receipt(r) => (r, false),
        Consent::PlainCheckbox => ("-", true),
        Consent::Missing => ("-", false),
    };
    tracing::info!(receipt, plain_checkbox, "demo feedback received");
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

struct PageTexts {
    lang: &'static str,
    title: &'static str,
    thanks: &'static str,
    reference: &'static str,
    receipt_link: &'static str,
    fallback: &'static str,
    missing: &'static str,
    back: &'static str,
    back_href: &'static str,
}

fn page_texts(lang: &str) -> PageTexts {
    match lang {
        "kk" => PageTexts {
            lang: "kk",
            title: "Рақмет!",
            thanks: "Хабарламаңызды алдық, жақын арада жауап береміз.",
            reference: "Келісім түбіртегінің нөмірі:",
            receipt_link: "Келісім туралы түбіртекті ашу",
            fallback: "Келісіміңізді нысанның қарапайым белгісімен бердіңіз: келісім виджеті жүктелмеді, сондықтан қол қойылған түбіртек берілмеді.",
            missing: "Нысан келісім түбіртегінсіз жіберілді: бұл бетте Kelisim виджеті іске қосылмады.",
            back: "Нысанға оралу",
            back_href: "/kk/contact.html",
        },
        "en" => PageTexts {
            lang: "en",
            title: "Thank you!",
            thanks: "We have received your message and will reply soon.",
            reference: "Consent receipt number:",
            receipt_link: "Open the consent receipt",
            fallback: "You gave your consent with the form's plain checkbox: the consent widget could not load, so no signed receipt was issued for it.",
            missing: "The form arrived without a consent receipt: the Kelisim widget did not run on the page.",
            back: "Back to the form",
            back_href: "/en/contact.html",
        },
        _ => PageTexts {
            lang: "ru",
            title: "Спасибо!",
            thanks: "Мы получили ваше сообщение и скоро ответим.",
            reference: "Номер квитанции о согласии:",
            receipt_link: "Открыть квитанцию о согласии",
            fallback: "Вы дали согласие простым флажком формы: виджет согласия не загрузился, поэтому подписанная квитанция не выдана.",
            missing: "Форма пришла без квитанции о согласии: виджет Kelisim не сработал на странице.",
            back: "Вернуться к форме",
            back_href: "/contact.html",
        },
    }
}

/// Renders the page; without consent it explains that consent is missing (422).
pub fn thank_you_page(lang: &str, consent: Consent<'_>) -> (StatusCode, String) {
    let t = page_texts(lang);
    let (status, body) = match consent {
        Consent::Receipt(r) => {
            let r = escape(r);
            (
                StatusCode::OK,
                format!(
                    "<p>{}</p>\n<p>{} <code id=\"receipt-ref\">{r}</code></p>\n<p><a id=\"receipt-link\" href=\"/v1/receipts/{r}\">{}</a></p>",
                    t.thanks, t.reference, t.receipt_link
                ),
            )
        }
        Consent::PlainCheckbox => (
            StatusCode::OK,
            format!(
                "<p>{}</p>\n<p id=\"consent-fallback\">{}</p>",
                t.thanks, t.fallback
            ),
        ),
        Consent::Missing => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("<p id=\"receipt-missing\">{}</p>", t.missing),
        ),
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n{body}\n\
         <p><a href=\"{back_href}\">{back}</a></p>\n</main>\n</body>\n</html>\n",
        lang = t.lang,
        title = t.title,
        back_href = t.back_href,
        back = t.back,
    );
    (status, html)
}

/// The demo directory's config file.
pub fn config_path(demo_dir: &Path) -> PathBuf {
    demo_dir.join("kelisim.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thank_you_page_shows_the_reference_in_the_forms_language() {
        let reference = "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3";
        let (status, html) = thank_you_page("kk", Consent::Receipt(reference));
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("<html lang=\"kk\">"));
        assert!(html.contains(&format!("<code id=\"receipt-ref\">{reference}</code>")));
        assert!(html.contains(&format!("href=\"/v1/receipts/{reference}\"")));
        let (status, html) = thank_you_page("en", Consent::PlainCheckbox);
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("id=\"consent-fallback\"") && html.contains("plain checkbox"));
        assert!(!html.contains("receipt-ref"));
        let (status, html) = thank_you_page("xx", Consent::Missing);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("<html lang=\"ru\">") && html.contains("receipt-missing"));
    }

    #[test]
    fn consent_is_read_from_the_receipt_or_the_plain_checkbox() {
        let form = |receipt: Option<&str>, consent: Option<&str>| FeedbackForm {
            lang: None,
            kelisim_receipt: receipt.map(str::to_owned),
            kelisim_consent: consent.map(str::to_owned),
        };
        let r = "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3";
        assert_eq!(
            Consent::of(&form(Some(r), Some("yes"))),
            Consent::Receipt(r)
        );
        assert_eq!(
            Consent::of(&form(None, Some("yes"))),
            Consent::PlainCheckbox
        );
        assert_eq!(
            Consent::of(&form(Some(""), Some("yes"))),
            Consent::PlainCheckbox
        );
        assert_eq!(Consent::of(&form(Some("<x>"), None)), Consent::Missing);
        assert_eq!(Consent::of(&form(None, Some("no"))), Consent::Missing);
        assert_eq!(Consent::of(&form(None, None)), Consent::Missing);
    }

    #[test]
    fn only_web_files_are_servable() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("kk")).expect("mkdir");
        let ok = [
            "index.html",
            "kk/contact.html",
            "style.css",
            "kelisim/kelisim.0123456789abcdef.wasm",
            "kk",
            "",
        ];
        let refused = [
            "kelisim.toml",
            "policies/consent-2026-03.ru.md",
            ".git/config",
            "kk/.env",
            "LICENSE",
        ];
        for path in ok {
            assert!(is_servable(dir.path(), Path::new(path)), "{path}");
        }
        for path in refused {
            assert!(!is_servable(dir.path(), Path::new(path)), "{path}");
        }
    }
}
