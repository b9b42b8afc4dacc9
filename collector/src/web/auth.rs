//! Admin authentication as an extractor: `Authorization: Bearer kls_…` → the token's
//! record, or a 401 problem; [`SiteAdmin`] adds the path's site (403, 404). The scope check
//! (403) is [`Admin::require_admin`], called by each handler that changes something.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::admin::tokens::{self, Rejection};
use crate::clock::format_timestamp;
use crate::store::{Scope, TokenRecord};
use crate::web::error::ApiError;
use crate::web::state::AppState;

/// An authenticated admin request.
#[derive(Debug, Clone)]
pub struct Admin {
    pub token: TokenRecord,
}

impl Admin {
    /// `site` if this token covers it, else 403.
    pub fn site(&self, site: &str) -> Result<(), ApiError> {
        if self.token.covers(site) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this token does not cover site `{site}`; create one with \
                 `kelisim-collector tokens create --site {site}`"
            )))
        }
    }

    /// The sites to query: the one asked for (checked), or all of the token's.
    pub fn sites(&self, asked: Option<&str>) -> Result<Vec<String>, ApiError> {
        match asked {
            Some(site) => self.site(site).map(|()| vec![site.to_owned()]),
            None => Ok(self.token.sites.clone()),
        }
    }

    /// 403 unless the token has the `admin` scope (changes, not just reads).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.token.scope == Scope::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this token may only read; withdrawal and erasure need a token created with --scope admin"
                    .into(),
            ))
        }
    }
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::Unauthorized(format!(
        "{detail}; send `Authorization: Bearer kls_…` with a token from `kelisim-collector tokens create`"
    ))
}

/// The credentials of an `Authorization` value with the `Bearer` scheme, whose name is
/// case-insensitive (RFC 7235 §2.1; RFC 6750 §2.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let presented = presented.ok_or_else(|| unauthorized("no admin token"))?;
            let (id, secret) =
                tokens::parse(&presented).ok_or_else(|| unauthorized("malformed admin token"))?;
            let (id, secret) = (id.to_owned(), secret.to_owned());
            let reader = state.store.reader();
            let record = web::block(move || reader.token(&id))
                .await??
                .ok_or_else(|| unauthorized("unknown admin token"))?;
            let now = format_timestamp(time::OffsetDateTime::now_utc());
            match tokens::check(&record, &secret, &now) {
                Ok(()) => Ok(Admin { token: record }),
                Err(Rejection::WrongSecret) => Err(unauthorized("unknown admin token")),
                Err(Rejection::Revoked) => Err(unauthorized("this admin token was revoked")),
                Err(Rejection::Expired) => Err(unauthorized("this admin token has expired")),
            }
        })
    }
}

/// An admin request about the site in its path (`/v1/admin/sites/{site}/…`): a valid token
/// (401), covering that site (403), which is configured (404). The one gate of every admin
/// handler, in place of a prologue in each.
#[derive(Debug, Clone)]
pub struct SiteAdmin {
    pub admin: Admin,
    pub site: String,
}

impl FromRequest for SiteAdmin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<SiteAdmin, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let admin = Admin::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let site = req.match_info().get("site").map(str::to_owned);
        Box::pin(async move {
            let admin = admin.await?;
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let site = site.ok_or_else(|| ApiError::Internal("no {site} in the route".into()))?;
            admin.site(&site)?;
            state.site(&site)?;
            Ok(SiteAdmin { admin, site })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer kls_a_b",
            "bearer kls_a_b",
            "BEARER  kls_a_b ",
            "BeArEr\tkls_a_b",
        ] {
            assert_eq!(bearer(value), Some("kls_a_b"), "{value:?}");
        }
        for value in ["Basic YTpi", "Bearerkls_a_b", "Bearer ", "kls_a_b", ""] {
            assert_eq!(bearer(value), None, "{value:?}");
        }
    }
}
