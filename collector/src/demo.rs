//! Demo mode only: the static demo site at `/` and its `POST /feedback` thank-you page.
//!
//! The demo directory is served with a strict Content-Security-Policy (the widget must work
//! under it) and only web files are exposed — never `kelisim.toml` or the policy sources.
//! `/feedback` stands in for a site's own form handler: it shows the consent receipt's
//! reference from the hidden `kelisim_receipt` field and deliberately reads nothing else of
//! what was typed, so nothing of it can be stored or logged.

use std::path::{Path, PathBuf};

use actix_files::Files;
use actix_web::dev::{RequestHead, fn_service};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::app::resource;
use crate::error::ApiError;
use crate::hash::is_lower_hex;

/// Sent on every demo page.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'self'; \
                       frame-ancestors 'none'";

/// Extensions of files the demo site may serve.
const SERVED_EXTENSIONS: &[&str] = &[
    "html", "css", "js", "mjs", "wasm", "svg", "png", "jpg", "jpeg", "webp", "ico", "txt", "woff2",
];

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
            .service(resource("/feedback").route(web::post().to(feedback)))
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

/// The two fields the thank-you page needs; serde skips every other field of the form
/// (name, phone, message) without keeping it.
#[derive(Debug, Deserialize)]
pub struct FeedbackForm {
    lang: Option<String>,
    kelisim_receipt: Option<String>,
}

/// `POST /feedback` (urlencoded): the thank-you page in the form's language.
async fn feedback(form: web::Form<FeedbackForm>) -> HttpResponse {
    let form = form.into_inner();
    let reference = form
        .kelisim_receipt
        .as_deref()
        .filter(|r| is_lower_hex(r, 32));
    let (status, html) = thank_you_page(form.lang.as_deref().unwrap_or("ru"), reference);
    tracing::info!(receipt = reference.unwrap_or("-"), "demo feedback received");
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
            missing: "Форма пришла без квитанции о согласии: виджет Kelisim не сработал на странице.",
            back: "Вернуться к форме",
            back_href: "/contact.html",
        },
    }
}

/// Renders the page; without a valid reference it explains that consent is missing (422).
pub fn thank_you_page(lang: &str, reference: Option<&str>) -> (StatusCode, String) {
    let t = page_texts(lang);
    let (status, body) = match reference {
        Some(r) => {
            let r = escape(r);
            (
                StatusCode::OK,
                format!(
                    "<p>{}</p>\n<p>{} <code id=\"receipt-ref\">{r}</code></p>\n<p><a id=\"receipt-link\" href=\"/v1/receipts/{r}\">{}</a></p>",
                    t.thanks, t.reference, t.receipt_link
                ),
            )
        }
        None => (
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

/// Minimal HTML escaping for text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
        let (status, html) = thank_you_page("kk", Some(reference));
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("<html lang=\"kk\">"));
        assert!(html.contains(&format!("<code id=\"receipt-ref\">{reference}</code>")));
        assert!(html.contains(&format!("href=\"/v1/receipts/{reference}\"")));
        let (status, html) = thank_you_page("xx", None);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("<html lang=\"ru\">") && html.contains("receipt-missing"));
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

    #[test]
    fn escape_covers_html_specials() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
