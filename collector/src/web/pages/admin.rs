//! The admin page (`GET /admin`): static HTML, script and style compiled into the binary
//! (no CDN; works offline), served with a strict CSP. It signs in with a bearer token kept
//! in `sessionStorage` and talks only to the admin API on the same origin. Texts are in
//! Kazakh, Russian and English; the server picks `<html lang>` from `?lang=` or
//! `Accept-Language`, and the script fills every `data-i18n` element from its dictionary.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::web::error::ApiError;
use crate::web::negotiate;
use crate::web::routing::RouteSink;

const HTML: &str = include_str!("../../../assets/admin/index.html");
const JS: &str = include_str!("../../../assets/admin/admin.js");
const CHARTS: &str = include_str!("../../../assets/admin/charts.js");
const CSS: &str = include_str!("../../../assets/admin/admin.css");

/// No inline script or style, nothing from elsewhere, never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes(r: &mut impl RouteSink) {
    r.add(Method::GET, "/admin", page);
    r.add(Method::GET, "/admin/{file}", asset);
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// `kk`, `ru` or `en` (default from Accept-Language).
    lang: Option<String>,
}

/// `GET /admin`
#[utoipa::path(
    get,
    path = "/admin",
    tag = "admin",
    summary = "The admin page",
    params(LangQuery),
    responses((status = 200, description = "HTML", content_type = "text/html; charset=utf-8", body = String))
)]
pub async fn page(req: HttpRequest, query: web::Query<LangQuery>) -> HttpResponse {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = pick_lang(query.lang.as_deref(), accept);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(HTML.replacen("lang=\"en\"", &format!("lang=\"{lang}\""), 1))
}

/// `kk`, `ru` or `en`: the query wins, then the first supported Accept-Language entry.
fn pick_lang(query: Option<&str>, accept: Option<&str>) -> &'static str {
    const LANGS: [&str; 3] = ["kk", "ru", "en"];
    if let Some(l) = query.and_then(|q| LANGS.iter().find(|l| **l == q)) {
        return l;
    }
    let available = LANGS.map(str::to_owned);
    match negotiate::pick_language(accept, &available) {
        Some("kk") => "kk",
        Some("en") => "en",
        _ => "ru",
    }
}

/// `GET /admin/{file}`: `admin.js`, `charts.js` or `admin.css`.
#[utoipa::path(
    get,
    path = "/admin/{file}",
    tag = "admin",
    summary = "The admin page's script and style",
    params(("file" = String, Path, description = "`admin.js`, `charts.js` or `admin.css`")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/javascript; charset=utf-8"),
            (String = "text/css; charset=utf-8"),
        )),
        (status = 404, description = "`not_found`", body = crate::web::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (body, content_type) = match file.as_str() {
        "admin.js" => (JS, "text/javascript; charset=utf-8"),
        "charts.js" => (CHARTS, "text/javascript; charset=utf-8"),
        "admin.css" => (CSS, "text/css; charset=utf-8"),
        other => return Err(ApiError::NotFound(format!("no admin file `{other}`"))),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_comes_from_the_query_then_the_browser() {
        assert_eq!(pick_lang(Some("kk"), Some("en")), "kk");
        assert_eq!(pick_lang(Some("de"), Some("en-GB,en;q=0.9")), "en");
        assert_eq!(pick_lang(None, Some("kk-KZ, ru;q=0.8")), "kk");
        assert_eq!(pick_lang(None, None), "ru");
    }

    #[test]
    fn every_i18n_key_of_the_page_has_three_translations() {
        let keys: Vec<&str> = HTML
            .split("data-i18n=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        assert!(keys.len() > 10, "{keys:?}");
        for key in keys {
            let entry = format!("\n  {key}: [");
            assert!(JS.contains(&entry), "admin.js has no texts for `{key}`");
        }
        assert!(
            !HTML.contains("<script>") && !HTML.contains("style="),
            "CSP forbids inline code"
        );
    }
}
