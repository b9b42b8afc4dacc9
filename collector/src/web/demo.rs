//! Demo mode only: the static demo site at `/`, its `POST /feedback` thank-you page and the
//! `GET /track` shipment-tracking answer.
//!
//! The demo directory is served with a strict Content-Security-Policy (the widget must work
//! under it) and only web files are exposed — never `kelisim.toml` or the policy sources.
//! `/feedback` stands in for a site's own form handler: it shows the consent receipt's
//! reference from the hidden `kelisim_receipt` field — or, when the widget could not load and
//! the loader's plain checkbox was ticked instead (`kelisim_consent=yes`, no receipt), says
//! so — and deliberately reads nothing else of what was typed, so nothing of it can be
//! stored or logged. `/track` answers the demo's GET form (`track.html`): like a real
//! tracker it reads the waybill number and the phone from the query and renders a page of its
//! own, which carries the widget (it cleans that URL of what was typed, issue 6), the gated
//! analytics and the panel showing what they received; it logs neither.

use std::path::{Path, PathBuf};

use actix_files::Files;
use actix_web::dev::{RequestHead, fn_service};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::hash::is_lower_hex;
use crate::web::error::ApiError;
use crate::web::html::escape;
use crate::web::routing::{Register, RouteSink};

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
    r.add(actix_web::http::Method::GET, "/track", track);
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
         body = crate::web::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body_too_large`", body = crate::web::error::Problem,
         content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not a URL-encoded form",
         body = crate::web::error::Problem, content_type = "application/problem+json"),
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

/// The tracking form's query: what `/track` reads, nothing else.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrackQuery {
    /// The page's language (`kk`, `ru`, `en`; default `ru`).
    lang: Option<String>,
    /// The waybill number the visitor typed.
    number: Option<String>,
    /// The phone given on the waybill; only its last two digits are shown back.
    phone: Option<String>,
}

/// `GET /track`: where a shipment is, in the form's language.
#[utoipa::path(
    get,
    path = "/track",
    tag = "demo",
    summary = "The demo's shipment tracking answer (a GET form)",
    description = "Demo only. Reads `lang`, `number` and `phone` from the query (any other parameter, such as \
                   the consent fields the widget adds, is ignored) and renders the result page, which carries \
                   the widget and the gated analytics. The status is made up from the number; the phone is shown \
                   back as its last two digits only. Nothing is stored or logged.",
    params(TrackQuery),
    responses(
        (status = 200, description = "Result page", body = String, content_type = "text/html; charset=utf-8"),
        (status = 400, description = "`invalid_request`: the query string does not parse",
         body = crate::web::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn track(query: web::Query<TrackQuery>) -> HttpResponse {
    let query = query.into_inner();
    tracing::info!("demo tracking request");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(track_page(&query))
}

struct TrackTexts {
    lang: &'static str,
    title: &'static str,
    waybill: &'static str,
    status: &'static str,
    statuses: [&'static str; 3],
    /// The text before and after the phone's last two digits.
    sms: (&'static str, &'static str),
    no_phone: &'static str,
    no_number: &'static str,
    another: &'static str,
    another_href: &'static str,
}

fn track_texts(lang: &str) -> TrackTexts {
    match lang {
        "kk" => TrackTexts {
            lang: "kk",
            title: "Жүкті бақылау",
            waybill: "Жүкқұжат",
            status: "Мәртебесі",
            statuses: [
                "Алматыдағы қоймаға қабылданды",
                "Жолда: Алматы → Астана",
                "Алушыға жеткізілді",
            ],
            sms: (
                "Мәртебе өзгергені туралы SMS соңы ",
                " болатын нөмірге келеді.",
            ),
            no_phone: "Телефон танылмады: SMS жіберілмейді.",
            no_number: "Жүкқұжат нөмірін көрсетіңіз.",
            another: "Басқа жүкті бақылау",
            another_href: "/kk/track.html",
        },
        "en" => TrackTexts {
            lang: "en",
            title: "Shipment tracking",
            waybill: "Waybill",
            status: "Status",
            statuses: [
                "Received at the Almaty warehouse",
                "In transit: Almaty → Astana",
                "Delivered to the recipient",
            ],
            sms: (
                "Status updates will be texted to the number ending in ",
                ".",
            ),
            no_phone: "The phone was not recognised: no texts will be sent.",
            no_number: "Enter a waybill number.",
            another: "Track another shipment",
            another_href: "/en/track.html",
        },
        _ => TrackTexts {
            lang: "ru",
            title: "Отслеживание груза",
            waybill: "Накладная",
            status: "Статус",
            statuses: [
                "Принят на складе в Алматы",
                "В пути: Алматы → Астана",
                "Доставлен получателю",
            ],
            sms: (
                "SMS о смене статуса придут на номер, оканчивающийся на ",
                ".",
            ),
            no_phone: "Телефон не распознан: SMS отправляться не будут.",
            no_number: "Укажите номер накладной.",
            another: "Отследить другой груз",
            another_href: "/track.html",
        },
    }
}

/// Longest waybill number shown back (characters).
const MAX_NUMBER_CHARS: usize = 32;

/// The result page: a made-up status for the number, the phone's last two digits, the shield
/// panel, and the same widget and gated analytics as the static pages.
pub fn track_page(query: &TrackQuery) -> String {
    let t = track_texts(query.lang.as_deref().unwrap_or("ru"));
    let number: String = query
        .number
        .as_deref()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_NUMBER_CHARS)
        .collect();
    let result = if number.is_empty() {
        format!("<p id=\"track-missing\">{}</p>", t.no_number)
    } else {
        // The same number always gets the same status.
        let pick = number.bytes().map(usize::from).sum::<usize>() % t.statuses.len();
        let digits: Vec<char> = query
            .phone
            .as_deref()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let sms = match digits.len() {
            // A phone number has at least six digits; show back only the last two.
            6.. => {
                let last: String = digits[digits.len() - 2..].iter().collect();
                format!("{}{last}{}", t.sms.0, t.sms.1)
            }
            _ => t.no_phone.to_owned(),
        };
        format!(
            "<dl>\n<div><dt>{}</dt><dd id=\"track-number\">{}</dd></div>\n\
             <div><dt>{}</dt><dd id=\"track-status\">{}</dd></div>\n</dl>\n\
             <p id=\"track-sms\">{sms}</p>",
            t.waybill,
            escape(&number),
            t.status,
            t.statuses[pick],
        )
    };
    format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         <link rel=\"icon\" href=\"/assets/logo.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/assets/site.css\">\n\
         <script src=\"/kelisim.js\" data-site=\"demo\" defer></script>\n</head>\n<body>\n\
         <main id=\"main\" class=\"wrap\">\n<h1>{title}</h1>\n<div class=\"contact-grid\">\n\
         <div class=\"track-result\">\n{result}\n<p><a href=\"{another_href}\">{another}</a></p>\n</div>\n\
         <aside id=\"shield-panel\" class=\"shield-panel\"></aside>\n</div>\n</main>\n\
         <script type=\"text/plain\" data-kelisim-category=\"analytics\" src=\"/assets/analytics/gtag.js\"></script>\n\
         <script type=\"text/plain\" data-kelisim-category=\"analytics\" src=\"/assets/analytics/ga4.js\"></script>\n\
         <script type=\"text/plain\" data-kelisim-category=\"analytics\" src=\"/assets/analytics/metrika.js\"></script>\n\
         <script src=\"/assets/shield-panel.js\" defer></script>\n</body>\n</html>\n",
        lang = t.lang,
        title = t.title,
        another_href = t.another_href,
        another = t.another,
    )
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
    fn the_tracking_answer_shows_the_number_and_only_the_phones_last_digits() {
        let query = |lang: &str, number: &str, phone: &str| TrackQuery {
            lang: Some(lang.to_owned()),
            number: Some(number.to_owned()),
            phone: Some(phone.to_owned()),
        };
        let html = track_page(&query("kk", "AZ-240517", "8 (701) 734-29-51"));
        assert!(html.contains("<html lang=\"kk\">"));
        assert!(html.contains("<dd id=\"track-number\">AZ-240517</dd>"));
        assert!(html.contains("соңы 51 болатын"), "{html}");
        assert!(!html.contains("734") && !html.contains("8 (701)"));
        assert!(html.contains("<script src=\"/kelisim.js\" data-site=\"demo\" defer>"));
        assert!(html.contains("id=\"shield-panel\""));
        let html = track_page(&query("en", "<b>AZ</b>", "12"));
        assert!(html.contains("&lt;b&gt;AZ&lt;/b&gt;") && !html.contains("<b>"));
        assert!(html.contains("not recognised"));
        let html = track_page(&TrackQuery::default());
        assert!(html.contains("<html lang=\"ru\">") && html.contains("track-missing"));
        let long = "X".repeat(100);
        let html = track_page(&query("ru", &long, "+7 701 1234567"));
        assert!(html.contains(&"X".repeat(MAX_NUMBER_CHARS)));
        assert!(!html.contains(&"X".repeat(MAX_NUMBER_CHARS + 1)));
        assert!(html.contains("оканчивающийся на 67."));
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
