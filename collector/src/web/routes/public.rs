//! Public HTTP handlers: site config, policy texts, the JWKS, widget files, the receipt
//! page's stylesheet, and the problem+json answers for unknown paths and methods.
//!
//! Handlers stay thin: extract, look up, shape the response. Each carries its OpenAPI
//! description (`#[utoipa::path]`), collected in `openapi`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;

use crate::web::error::{ApiError, Problem};
use crate::web::negotiate::{etag_matches, pick_language, prefers_html_over};
use crate::web::pages::{policy as policy_page, receipt as receipt_page};
use crate::web::state::AppState;

pub(crate) fn if_none_match(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigQuery {
    /// The `revision` of the config the widget keeps: answered `304` without a body while it
    /// is current. A query, not `If-None-Match`: a page's request with that header needs a
    /// CORS preflight, one more round trip at every page view.
    revision: Option<String>,
}

/// `GET /v1/sites/{site}/config[?revision=R]`: the widget's texts and settings.
#[utoipa::path(
    get,
    path = "/v1/sites/{site}/config",
    tag = "widget",
    summary = "The site's widget configuration",
    description = "Texts per language, operator, current policy version and URL, purposes and cookie categories, \
                   brotli or gzip compressed when Accept-Encoding allows. Cached for 5 minutes; revalidate with \
                   the ETag (the `revision`), or, from a page (no preflight), with `?revision=`: `304` while that \
                   revision is current, the whole configuration (not cached) when it is not.",
    params(
        ("site" = String, Path, description = "Site id, as in the script tag's data-site"),
        ConfigQuery,
    ),
    responses(
        (status = 200, description = "The configuration", body = crate::config::ViewDoc,
         headers(("ETag" = String, description = "The quoted revision"))),
        (status = 304, description = "Unchanged: the ETag in If-None-Match, or `revision`, is current"),
        (status = 403, description = "`origin_not_allowed`: the page's origin is not in the site's `allowed_origins` \
                                      (readable by that origin, so the widget can say so)",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_site`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_requests`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn site_config(
    state: web::Data<AppState>,
    site: web::Path<String>,
    query: web::Query<ConfigQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let site = state.site(&site)?;
    // A page on an origin the site does not list would only see a CORS failure ("Failed to
    // fetch"); the refusal is made readable to it so the loader can tell the site owner what
    // to add. It says nothing the config itself would not.
    if let Err(refused) = site.check_origin(
        req.headers().get(header::ORIGIN),
        req.headers().get(header::HOST),
    ) {
        let mut res = refused.error_response();
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            res.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
        return Ok(res);
    }
    let not_modified = match &query.revision {
        Some(kept) => *kept == site.revision,
        None => etag_matches(if_none_match(&req), &site.etag),
    };
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    // An answer about a given revision must not be kept by a shared cache past a reload that
    // changes it: a new policy version counts from the visitor's next page view.
    let cache = if query.revision.is_some() {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    res.insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, site.etag.as_str()))
        .insert_header((header::VARY, "Accept-Encoding"));
    if not_modified {
        return Ok(res.finish());
    }
    let accept = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let (body, encoding) = site.view.pick(accept);
    if let Some(encoding) = encoding {
        res.insert_header((header::CONTENT_ENCODING, encoding));
    }
    Ok(res.content_type("application/json").body(body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PolicyQuery {
    /// Language of the text; default from Accept-Language, then the site's default.
    lang: Option<String>,
    /// `text`: the file's exact bytes even for a browser (which otherwise gets the rendered
    /// page).
    format: Option<PolicyFormat>,
}

/// `?format=` of a policy text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyFormat {
    /// The exact bytes whose SHA-256 receipts carry.
    Text,
    /// The page a visitor reads.
    Html,
}

/// `GET /v1/sites/{site}/policies/{version}[?lang=kk][&format=text|html]`: the consent text.
/// A browser (`text/html` asked for by name) gets it as a page (`policy_page`); everyone else,
/// and `format=text`, the exact bytes whose SHA-256 receipts carry (`text/markdown` for a `.md`
/// file, else `text/plain`). Without `lang`, `Accept-Language` picks, then the site's default
/// language.
#[utoipa::path(
    get,
    path = "/v1/sites/{site}/policies/{version}",
    tag = "widget",
    summary = "The consent text of one policy version",
    description = "The exact text whose SHA-256 receipts carry as `policy.sha256` (text/markdown for a Markdown \
                   file, else text/plain), or, for a browser asking for text/html by name or `format=html`, that text \
                   rendered as a page. `format=text` always gives the exact bytes.",
    params(
        ("site" = String, Path, description = "Site id"),
        ("version" = String, Path, description = "Policy version, e.g. 2026-03"),
        PolicyQuery,
    ),
    responses(
        (status = 200, description = "The text (text/markdown or text/plain), or the page (text/html)",
         content(
             (String = "text/markdown; charset=utf-8"),
             (String = "text/plain; charset=utf-8"),
             (String = "text/html; charset=utf-8"),
         )),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "`unknown_site`, `unknown_policy` or `unknown_language`", body = Problem,
         content_type = "application/problem+json"),
        (status = 429, description = "`too_many_requests`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn policy_text(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<PolicyQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (site_id, version) = path.into_inner();
    let site = &state.site(&site_id)?.config;
    let policy = site
        .policy(&version)
        .ok_or_else(|| ApiError::UnknownPolicy {
            site: site_id.clone(),
            version: version.clone(),
        })?;
    let available: Vec<String> = policy.texts.keys().cloned().collect();
    let lang = match &query.lang {
        Some(lang) => lang.clone(),
        None => {
            let accept = req
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok());
            pick_language(accept, &available)
                .map(str::to_owned)
                .or_else(|| {
                    available
                        .contains(&site.default_language)
                        .then(|| site.default_language.clone())
                })
                .or_else(|| available.first().cloned())
                .unwrap_or_default()
        }
    };
    let text = policy
        .texts
        .get(&lang)
        .ok_or_else(|| ApiError::UnknownLanguage {
            site: site_id,
            version,
            lang: lang.clone(),
            available: available.join(", "),
        })?;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let as_page = match query.format {
        Some(format) => format == PolicyFormat::Html,
        None => prefers_html_over(accept, &["text/markdown", "text/plain"]),
    };
    // The page and the bytes are two representations: distinct validators.
    let etag = if as_page {
        format!("\"{}-html\"", text.sha256)
    } else {
        format!("\"{}\"", text.sha256)
    };
    let not_modified = etag_matches(if_none_match(&req), &etag);
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CONTENT_LANGUAGE, lang.clone()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    let vary: Vec<&str> = [
        (query.lang.is_none(), "Accept-Language"),
        (query.format.is_none(), "Accept"),
    ]
    .into_iter()
    .filter_map(|(varies, name)| varies.then_some(name))
    .collect();
    if !vary.is_empty() {
        res.insert_header((header::VARY, vary.join(", ")));
    }
    if not_modified {
        return Ok(res.finish());
    }
    if as_page {
        let exact_url = format!(
            "/v1/sites/{}/policies/{}?lang={lang}&format=text",
            site.id, policy.version
        );
        let html = policy_page::render(&policy_page::Page {
            lang: &lang,
            version: &policy.version,
            text: &text.text,
            markdown: text.markdown,
            sha256: &text.sha256,
            exact_url: &exact_url,
        });
        return Ok(res
            .insert_header((header::CONTENT_SECURITY_POLICY, receipt_page::CSP))
            .content_type("text/html; charset=utf-8")
            .body(html));
    }
    Ok(res
        .content_type(if text.markdown {
            "text/markdown; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        })
        .body(text.text.clone()))
}

/// `GET /.well-known/jwks.json`: every key that ever signed, the signing one first.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "receipts",
    summary = "The collector's public keys (JWKS, RFC 7517)",
    description = "Every Ed25519 key that ever signed a receipt, the one signing now first. A key added by \
                   `keys rotate` appears here before it signs anything. Any origin may read it.",
    responses((status = 200, description = "The key set", body = crate::keys::Jwks))
)]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.jwks_json())
}

/// `GET /kelisim-receipt.css`: the receipt page's stylesheet.
#[utoipa::path(
    get,
    path = "/kelisim-receipt.css",
    tag = "receipts",
    summary = "Stylesheet of the receipt page",
    responses((status = 200, description = "CSS", body = String, content_type = "text/css; charset=utf-8"))
)]
pub async fn receipt_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(receipt_page::CSS)
}

/// `GET /kelisim.js`, `GET /kelisim.<hash>.{js,wasm,css}`.
#[utoipa::path(
    get,
    path = "/kelisim.js",
    tag = "widget",
    summary = "The widget's loader script",
    description = "The one file a site's script tag names. Revalidated on every use (no-cache, ETag); \
                   served brotli or gzip compressed when Accept-Encoding allows.",
    responses(
        (status = 200, description = "The loader", body = String, content_type = "text/javascript; charset=utf-8"),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "`not_found`: the widget is not built", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub async fn widget_loader(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    widget_file(state, req).await
}

/// `GET /kelisim.<hash>.{js,wasm,css}`: the content-hashed widget files.
#[utoipa::path(
    get,
    path = "/{file}",
    tag = "widget",
    summary = "A content-hashed widget file",
    description = "`kelisim.<16 hex>.js` (ES module glue), `.wasm` or `.css`, cached forever (immutable).",
    params(("file" = String, Path, description = "kelisim.<16 hex digits>.{js,wasm,css}")),
    responses(
        (status = 200, description = "The file (application/wasm, text/javascript or text/css)"),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn widget_file(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let name = req.path().trim_start_matches('/');
    state.assets.respond(name, &req).ok_or_else(|| {
        if state.assets.is_built() {
            ApiError::NotFound(format!("no widget file `{name}`; reload the page to get the current loader"))
        } else {
            // The directory is the server's business: it goes to the log, not to the client.
            tracing::warn!(dir = %state.assets.dir().display(), "widget file asked for, none built");
            ApiError::NotFound(
                "the widget is not built on this collector; its operator runs `cargo xtask dist` \
                 and points --widget-dir at dist/"
                    .to_owned(),
            )
        }
    })
}
