//! Application state and the actix `App`, built the same way by `main` and by the tests.
//!
//! [`AppState::open`] turns a validated [`Config`] and a data directory into everything the
//! handlers need (pre-rendered site documents, published keys, the running store, widget
//! files, metrics, the rate limiter); [`build_app`] wires the routes, which are listed once,
//! in [`api_routes`] and [`root_routes`] (and `demo::routes`), so that [`registered_routes`]
//! — what the OpenAPI test compares with `/openapi.json` — cannot drift from the real app:
//!
//! | route | module |
//! |---|---|
//! | `GET /v1/sites/{site}/config`, `GET /v1/sites/{site}/policies/{version}` | `routes::public` |
//! | `POST /v1/receipts`, `GET /v1/receipts/{id}`, `GET /v1/receipts/{id}/status`, `POST /v1/receipts/{id}/withdraw` | `routes::receipts` |
//! | `GET /.well-known/jwks.json`, `/kelisim.js`, `/kelisim.<hash>.{js,wasm,css}`, `/kelisim-receipt.css` | `routes::public` |
//! | `GET /healthz`, `/readyz`, `/metrics`, `/openapi.json` | `routes::ops` |
//! | `/v1/admin/sites/{site}/…` (bearer token; no CORS) | `routes::admin` |
//! | `GET /admin`, `/admin/{file}` (the admin page) | `admin_page` |
//! | demo only: `POST /feedback`, `GET /track`, static demo site at `/` | `demo` |
//!
//! Middleware, outermost first: the access log (timing, metrics, one log line); the
//! listener's scope (the metrics address serves only the operators' routes); the body
//! deadline (`connections`); on `/v1/admin` the admin rate limit; on `/v1` the preflight
//! guard (CORS refusals as problem+json), CORS for each site's `allowed_origins` (and
//! same-origin pages), and the public per-address rate limit. Nothing else (the JWKS
//! excepted, which is public) sends CORS headers.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{RequestHead, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, Error, FromRequest, Handler, Responder, ResponseError, web};

use crate::config::{Config, ConfigError, Site};
use crate::keys::{KeyError, Keyring, PublicKeys};
use crate::ops::datadir::DataDir;
use crate::ops::metrics::Metrics;
use crate::receipt::subject::{SiteKeys, SubjectKey, SubjectKeyError};
use crate::store::{self, Store, StoreError};
use crate::web::assets::{AssetError, Assets};
use crate::web::connections::{ConnectionLimit, body_deadline};
use crate::web::error::{self, ApiError, ProblemCode};
use crate::web::ratelimit::{Clients, RateLimiter, retry_after_secs};
use crate::web::routes::{admin, ops, public, receipts};

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    SubjectKey(#[from] SubjectKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Assets(#[from] AssetError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Server(std::io::Error),
}

/// Why a running collector could not switch to a rotated key (it keeps the old one).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("the receipt writer did not take the new key: {0}")]
    Writer(#[from] StoreError),
    #[error("reading the key directory failed: {0}")]
    Blocking(String),
}

/// One configured site with its pre-rendered public document.
#[derive(Debug)]
pub struct SiteState {
    pub config: Site,
    pub view_json: web::Bytes,
    /// Quoted `revision`.
    pub etag: String,
    /// The site's subject index and browser keys.
    pub keys: SiteKeys,
    origins: HashSet<String>,
}

/// Where `GET /metrics` answers. It shows per-site consent counts and admin activity, so not
/// to the public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAt {
    /// Only on connections accepted at this address (`serve --metrics-listen`), which then
    /// serves nothing but the operators' routes.
    Listener(SocketAddr),
    /// On every listener: `demo`, which listens on loopback only.
    Everywhere,
    /// Nowhere: `serve` without `--metrics-listen`.
    Nowhere,
}

/// The public side of the signing keys, swapped as a whole when keys are reloaded.
#[derive(Debug)]
struct Published {
    jwks_json: web::Bytes,
    keys: Arc<PublicKeys>,
    active_kid: String,
}

impl Published {
    fn new(ring: &Keyring, signing_kid: &str) -> Published {
        let jwks = ring.jwks_signing_with(signing_kid);
        Published {
            jwks_json: serde_json::to_vec(&jwks).unwrap_or_default().into(),
            keys: Arc::new(ring.public_keys()),
            active_kid: signing_kid.to_owned(),
        }
    }
}

/// Everything the handlers share, passed as `web::Data`.
#[derive(Debug)]
pub struct AppState {
    /// Where visitors reach this collector (policy URLs), no trailing slash.
    pub base_url: String,
    pub store: Store,
    pub subject_key: SubjectKey,
    pub assets: Assets,
    /// Set in `demo` mode: the static demo site served at `/`.
    pub demo_dir: Option<PathBuf>,
    pub metrics: Metrics,
    /// Where `/metrics` answers (`Nowhere` until the server says otherwise).
    pub metrics_at: MetricsAt,
    /// The public API's per-address limit.
    pub rate_limiter: RateLimiter,
    /// The admin API's own per-address limit.
    pub admin_rate_limiter: RateLimiter,
    /// How a request's client address is found (trusted proxies).
    pub clients: Clients,
    /// Open connections per client address.
    pub connections: ConnectionLimit,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// `serve --bench-endpoints`: also serve the trivial `POST /_bench/echo` baseline.
    pub bench_endpoints: bool,
    keys_dir: PathBuf,
    published: RwLock<Published>,
    sites: HashMap<String, SiteState>,
    all_origins: HashSet<String>,
}

impl AppState {
    /// Opens the data directory (creating keys and the subject secret on first start),
    /// starts the store and loads the widget (from `widget_dir`, or the built-in one).
    pub fn open(
        config: Config,
        data: &DataDir,
        widget_dir: Option<&Path>,
        demo_dir: Option<&Path>,
        base_url: &str,
    ) -> Result<AppState, StartError> {
        data.warn_if_not_private();
        let keyring = Keyring::load_or_create(&data.keys_dir())?;
        let subject_key = SubjectKey::load_or_create(&data.subject_key_path())?;
        let signer = keyring.signer()?;
        tracing::info!(
            kid = signer.kid(),
            keys = keyring.entries().len(),
            "signing key loaded"
        );
        let published = Published::new(&keyring, signer.kid());
        let metrics = Metrics::new();
        let store = store::open_with(&data.db_path(), signer, metrics.writer())?;
        let assets = Assets::open(widget_dir)?;
        let base_url = base_url.trim_end_matches('/').to_owned();
        let mut sites = HashMap::new();
        let mut all_origins = HashSet::new();
        for site in config.sites {
            let view = site.public_view(&base_url);
            let origins: HashSet<String> = site.allowed_origins.iter().cloned().collect();
            all_origins.extend(origins.iter().cloned());
            let state = SiteState {
                etag: format!("\"{}\"", view.revision),
                view_json: view.json.into(),
                keys: subject_key.site(&site.id),
                origins,
                config: site,
            };
            sites.insert(state.config.id.clone(), state);
        }
        Ok(AppState {
            base_url,
            store,
            subject_key,
            assets,
            demo_dir: demo_dir.map(Path::to_owned),
            metrics,
            metrics_at: MetricsAt::Nowhere,
            rate_limiter: RateLimiter::public(&config.rate_limit),
            admin_rate_limiter: RateLimiter::admin(&config.rate_limit),
            clients: Clients::new(&config.rate_limit),
            connections: ConnectionLimit::new(
                config.rate_limit.connections_per_address,
                &config.rate_limit.trusted_proxies,
            ),
            body_timeout: Duration::from_secs(u64::from(config.rate_limit.body_timeout_secs)),
            bench_endpoints: false,
            keys_dir: data.keys_dir(),
            published: RwLock::new(published),
            sites,
            all_origins,
        })
    }

    /// The ids of the configured sites.
    pub fn site_ids(&self) -> Vec<String> {
        self.sites.keys().cloned().collect()
    }

    pub fn site(&self, id: &str) -> Result<&SiteState, ApiError> {
        self.sites
            .get(id)
            .ok_or_else(|| ApiError::UnknownSite(id.to_owned()))
    }

    /// The keyed hashes under which `site`'s subject index holds a normalised identifier:
    /// the site's own (payload v2) and the one key of payload v1, whose receipts keep theirs.
    pub fn subject_readings(&self, site: &str, normalised: &str) -> Vec<String> {
        let keys = self
            .sites
            .get(site)
            .map_or_else(|| self.subject_key.site(site), |s| s.keys.clone());
        vec![
            keys.index_hex(normalised),
            self.subject_key.legacy_index_hex(normalised),
        ]
    }

    fn published<T>(&self, f: impl FnOnce(&Published) -> T) -> T {
        // A poisoned lock only means a reload panicked after swapping in a complete value.
        let guard = self
            .published
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }

    /// The JWKS document: every key that ever signed, the one signing now first.
    pub fn jwks_json(&self) -> web::Bytes {
        self.published(|p| p.jwks_json.clone())
    }

    /// The verifying keys of every key in the ring.
    pub fn public_keys(&self) -> Arc<PublicKeys> {
        self.published(|p| Arc::clone(&p.keys))
    }

    /// The kid new receipts are signed with.
    pub fn active_kid(&self) -> String {
        self.published(|p| p.active_kid.clone())
    }

    fn publish(&self, next: Published) {
        let mut guard = self
            .published
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = next;
    }

    /// Picks up a key added by `keys rotate` (on SIGHUP): returns the new kid, or `None` if
    /// the newest key is the one in use. The new public key is published before the writer
    /// signs anything with it, and listed first only once it does.
    pub async fn reload_keys(&self) -> Result<Option<String>, ReloadError> {
        let dir = self.keys_dir.clone();
        let ring = web::block(move || Keyring::load(&dir))
            .await
            .map_err(|e| ReloadError::Blocking(e.to_string()))??;
        let signer = ring.signer()?;
        let current = self.active_kid();
        if signer.kid() == current {
            return Ok(None);
        }
        let kid = signer.kid().to_owned();
        self.publish(Published::new(&ring, &current));
        self.store.set_signer(signer).await?;
        self.publish(Published::new(&ring, &kid));
        Ok(Some(kid))
    }

    /// May a page at `origin` call the API at `head`'s path? Site-scoped paths allow that
    /// site's origins; `/v1/receipts…` allows any site's (the handler then checks the
    /// receipt's site). A page served by the collector itself (same origin) is always allowed.
    fn cors_allows(&self, origin: &HeaderValue, head: &RequestHead) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if is_same_origin(origin, head.headers().get(header::HOST)) {
            return true;
        }
        let path = head.uri.path();
        match path
            .strip_prefix("/v1/sites/")
            .and_then(|rest| rest.split('/').next())
        {
            Some(site) => self
                .sites
                .get(site)
                .is_some_and(|s| s.origins.contains(origin)),
            None => self.all_origins.contains(origin),
        }
    }
}

impl SiteState {
    /// The receipt endpoint's own origin rule for one site (CORS only protects browsers
    /// that honour it; this refuses a page of site A recording receipts for site B).
    pub fn check_origin(
        &self,
        origin: Option<&HeaderValue>,
        host: Option<&HeaderValue>,
    ) -> Result<(), ApiError> {
        let Some(origin) = origin else { return Ok(()) };
        let origin_text = origin.to_str().unwrap_or("<not text>");
        if self.origins.contains(origin_text) || is_same_origin(origin_text, host) {
            return Ok(());
        }
        Err(ApiError::OriginNotAllowed {
            origin: origin_text.to_owned(),
            site: self.config.id.clone(),
        })
    }
}

/// True if `origin` (`scheme://host[:port]`) names the host the request was sent to.
fn is_same_origin(origin: &str, host: Option<&HeaderValue>) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

// ---- the route table -------------------------------------------------------------------

/// Where routes go: the real app ([`Register`]) or a list ([`RouteList`]).
pub trait RouteSink {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;
}

/// Registers each route as its own resource, whose other methods get a problem+json 405.
pub struct Register<'a>(pub &'a mut web::ServiceConfig);

impl RouteSink for Register<'_> {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.0
            .service(resource(path).route(web::method(method).to(handler)));
    }
}

/// Records `(method, full path)` of each route; `{name:regex}` segments become `{name}`.
#[derive(Debug, Default)]
pub struct RouteList {
    prefix: &'static str,
    pub routes: Vec<(Method, String)>,
}

impl RouteSink for RouteList {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, _handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.routes
            .push((method, openapi_path(&format!("{}{path}", self.prefix))));
    }
}

/// `/{file:kelisim\.[0-9a-f]{16}\.js}` → `/{file}`: the OpenAPI spelling of a path pattern.
pub fn openapi_path(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0usize;
    let mut skipping = false;
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push(c);
                }
            }
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    skipping = false;
                    out.push(c);
                }
            }
            ':' if depth == 1 => skipping = true,
            _ if skipping || depth > 1 => {}
            _ => out.push(c),
        }
    }
    out
}

/// The public API under `/v1`.
pub fn api_routes(r: &mut impl RouteSink) {
    r.add(Method::GET, "/sites/{site}/config", public::site_config);
    r.add(
        Method::GET,
        "/sites/{site}/policies/{version}",
        public::policy_text,
    );
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
    r.add(Method::GET, "/openapi.json", ops::openapi);
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
            if bench {
                cfg.service(resource("/_bench/echo").route(web::post().to(ops::bench_echo)));
            }
            if let Some(dir) = &demo_dir {
                crate::web::demo::configure(cfg, dir);
            }
        })
        .default_service(web::to(public::not_found))
}

/// A resource whose other methods get a problem+json 405.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(public::method_not_allowed))
}

// ---- middleware ------------------------------------------------------------------------

/// Times every request, records it in the metrics (route pattern, never the path, and the
/// problem code of a rejection) and logs it: rejections at info, server errors at error,
/// successes and rate-limit refusals (a flood must not flood the log) at debug. The middleware
/// inside it answer with responses rather than errors, so every rejection passes here.
async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let res = next.call(req).await?;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    let method = res.request().method().clone();
    let path = res.request().path().to_owned();
    let route = res.request().match_pattern();
    let code = res.response().extensions().get::<ProblemCode>().copied();
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        let route = route.as_deref().map_or("unmatched", openapi_route);
        state
            .metrics
            .request(method.as_str(), route, status, elapsed.as_secs_f64());
        if let Some(ProblemCode(code)) = code {
            state.metrics.rejection(code);
        }
    }
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let code = code.map_or("-", |c| c.0);
    if status >= 500 {
        tracing::error!(target: "kelisim::http", %method, path, status, code, micros, "request");
    } else if status >= 400 && status != 429 {
        tracing::info!(target: "kelisim::http", %method, path, status, code, micros, "request");
    } else {
        tracing::debug!(target: "kelisim::http", %method, path, status, micros, "request");
    }
    Ok(res)
}

/// Route patterns as metric labels: the widget-file regex shortened.
fn openapi_route(pattern: &str) -> &str {
    if pattern.starts_with("/{file:") {
        "/{file}"
    } else {
        pattern
    }
}

/// CORS preflights from origins the API does not serve get a problem document (403) instead
/// of actix-cors's plain-text refusal; so do preflights asking for methods or headers the
/// API does not accept (400).
async fn preflight_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight && let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|state| state.cors_allows(origin, req.head()));
        if !allowed {
            let err = ApiError::PreflightOriginNotAllowed {
                origin: origin.to_str().unwrap_or("<not text>").to_owned(),
            };
            return Ok(req.error_response(err).map_into_right_body());
        }
    }
    let res = next.call(req).await?;
    if preflight && res.status() == StatusCode::BAD_REQUEST {
        let refusal = ApiError::PreflightRefused.error_response();
        return Ok(res.into_response(refusal).map_into_right_body());
    }
    Ok(res.map_into_left_body())
}

/// The per-address limit on `/v1`: over it, a 429 problem with `Retry-After`.
async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    limited(req, next, |state| &state.rate_limiter).await
}

/// The admin API's own per-address limit.
async fn admin_rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    limited(req, next, |state| &state.admin_rate_limiter).await
}

async fn limited(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
    limiter: fn(&AppState) -> &RateLimiter,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let client = state.clients.client(req.peer_addr(), req.headers());
        if let Err(wait) = limiter(state).check(client) {
            let err = ApiError::TooManyRequests {
                retry_after: retry_after_secs(wait),
            };
            return Ok(req.error_response(err).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The operators' routes, the only ones the metrics address serves.
const OPERATOR_PATHS: [&str; 3] = ["/metrics", "/healthz", "/readyz"];

/// The metrics address (`serve --metrics-listen`) serves the operators' routes only, and
/// `/metrics` answers nowhere else (404, as if it did not exist).
async fn listener_scope(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let path = req.path();
        let on_metrics_address = match state.metrics_at {
            MetricsAt::Listener(addr) => req.app_config().local_addr() == addr,
            MetricsAt::Everywhere | MetricsAt::Nowhere => false,
        };
        let refused = if on_metrics_address {
            !OPERATOR_PATHS.contains(&path)
        } else {
            path == "/metrics" && state.metrics_at != MetricsAt::Everywhere
        };
        if refused {
            let err = ApiError::NotFound(format!("no such resource: {} {path}", req.method()));
            return Ok(req.error_response(err).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_compares_authority_with_host() {
        let host = HeaderValue::from_static("127.0.0.1:41234");
        assert!(is_same_origin("http://127.0.0.1:41234", Some(&host)));
        assert!(!is_same_origin("http://127.0.0.1:8080", Some(&host)));
        assert!(!is_same_origin("null", Some(&host)));
        assert!(!is_same_origin("http://127.0.0.1:41234", None));
    }

    #[test]
    fn path_patterns_are_spelled_as_openapi_paths() {
        assert_eq!(
            openapi_path(r"/{file:kelisim\.[0-9a-f]{16}\.(?:js|wasm|css)}"),
            "/{file}"
        );
        assert_eq!(
            openapi_path("/v1/receipts/{id}/withdraw"),
            "/v1/receipts/{id}/withdraw"
        );
        assert_eq!(openapi_path("/healthz"), "/healthz");
    }

    #[test]
    fn the_route_table_has_each_route_once() {
        let routes = registered_routes();
        let unique: HashSet<_> = routes.iter().collect();
        assert_eq!(unique.len(), routes.len(), "{routes:?}");
        assert!(routes.contains(&(Method::POST, "/v1/receipts/{id}/withdraw".to_owned())));
        assert!(routes.contains(&(Method::POST, "/feedback".to_owned())));
    }
}
