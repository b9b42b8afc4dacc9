//! Application state and the actix `App`, built the same way by `main` and by the tests.
//!
//! [`AppState::open`] turns a validated [`Config`] and a data directory into everything the
//! handlers need (pre-rendered site documents, keys, the running store, widget files);
//! [`build_app`] wires the routes:
//!
//! | route | module |
//! |---|---|
//! | `GET /v1/sites/{site}/config`, `GET /v1/sites/{site}/policies/{version}` | `routes::public` |
//! | `POST /v1/receipts`, `GET /v1/receipts/{id-or-ref}` | `routes::public` |
//! | `GET /.well-known/jwks.json`, `/healthz`, `/readyz` | `routes::public` |
//! | `GET /kelisim.js`, `/kelisim.<hash>.{js,wasm,css}` | `routes::public` + `assets` |
//! | demo only: `POST /feedback`, static demo site at `/` | `demo` |
//!
//! The `/v1` scope has CORS for each site's `allowed_origins` (and same-origin pages).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{RequestHead, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, Error, web};

use crate::assets::{AssetError, Assets};
use crate::config::{Config, ConfigError, Site};
use crate::datadir::DataDir;
use crate::error::{self, ApiError};
use crate::routes::public;
use crate::sign::{KeyError, Keyring};
use crate::store::{self, Store, StoreError};
use crate::subject::{SubjectKey, SubjectKeyError};

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

/// One configured site with its pre-rendered public document.
#[derive(Debug)]
pub struct SiteState {
    pub config: Site,
    pub view_json: web::Bytes,
    /// Quoted `revision`.
    pub etag: String,
    origins: HashSet<String>,
}

/// Everything the handlers share, passed as `web::Data`.
#[derive(Debug)]
pub struct AppState {
    /// Where visitors reach this collector (policy URLs), no trailing slash.
    pub base_url: String,
    pub store: Store,
    pub subject_key: SubjectKey,
    pub jwks_json: web::Bytes,
    pub assets: Assets,
    /// Set in `demo` mode: the static demo site served at `/`.
    pub demo_dir: Option<PathBuf>,
    sites: HashMap<String, SiteState>,
    all_origins: HashSet<String>,
}

impl AppState {
    /// Opens the data directory (creating keys and the subject secret on first start),
    /// starts the store and loads the widget.
    pub fn open(
        config: Config,
        data: &DataDir,
        widget_dir: &Path,
        demo_dir: Option<&Path>,
        base_url: &str,
    ) -> Result<AppState, StartError> {
        let keyring = Keyring::load_or_create(&data.keys_dir())?;
        let subject_key = SubjectKey::load_or_create(&data.subject_key_path())?;
        let signer = keyring.signer()?;
        tracing::info!(
            kid = signer.kid(),
            keys = keyring.entries().len(),
            "signing key loaded"
        );
        let store = store::open(&data.db_path(), signer)?;
        let assets = Assets::load(widget_dir)?;
        let jwks_json = serde_json::to_vec(&keyring.jwks())
            .unwrap_or_default()
            .into();
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
                origins,
                config: site,
            };
            sites.insert(state.config.id.clone(), state);
        }
        Ok(AppState {
            base_url,
            store,
            subject_key,
            jwks_json,
            assets,
            demo_dir: demo_dir.map(Path::to_owned),
            sites,
            all_origins,
        })
    }

    pub fn site(&self, id: &str) -> Result<&SiteState, ApiError> {
        self.sites
            .get(id)
            .ok_or_else(|| ApiError::UnknownSite(id.to_owned()))
    }

    /// May a page at `origin` call the API at `head`'s path? Site-scoped paths allow that
    /// site's origins; `/v1/receipts` allows any site's (the handler then checks the body's
    /// site). A page served by the collector itself (same origin) is always allowed.
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
    App::new()
        .app_data(state)
        .app_data(error::json_config())
        .app_data(error::form_config())
        .app_data(error::path_config())
        .app_data(error::query_config())
        .wrap(from_fn(access_log))
        .service(
            web::scope("/v1")
                .wrap(cors)
                .service(resource("/sites/{site}/config").route(web::get().to(public::site_config)))
                .service(
                    resource("/sites/{site}/policies/{version}")
                        .route(web::get().to(public::policy_text)),
                )
                .service(resource("/receipts").route(web::post().to(public::create_receipt)))
                .service(resource("/receipts/{id}").route(web::get().to(public::get_receipt))),
        )
        .service(resource("/.well-known/jwks.json").route(web::get().to(public::jwks)))
        .service(resource("/healthz").route(web::get().to(public::healthz)))
        .service(resource("/readyz").route(web::get().to(public::readyz)))
        .service(resource("/kelisim.js").route(web::get().to(public::widget_file)))
        .service(
            resource(r"/{file:kelisim\.[0-9a-f]{16}\.(?:js|wasm|css)}")
                .route(web::get().to(public::widget_file)),
        )
        .configure(|cfg| {
            if let Some(dir) = &demo_dir {
                crate::demo::configure(cfg, dir);
            }
        })
        .default_service(web::to(public::not_found))
}

/// A resource whose other methods get a problem+json 405.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(public::method_not_allowed))
}

/// One structured log line per request: method, path (never the query), status, time.
async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::error!(target: "kelisim::http", %method, path, status, micros, "request");
    } else {
        tracing::info!(target: "kelisim::http", %method, path, status, micros, "request");
    }
    Ok(res)
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
}
