//! Everything the handlers share, passed as `web::Data<AppState>`: the validated sites with
//! their pre-rendered documents, the published keys (swapped on reload), the store, the
//! widget's files, metrics and limits. [`AppState::open`] builds it from a [`Config`] and a
//! data directory. Handlers import this module, never the app that mounts them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::dev::RequestHead;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web;
use arc_swap::ArcSwap;

use crate::config::{Config, ConfigError, LogConfig, StoreConfig};
use crate::keys::{KeyError, Keyring, PublicKeys};
use crate::ops::datadir::DataDir;
use crate::ops::metrics::Metrics;
use crate::receipt::subject::{SubjectKey, SubjectKeyError};
use crate::store::{self, Location, Store, StoreError};
use crate::web::assets::{AssetError, Assets};
use crate::web::connections::ConnectionLimit;
use crate::web::error::ApiError;
use crate::web::ratelimit::{Clients, RateLimiter};
use crate::web::sites::{SiteState, Sites, is_same_origin};
use crate::witness::cosign::WitnessRole;

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
    #[error("cannot start as a witness: {0}; check [witness] name")]
    Witness(String),
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
    #[cfg(feature = "testing")]
    pub bench_endpoints: bool,
    /// `[witness]`: this collector cosigns the checkpoints of the logs it follows.
    pub witness: Option<WitnessRole>,
    /// `[log]`: the witnesses this collector's log asks to cosign (read at start).
    pub log: LogConfig,
    keys_dir: PathBuf,
    published: RwLock<Published>,
    /// The configured sites, replaced as a whole when SIGHUP reloads the file (`reload`);
    /// a request loads them once, lock-free.
    sites: ArcSwap<Sites>,
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
        let base_url = base_url.trim_end_matches('/').to_owned();
        let location = match &config.store {
            StoreConfig::Sqlite => Location::in_data_dir(data),
            StoreConfig::Postgres { url } => Location::Postgres(url.clone()),
        };
        tracing::info!(store = %location.shown(), "opening the receipt store");
        let store = store::open_with(
            &location,
            signer,
            &crate::log::tree::origin_for(&base_url),
            metrics.writer(),
        )?;
        let assets = Assets::open(widget_dir)?;
        let witness = match &config.witness {
            Some(witness) => Some(
                WitnessRole::new(witness, crate::keys::witness_key(data.root())?)
                    .map_err(|e| StartError::Witness(e.to_string()))?,
            ),
            None => None,
        };
        let log = config.log.clone();
        let sites = Sites::new(config.clone(), &subject_key, &base_url);
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
            #[cfg(feature = "testing")]
            bench_endpoints: false,
            witness,
            log,
            keys_dir: data.keys_dir(),
            published: RwLock::new(published),
            sites: ArcSwap::from_pointee(sites),
        })
    }

    /// The ids of the configured sites.
    pub fn site_ids(&self) -> Vec<String> {
        self.sites.load().ids()
    }

    /// Every site's id with its `retention_days`, for the retention task.
    pub fn retention_days(&self) -> Vec<(String, u32)> {
        self.sites
            .load()
            .iter()
            .map(|(id, site)| (id.clone(), site.config.retention_days))
            .collect()
    }

    pub fn site(&self, id: &str) -> Result<Arc<SiteState>, ApiError> {
        self.sites
            .load()
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::UnknownSite(id.to_owned()))
    }

    /// The sites now configured (a reload replaces them; this snapshot stays whole).
    pub fn sites(&self) -> Arc<Sites> {
        self.sites.load_full()
    }

    /// Serves `next` from the next request on (SIGHUP, `reload`).
    pub fn replace_sites(&self, next: Sites) {
        self.sites.store(Arc::new(next));
    }

    /// The keyed hashes under which `site`'s subject index holds a normalised identifier:
    /// the site's own (payload v2) and the one key of payload v1, whose receipts keep theirs.
    pub fn subject_readings(&self, site: &str, normalised: &str) -> Vec<String> {
        let keys = self
            .sites
            .load()
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
    pub(super) fn cors_allows(&self, origin: &HeaderValue, head: &RequestHead) -> bool {
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
            // Read per request, so origins added by a reload are allowed at once.
            Some(site) => self
                .sites
                .load()
                .get(site)
                .is_some_and(|s| s.origins().contains(origin)),
            None => self.sites.load().allows_any(origin),
        }
    }
}
