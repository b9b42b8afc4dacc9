//! `GET /v1/admin/sites/{site}/compliance`: which Art. 8 items the site's config carries and
//! which it leaves empty (`admin::art8`), for the admin page's panel.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::admin::art8::{self, Art8Item};
use crate::web::auth::SiteAdmin;
use crate::web::error::{ApiError, Problem};
use crate::web::state::AppState;

use super::record;

/// What the site's config says of a consent's content.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Compliance {
    pub site: String,
    /// Every Art. 8 item in `docs/compliance.md`'s order, with how the config covers it.
    pub art8: Vec<Art8Item>,
}

/// `GET /v1/admin/sites/{site}/compliance`
#[utoipa::path(
    get,
    path = "/v1/admin/sites/{site}/compliance",
    tag = "admin",
    summary = "Art. 8 items the site config leaves empty",
    description = "Each item a consent must state (Art. 8 of the Law of the RK \"On Personal Data and Their \
                   Protection\"): the config key that carries it and whether it is set, empty, or carried by no key \
                   (the consent text must state it). Needs a bearer token covering the site.",
    params(("site" = String, Path, description = "Site id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The items", body = Compliance),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn compliance(
    SiteAdmin { admin, site }: SiteAdmin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let config = state.site(&site)?;
    record(&state, &admin, &site, "compliance", String::new()).await?;
    let art8 = art8::items(&config.config);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Compliance { site, art8 }))
}
