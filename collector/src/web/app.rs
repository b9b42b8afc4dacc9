//! The actix `App`, built the same way by `main` and by the tests (its state is
//! [`AppState`], in `web::state`).
//!
//! [`build_app`] wires the routes, which are listed once,
//! in [`api_routes`] and [`root_routes`] (and `demo::routes`), so that [`registered_routes`]
//! — what the OpenAPI test compares with `/openapi.json` — cannot drift from the real app:
//!
//! | route | module |
//! |---|---|
//! | `GET /v1/sites/{site}/config`, `GET /v1/sites/{site}/policies/{version}` | `routes::public` |
//! | `POST /v1/sites/{site}/diagnostics` | `routes::health` |
//! | `POST /v1/receipts`, `GET /v1/receipts/{id}`, `GET /v1/receipts/{id}/status`, `POST /v1/receipts/{id}/withdraw` | `routes::receipts` |
//! | `GET /v1/log/checkpoint`, `/v1/log/witnessed`, `/v1/log/key`, `/v1/log/consistency`, `/v1/receipts/{id}/proof` | `routes::log` |
//! | `POST /v1/witness/add-checkpoint`, `GET /v1/witness/key` (a collector with `[witness]`) | `routes::witness` |
//! | `GET /.well-known/jwks.json`, `/kelisim.js`, `/kelisim.<hash>.{js,wasm,css}`, `/kelisim-receipt.css` | `routes::public` |
//! | `GET /healthz`, `/readyz`, `/metrics`, `/openapi.json` | `routes::ops`, `openapi` |
//! | `/v1/admin/sites/{site}/…` (bearer token; no CORS) | `routes::admin` |
//! | `GET /admin`, `/admin/{file}` (the admin page) | `pages::admin` |
//! | demo only: `POST /feedback`, `GET /track`, static demo site at `/` | `demo` |
//!
//! Middleware (`web::middleware`), outermost first: the access log (timing, metrics, one log line); the
//! listener's scope (the metrics address serves only the operators' routes); the body
//! deadline (`connections`); on `/v1/admin` the admin rate limit; on `/v1` the preflight
//! guard (CORS refusals as problem+json), CORS for each site's `allowed_origins` (and
//! same-origin pages), and the public per-address rate limit. Nothing else (the JWKS
//! excepted, which is public) sends CORS headers.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self};
use actix_web::middleware::from_fn;
use actix_web::{App, Error, web};

use crate::web::error::{self};
use crate::web::middleware::{
    access_log, admin_rate_limit, body_deadline, listener_scope, preflight_guard, rate_limit,
};
use crate::web::routes::{admin, health, log, ops, public, receipts, witness};
use crate::web::routing::{Register, RouteList, RouteSink};
pub use crate::web::sites::SiteState;
pub use crate::web::state::{AppState, MetricsAt, ReloadError, StartError};

/// The public API under `/v1`.
pub fn api_routes(r: &mut impl RouteSink) {
    r.add(Method::GET, "/sites/{site}/config", public::site_config);
    r.add(
        Method::GET,
        "/sites/{site}/policies/{version}",
        public::policy_text,
    );
    r.add(Method::POST, "/sites/{site}/diagnostics", health::report);
    r.add(Method::POST, "/receipts", receipts::create_receipt);
    r.add(Method::GET, "/receipts/{id}", receipts::get_receipt);
    r.add(
        Method::GET,
        "/receipts/{id}/status",
        receipts::receipt_status,
    );
    r.add(
        Method::POST,
        "/receipts/{id}/withdraw",
        receipts::withdraw_receipt,
    );
    r.add(Method::GET, "/receipts/{id}/proof", log::receipt_proof);
    r.add(Method::GET, "/log/checkpoint", log::checkpoint);
    r.add(Method::GET, "/log/witnessed", log::witnessed);
    r.add(Method::GET, "/log/key", log::key);
    r.add(Method::GET, "/log/consistency", log::consistency);
    r.add(
        Method::POST,
        "/witness/add-checkpoint",
        witness::add_checkpoint,
    );
    r.add(Method::GET, "/witness/key", witness::key);
}

/// The admin API under `/v1/admin`: every route takes the site in its path, so the token's
/// site scope is checked the same way everywhere (and tested for every route of this list).
pub fn admin_routes(r: &mut impl RouteSink) {
    r.add(Method::GET, "/sites/{site}/receipts", admin::list_receipts);
    r.add(
        Method::GET,
        "/sites/{site}/receipts/{id}",
        admin::get_receipt,
    );
    r.add(Method::GET, "/sites/{site}/export", admin::export_receipts);
    r.add(Method::GET, "/sites/{site}/stats", admin::stats);
    r.add(Method::GET, "/sites/{site}/analytics", admin::analytics);
    r.add(Method::GET, "/sites/{site}/compliance", admin::compliance);
    r.add(Method::GET, "/sites/{site}/health", admin::health);
    r.add(Method::GET, "/sites/{site}/audit", admin::audit_trail);
    r.add(Method::POST, "/sites/{site}/withdrawals", admin::withdraw);
    r.add(Method::POST, "/sites/{site}/erasures", admin::erase);
    r.add(
        Method::GET,
        "/sites/{site}/erasure-requests",
        admin::list_erasures,
    );
    r.add(
        Method::POST,
        "/sites/{site}/erasure-requests/{request}/execute",
        admin::execute_erasure,
    );
}

/// Admin routes as the OpenAPI document names them.
pub fn registered_admin_routes() -> Vec<(Method, String)> {
    let mut list = RouteList {
        prefix: "/v1/admin",
        ..RouteList::default()
    };
    admin_routes(&mut list);
    list.routes
}

/// Everything outside `/v1` (the demo's routes aside).
pub fn root_routes(r: &mut impl RouteSink) {
    r.add(Method::GET, "/.well-known/jwks.json", public::jwks);
    r.add(Method::GET, "/healthz", ops::healthz);
    r.add(Method::GET, "/readyz", ops::readyz);
    r.add(Method::GET, "/metrics", ops::metrics);
    r.add(Method::GET, "/openapi.json", crate::web::openapi::openapi);
    r.add(Method::GET, "/kelisim-receipt.css", public::receipt_css);
    r.add(Method::GET, "/kelisim.js", public::widget_loader);
    r.add(
        Method::GET,
        r"/{file:kelisim\.[0-9a-f]{16}\.(?:js|wasm|css)}",
        public::widget_file,
    );
}

/// Every route the app can register (demo mode included), as the OpenAPI document names them.
pub fn registered_routes() -> Vec<(Method, String)> {
    let mut list = RouteList {
        prefix: "/v1",
        ..RouteList::default()
    };
    api_routes(&mut list);
    list.prefix = "/v1/admin";
    admin_routes(&mut list);
    list.prefix = "";
    root_routes(&mut list);
    crate::web::pages::admin::routes(&mut list);
    crate::web::demo::routes(&mut list);
    list.routes
}

/// The collector's `App`: API routes, widget files, and in demo mode the demo site.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let cors_state = state.clone();
    let cors = Cors::default()
        .allowed_origin_fn(move |origin, head| cors_state.cors_allows(origin, head))
        .allowed_methods(["GET", "POST"])
        .allowed_header(header::CONTENT_TYPE)
        .max_age(86_400);
    let demo_dir = state.demo_dir.clone();
    #[cfg(feature = "testing")]
    let bench = state.bench_endpoints;
    App::new()
        .app_data(state)
        .app_data(error::json_config())
        .app_data(error::form_config())
        .app_data(error::path_config())
        .app_data(error::query_config())
        .wrap(from_fn(body_deadline))
        .wrap(from_fn(listener_scope))
        .wrap(from_fn(access_log))
        // Before `/v1`, so these paths never pass its CORS middleware: admin routes are
        // for the admin page (same origin) and scripts, never for other sites' pages.
        .service(
            web::scope("/v1/admin")
                .wrap(from_fn(admin_rate_limit))
                .configure(|cfg| admin_routes(&mut Register(cfg))),
        )
        .service(
            web::scope("/v1")
                .wrap(from_fn(rate_limit))
                .wrap(cors)
                .wrap(from_fn(preflight_guard))
                .configure(|cfg| api_routes(&mut Register(cfg))),
        )
        .configure(|cfg| {
            root_routes(&mut Register(cfg));
            crate::web::pages::admin::routes(&mut Register(cfg));
            #[cfg(feature = "testing")]
            if bench {
                cfg.service(
                    crate::web::routing::resource("/_bench/echo")
                        .route(web::post().to(ops::bench_echo)),
                );
            }
            if let Some(dir) = &demo_dir {
                crate::web::demo::configure(cfg, dir);
            }
        })
        .default_service(web::to(crate::web::routing::not_found))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_route_table_has_each_route_once() {
        let routes = registered_routes();
        let unique: HashSet<_> = routes.iter().collect();
        assert_eq!(unique.len(), routes.len(), "{routes:?}");
        assert!(routes.contains(&(Method::POST, "/v1/receipts/{id}/withdraw".to_owned())));
        assert!(routes.contains(&(Method::POST, "/feedback".to_owned())));
    }
}
