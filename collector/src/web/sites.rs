//! The site table as served: each configured site with its pre-rendered public document,
//! its subject keys and its allowed origins, and the table of all of them that a SIGHUP
//! reload (`web::reload`) replaces as a whole. Apart from [`crate::web::state`] so that the
//! state holds a table and the reload builds one without the two importing each other.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, LogConfig, RateLimit, Site, WitnessConfig};
use crate::receipt::subject::{SiteKeys, SubjectKey};
use crate::web::compress::Compressed;
use crate::web::error::ApiError;
use actix_web::http::header::HeaderValue;

/// One configured site with its pre-rendered public document.
#[derive(Debug)]
pub struct SiteState {
    pub config: Site,
    /// The public config document, compressed once.
    pub view: Compressed,
    /// Its `revision`, which changes whenever anything in it does.
    pub revision: String,
    /// Quoted `revision`.
    pub etag: String,
    /// The site's subject index and browser keys.
    pub keys: SiteKeys,
    origins: HashSet<String>,
}

/// The configured sites, as served; replaced as a whole by a reload.
#[derive(Debug)]
pub struct Sites {
    /// The file they were read from.
    file: PathBuf,
    by_id: HashMap<String, Arc<SiteState>>,
    /// Every site's origins (`/v1/receipts…` is called from any site's pages).
    all_origins: HashSet<String>,
    /// Settings a reload cannot apply, kept to tell the operator when the file changed them.
    pub(super) rate_limit: RateLimit,
    pub(super) public_url: Option<String>,
    pub(super) log: LogConfig,
    pub(super) witness: Option<WitnessConfig>,
}

impl Sites {
    /// Renders each site's public document against `base_url` and derives its keys.
    pub fn new(config: Config, subject_key: &SubjectKey, base_url: &str) -> Sites {
        let mut by_id = HashMap::new();
        let mut all_origins = HashSet::new();
        for site in config.sites {
            let state = SiteState::new(site, base_url, subject_key);
            all_origins.extend(state.origins().iter().cloned());
            by_id.insert(state.config.id.clone(), Arc::new(state));
        }
        Sites {
            file: config.file,
            by_id,
            all_origins,
            rate_limit: config.rate_limit,
            public_url: config.public_url,
            log: config.log,
            witness: config.witness,
        }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<SiteState>> {
        self.by_id.get(id)
    }

    /// The site ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.by_id.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Each site by id, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Arc<SiteState>)> {
        self.by_id.iter()
    }

    /// Does any site list `origin`?
    pub fn allows_any(&self, origin: &str) -> bool {
        self.all_origins.contains(origin)
    }

    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl SiteState {
    /// Renders `site`'s public document and derives its keys.
    pub fn new(site: Site, base_url: &str, subject_key: &SubjectKey) -> SiteState {
        let view = site.public_view(base_url);
        SiteState {
            etag: format!("\"{}\"", view.revision),
            view: Compressed::new(view.json),
            revision: view.revision,
            keys: subject_key.site(&site.id),
            origins: site.allowed_origins.iter().cloned().collect(),
            config: site,
        }
    }

    /// The origins whose pages may call the API for this site.
    pub fn origins(&self) -> &HashSet<String> {
        &self.origins
    }

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
pub(crate) fn is_same_origin(origin: &str, host: Option<&HeaderValue>) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
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
