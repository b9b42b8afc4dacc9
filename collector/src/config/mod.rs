//! Site configuration: the TOML file is parsed once into one validated [`Config`].
//!
//! Raw serde structs (`Raw*`, `deny_unknown_fields`, so a typo is an error rather than a
//! silently missing setting) are turned by [`Config::parse`] into the validated types the
//! rest of the collector uses. Validation errors name the file, the key and the reason.
//! Loading also reads every policy text (paths relative to the config file) and computes
//! its SHA-256, so receipts can state exactly which text the visitor was shown.
//!
//! ```toml
//! public_url = "https://consent.example.kz"   # optional; default: the listen address
//! [rate_limit]                              # optional; per client address, on /v1/…
//! per_second = 50; burst = 200              # sustained rate and burst (the defaults)
//! admin_per_second = 50; admin_burst = 200  # the admin API's own bucket (the defaults)
//! trusted_proxies = ["127.0.0.1"]           # peers whose forwarding header names the client
//! proxy_header = "x-forwarded-for"          # or "forwarded" (RFC 7239): the one they set
//! connections_per_address = 128             # open connections per client address
//! body_timeout_secs = 10                    # a request body must arrive within this
//! [[site]]
//! id = "demo"
//! allowed_origins = ["https://example.kz"]
//! languages = ["ru", "kk", "en"]
//! default_language = "ru"
//! current_policy = "2026-03"
//! retention_days = 1095
//! erasure_deadline_days = 30                # optional (default 30): erasure requests' deadline
//! [site.operator]
//! name = "…"; bin = "180940012348"          # address, contact, jurisdiction optional
//! [[site.policy]]
//! version = "2026-03"; published = "2026-03-01"
//! files = { ru = "policies/consent.ru.md", kk = "…", en = "…" }
//! [[site.purpose]]
//! id = "feedback"; required = true
//! [[site.category]]                         # cookie categories (optional), see `cookies`
//! id = "analytics"; services = ["Яндекс Метрика"]
//! [site.cookies]                            # the cookie banner's settings (optional)
//! [site.texts.ru]                           # optional overrides of the built-in texts
//! label = "…"
//! [site.texts.ru.cookies]                   # … and of the banner's
//! ```

pub mod cookies;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::cookies::{CookieTexts, Cookies};
use crate::hash::sha256_hex;

pub use crate::config::cookies::Category;

/// A config file that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: `{key}`: {reason}", file.display())]
    Invalid {
        file: PathBuf,
        key: String,
        reason: String,
    },
}

/// The validated configuration of one collector.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub file: PathBuf,
    /// Base URL under which visitors reach this collector, without a trailing slash.
    pub public_url: Option<String>,
    pub rate_limit: RateLimit,
    pub sites: Vec<Site>,
}

/// What one client address may ask of the collector: requests per second on the public API
/// (`/v1/…`, refused with 429 beyond it) and on the admin API, open connections, and how long
/// a request body may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed at once before the sustained rate applies.
    pub burst: u32,
    /// The admin API's own bucket: sustained requests per second.
    pub admin_per_second: u32,
    /// The admin API's own bucket: burst.
    pub admin_burst: u32,
    /// Peers (reverse proxies) whose forwarding header names the real client; from any
    /// other peer the header is ignored, so clients cannot choose their own bucket.
    pub trusted_proxies: Vec<IpAddr>,
    /// The header those proxies set.
    pub proxy_header: ProxyHeader,
    /// Connections one address may hold open (trusted proxies are not counted).
    pub connections_per_address: u32,
    /// Seconds a request body may take to arrive after its headers.
    pub body_timeout_secs: u32,
}

/// The forwarding header trusted proxies set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, …` (nginx, HAProxy, most others).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ProxyHeader {
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

impl RateLimit {
    /// Generous for real visitors (one page sends a handful of requests), tight enough to
    /// stop one address from filling the log.
    pub const DEFAULT_PER_SECOND: u32 = 50;
    pub const DEFAULT_BURST: u32 = 200;
    /// As the public API's, but counted apart: the admin page sends a handful of requests
    /// per view, an export is one, and a script may page through thousands of receipts.
    pub const DEFAULT_ADMIN_PER_SECOND: u32 = 50;
    pub const DEFAULT_ADMIN_BURST: u32 = 200;
    /// Browsers open at most 6 connections per host; the rest is for many visitors behind
    /// one (carrier-grade) NAT address.
    pub const DEFAULT_CONNECTIONS_PER_ADDRESS: u32 = 128;
    /// A 16 KiB receipt takes well under a second even on a slow mobile link.
    pub const DEFAULT_BODY_TIMEOUT_SECS: u32 = 10;
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: Self::DEFAULT_PER_SECOND,
            burst: Self::DEFAULT_BURST,
            admin_per_second: Self::DEFAULT_ADMIN_PER_SECOND,
            admin_burst: Self::DEFAULT_ADMIN_BURST,
            trusted_proxies: Vec::new(),
            proxy_header: ProxyHeader::default(),
            connections_per_address: Self::DEFAULT_CONNECTIONS_PER_ADDRESS,
            body_timeout_secs: Self::DEFAULT_BODY_TIMEOUT_SECS,
        }
    }
}

/// One website whose forms the widget guards.
#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    /// Exact origins (`scheme://host[:port]`) whose pages may call the collector.
    pub allowed_origins: Vec<String>,
    /// Languages in the order the site prefers them; the first is not necessarily the default.
    pub languages: Vec<String>,
    pub default_language: String,
    pub retention_days: u32,
    /// Days within which a data subject's erasure request is carried out, counted from the
    /// day it was received.
    pub erasure_deadline_days: u32,
    pub operator: Operator,
    pub policies: Vec<Policy>,
    pub purposes: Vec<Purpose>,
    /// Cookie categories the banner offers, `necessary` first; empty if the site records no
    /// cookie consent.
    pub categories: Vec<Category>,
    /// The cookie banner's settings; `None` exactly when there are no categories.
    pub cookies: Option<Cookies>,
    /// Effective texts per language (built-in defaults merged with the file's overrides).
    pub texts: BTreeMap<String, Texts>,
    /// Index into `policies` of the current policy.
    current: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Operator {
    pub name: String,
    pub bin: String,
    pub address: Option<String>,
    pub contact: Option<String>,
    pub jurisdiction: Option<String>,
}

/// One version of the consent text, in several languages.
#[derive(Debug, Clone)]
pub struct Policy {
    pub version: String,
    pub published: time::Date,
    pub texts: BTreeMap<String, PolicyText>,
}

#[derive(Debug, Clone)]
pub struct PolicyText {
    pub text: String,
    /// Hex SHA-256 of `text`'s exact bytes, as served.
    pub sha256: String,
    /// Written in Markdown (a `.md` file): browsers get it rendered, everyone else the bytes.
    pub markdown: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Purpose {
    pub id: String,
    pub required: bool,
    /// What the visitor's receipt page calls the purpose, per language (`name = { ru = … }`).
    /// Not part of the widget's config document: the widget never shows purposes.
    #[serde(skip)]
    pub names: BTreeMap<String, String>,
}

impl Purpose {
    /// The purpose's name in `lang`, or its id when the file gives none.
    pub fn name(&self, lang: &str) -> &str {
        self.names.get(lang).map_or(&self.id, String::as_str)
    }
}

/// What the widget shows in one language.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Texts {
    /// The exact checkbox label; receipts carry its SHA-256 as `notice.sha256`.
    pub label: String,
    /// Text of the link to the consent text.
    pub link: String,
    /// Shown when a visitor submits without ticking.
    pub error: String,
    /// Text of the "your consent receipt" link.
    pub receipt: String,
    /// Hex SHA-256 of the exact label; stamped into receipts as `notice.sha256`.
    #[serde(skip)]
    pub label_sha256: String,
    /// The cookie banner's texts, when the site has cookie categories (docs/wire.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub cookies: Option<CookieTexts>,
}

impl Texts {
    /// What a receipt of `kind` in this language carries as `notice.sha256`: the hash of the
    /// checkbox label for a form, of the banner text shown for cookies (with the GPC note
    /// when the browser sent GPC). `None` for cookies on a site without a banner.
    pub fn notice_sha256(&self, cookie: bool, gpc: bool) -> Option<&str> {
        if !cookie {
            return Some(&self.label_sha256);
        }
        let banner = self.cookies.as_ref()?;
        Some(&banner.notice_sha256[usize::from(gpc)])
    }
}

/// The site's public config document (`GET /v1/sites/{site}/config`), rendered once.
#[derive(Debug, Clone)]
pub struct PublicView {
    pub json: Vec<u8>,
    pub revision: String,
}

impl Config {
    /// Reads and validates `file`; policy paths are resolved against its directory.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_owned(),
            source,
        })?;
        let base = file.parent().unwrap_or(Path::new("."));
        Config::parse(&text, file, base)
    }

    /// Validates `text` as if read from `file`; policy paths are relative to `base_dir`.
    pub fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |span| line_col(text, span.start));
            ConfigError::Syntax {
                file: file.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        Validator { file, base_dir }.config(raw)
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }
}

impl Site {
    /// A month, when `erasure_deadline_days` is not set.
    pub const DEFAULT_ERASURE_DEADLINE_DAYS: u32 = 30;
    /// Three months: a month, extended by two for complex requests, is the longest that data
    /// protection laws let an erasure request wait.
    pub const MAX_ERASURE_DEADLINE_DAYS: u32 = 90;

    /// What a receipt page in `lang` calls each purpose (`form`) or cookie category
    /// (`cookies`): `(id, name)`, for the ids that have a name in `lang`.
    pub fn choice_names(&self, cookies: bool, lang: &str) -> Vec<(&str, &str)> {
        if cookies {
            self.texts
                .get(lang)
                .and_then(|t| t.cookies.as_ref())
                .map(|c| {
                    c.categories
                        .iter()
                        .map(|(id, name, _)| (id.as_str(), name.as_str()))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            self.purposes
                .iter()
                .filter_map(|p| Some((p.id.as_str(), p.names.get(lang)?.as_str())))
                .collect()
        }
    }

    /// The policy visitors are asked to accept now.
    pub fn current_policy(&self) -> &Policy {
        &self.policies[self.current]
    }

    pub fn policy(&self, version: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.version == version)
    }

    /// Where the consent text of `version` is served, under `base_url`.
    pub fn policy_url(&self, base_url: &str, version: &str) -> String {
        format!("{base_url}/v1/sites/{}/policies/{version}", self.id)
    }

    /// Renders the widget's config document and its `revision`: the first 16 hex digits of
    /// SHA-256 over everything the visitor sees (including the policy texts' hashes).
    pub fn public_view(&self, base_url: &str) -> PublicView {
        let policy = self.current_policy();
        let policy_url = self.policy_url(base_url, &policy.version);
        let mut view = ViewDoc {
            site: &self.id,
            revision: String::new(),
            operator: ViewOperator {
                name: &self.operator.name,
                bin: &self.operator.bin,
            },
            policy: ViewPolicy {
                version: &policy.version,
                url: &policy_url,
            },
            languages: &self.languages,
            default_language: &self.default_language,
            texts: ViewTexts(self),
            purposes: &self.purposes,
            cookies: self.cookies.as_ref().map(|c| ViewCookies {
                revision: &c.revision,
                expiry_days: c.expiry_days,
                gpc_denies: &c.gpc_denies,
                categories: &self.categories,
            }),
        };
        let hashes: BTreeMap<&str, &str> = policy
            .texts
            .iter()
            .map(|(lang, t)| (lang.as_str(), t.sha256.as_str()))
            .collect();
        let basis = serde_json::json!({ "view": &view, "policy_sha256": hashes }).to_string();
        view.revision = sha256_hex(basis.as_bytes())[..16].to_owned();
        // Serialising plain structs of strings cannot fail.
        let json = serde_json::to_vec(&view).unwrap_or_default();
        PublicView {
            json,
            revision: view.revision,
        }
    }
}

/// `GET /v1/sites/{site}/config` (docs/wire.md).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SiteConfig)]
pub struct ViewDoc<'a> {
    site: &'a str,
    /// First 16 hex digits of SHA-256 over everything the visitor sees; also the ETag.
    revision: String,
    operator: ViewOperator<'a>,
    policy: ViewPolicy<'a>,
    languages: &'a [String],
    default_language: &'a str,
    /// Texts per language, in the site's language order.
    #[schema(value_type = std::collections::HashMap<String, Texts>)]
    texts: ViewTexts<'a>,
    purposes: &'a [Purpose],
    /// The cookie banner; `null` when the site has no cookie categories.
    cookies: Option<ViewCookies<'a>>,
}

/// `cookies` of the config document (docs/wire.md).
#[derive(Serialize, utoipa::ToSchema)]
struct ViewCookies<'a> {
    /// First 16 hex digits of SHA-256 over the categories, `gpc_denies` and the file's own
    /// revision: a choice stored under another revision is asked again.
    revision: &'a str,
    /// How long the choice cookie lives.
    expiry_days: u32,
    /// Categories refused while the browser sends Global Privacy Control.
    gpc_denies: &'a [String],
    /// In the banner's order, `necessary` first.
    categories: &'a [Category],
}

#[derive(Serialize, utoipa::ToSchema)]
struct ViewOperator<'a> {
    name: &'a str,
    /// Registration number (BIN in Kazakhstan).
    bin: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ViewPolicy<'a> {
    /// The current policy version, which receipts must name.
    version: &'a str,
    /// Where the consent text is served.
    url: &'a str,
}

/// `texts` in the site's language order (a map would sort them).
struct ViewTexts<'a>(&'a Site);

impl Serialize for ViewTexts<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.languages.len()))?;
        for lang in &self.0.languages {
            if let Some(texts) = self.0.texts.get(lang) {
                map.serialize_entry(lang, texts)?;
            }
        }
        map.end()
    }
}

/// Built-in texts for the languages of the first market; other languages need all four
/// texts in the config file.
fn builtin_texts(lang: &str) -> Option<[&'static str; 4]> {
    match lang {
        "ru" => Some([
            "Я согласен(на) на обработку персональных данных",
            "Текст согласия",
            "Чтобы отправить форму, отметьте согласие на обработку персональных данных.",
            "Квитанция о согласии",
        ]),
        "kk" => Some([
            "Дербес деректерді жинауға және өңдеуге келісемін",
            "Келісім мәтіні",
            "Нысанды жіберу үшін дербес деректерді өңдеуге келісіміңізді белгілеңіз.",
            "Келісім туралы түбіртек",
        ]),
        "en" => Some([
            "I agree to the processing of my personal data",
            "Consent text",
            "To send the form, please tick the consent to the processing of your personal data.",
            "Your consent receipt",
        ]),
        _ => None,
    }
}

// ---- raw file format -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    public_url: Option<String>,
    rate_limit: Option<RawRateLimit>,
    #[serde(default)]
    site: Vec<RawSite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    per_second: Option<u32>,
    burst: Option<u32>,
    admin_per_second: Option<u32>,
    admin_burst: Option<u32>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    proxy_header: Option<String>,
    connections_per_address: Option<u32>,
    body_timeout_secs: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    id: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
    languages: Vec<String>,
    default_language: String,
    current_policy: String,
    retention_days: u32,
    erasure_deadline_days: Option<u32>,
    operator: RawOperator,
    #[serde(default)]
    policy: Vec<RawPolicy>,
    #[serde(default)]
    purpose: Vec<RawPurpose>,
    #[serde(default)]
    category: Vec<cookies::RawCategory>,
    cookies: Option<cookies::RawCookies>,
    #[serde(default)]
    texts: BTreeMap<String, RawTexts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    name: String,
    bin: String,
    address: Option<String>,
    contact: Option<String>,
    jurisdiction: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: String,
    published: String,
    files: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPurpose {
    id: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    name: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTexts {
    label: Option<String>,
    link: Option<String>,
    error: Option<String>,
    receipt: Option<String>,
    cookies: Option<cookies::RawCookieTexts>,
}

// ---- validation ------------------------------------------------------------------------

/// A dotted key path for messages, e.g. `site[demo].policy[2026-03].files.kk`.
struct Key(String);

impl Key {
    fn site(site: &RawSite, index: usize) -> Key {
        if site.id.is_empty() {
            Key(format!("site[#{}]", index + 1))
        } else {
            Key(format!("site[{}]", site.id))
        }
    }
    fn with(&self, child: impl fmt::Display) -> Key {
        Key(format!("{}.{child}", self.0))
    }
}

struct Validator<'a> {
    file: &'a Path,
    base_dir: &'a Path,
}

impl Validator<'_> {
    fn err(&self, key: &Key, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            key: key.0.clone(),
            reason: reason.into(),
        }
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let public_url = match raw.public_url {
            Some(url) => Some(self.public_url(&url)?),
            None => None,
        };
        if raw.site.is_empty() {
            return Err(self.err(
                &Key("site".into()),
                "no site is configured; add a [[site]] table",
            ));
        }
        let rate_limit = match raw.rate_limit {
            Some(r) => self.rate_limit(r)?,
            None => RateLimit::default(),
        };
        let mut seen = HashSet::new();
        let mut sites = Vec::with_capacity(raw.site.len());
        for (index, raw_site) in raw.site.into_iter().enumerate() {
            let key = Key::site(&raw_site, index);
            if !seen.insert(raw_site.id.clone()) {
                return Err(self.err(
                    &key.with("id"),
                    "this site id is used twice; give each [[site]] its own id",
                ));
            }
            sites.push(self.site(raw_site, &key)?);
        }
        Ok(Config {
            file: self.file.to_owned(),
            public_url,
            rate_limit,
            sites,
        })
    }

    fn rate_limit(&self, raw: RawRateLimit) -> Result<RateLimit, ConfigError> {
        let key = Key("rate_limit".into());
        let per_second = raw.per_second.unwrap_or(RateLimit::DEFAULT_PER_SECOND);
        let burst = raw
            .burst
            .unwrap_or(RateLimit::DEFAULT_BURST.max(per_second));
        if per_second == 0 {
            return Err(self.err(
                &key.with("per_second"),
                "must be at least 1; raise it instead of turning the limit off",
            ));
        }
        if burst == 0 {
            return Err(self.err(&key.with("burst"), "must be at least 1"));
        }
        let admin_per_second = raw
            .admin_per_second
            .unwrap_or(RateLimit::DEFAULT_ADMIN_PER_SECOND);
        let admin_burst = raw
            .admin_burst
            .unwrap_or(RateLimit::DEFAULT_ADMIN_BURST.max(admin_per_second));
        let connections_per_address = raw
            .connections_per_address
            .unwrap_or(RateLimit::DEFAULT_CONNECTIONS_PER_ADDRESS);
        for (name, value, least) in [
            ("admin_per_second", admin_per_second, 1),
            ("admin_burst", admin_burst, 1),
            // A browser opens up to 6 connections per host.
            ("connections_per_address", connections_per_address, 8),
        ] {
            if value < least {
                return Err(self.err(&key.with(name), format!("must be at least {least}")));
            }
        }
        let body_timeout_secs = raw
            .body_timeout_secs
            .unwrap_or(RateLimit::DEFAULT_BODY_TIMEOUT_SECS);
        if !(1..=300).contains(&body_timeout_secs) {
            return Err(self.err(
                &key.with("body_timeout_secs"),
                "must be between 1 and 300 seconds",
            ));
        }
        let proxy_header = match raw.proxy_header.as_deref() {
            None => ProxyHeader::default(),
            Some(name) if name.eq_ignore_ascii_case("x-forwarded-for") => {
                ProxyHeader::XForwardedFor
            }
            Some(name) if name.eq_ignore_ascii_case("forwarded") => ProxyHeader::Forwarded,
            Some(other) => {
                return Err(self.err(
                    &key.with("proxy_header"),
                    format!(
                        "`{other}` is not a forwarding header; use \"x-forwarded-for\" or \
                         \"forwarded\", the one your proxy sets"
                    ),
                ));
            }
        };
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, text)| {
                text.parse::<IpAddr>().map_err(|_| {
                    self.err(
                        &key.with(format!("trusted_proxies[{i}]")),
                        format!("`{text}` is not an IP address like 127.0.0.1 or ::1"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(RateLimit {
            per_second,
            burst,
            admin_per_second,
            admin_burst,
            trusted_proxies,
            proxy_header,
            connections_per_address,
            body_timeout_secs,
        })
    }

    fn public_url(&self, url: &str) -> Result<String, ConfigError> {
        let key = Key("public_url".into());
        let trimmed = url.trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))
            .ok_or_else(|| {
                self.err(&key, format!("`{url}` must start with https:// or http://"))
            })?;
        if rest.is_empty() || rest.contains(['?', '#', ' ']) {
            return Err(self.err(
                &key,
                format!("`{url}` must be a base URL like https://consent.example.kz"),
            ));
        }
        Ok(trimmed.to_owned())
    }

    fn site(&self, raw: RawSite, key: &Key) -> Result<Site, ConfigError> {
        if !is_site_id(&raw.id) {
            return Err(self.err(
                &key.with("id"),
                format!(
                    "`{}` is not a valid site id; use 1-64 of a-z, 0-9, '-' and '_'",
                    raw.id
                ),
            ));
        }
        for (i, origin) in raw.allowed_origins.iter().enumerate() {
            if let Err(reason) = check_origin(origin) {
                return Err(self.err(&key.with(format!("allowed_origins[{i}]")), reason));
            }
        }
        let languages = self.languages(&raw, key)?;
        let mut texts = self.texts(&raw, &languages, key)?;
        let purposes = self.choices(&raw.purpose, &languages, key, "purpose")?;
        if purposes.is_empty() {
            return Err(self.err(
                &key.with("purpose"),
                "declare at least one [[site.purpose]]",
            ));
        }
        let banner = cookies::build(
            raw.category,
            raw.cookies,
            &languages,
            |lang| raw.texts.get(lang).and_then(|t| t.cookies.as_ref()),
            is_site_id,
        )
        .map_err(|e| self.err(&key.with(e.key), e.reason))?;
        let (categories, cookies) = match banner {
            Some(banner) => {
                for (lang, banner_texts) in banner.texts {
                    if let Some(t) = texts.get_mut(&lang) {
                        t.cookies = Some(banner_texts);
                    }
                }
                (banner.categories, Some(banner.cookies))
            }
            None => (Vec::new(), None),
        };
        if raw.retention_days == 0 || raw.retention_days > 36_500 {
            return Err(self.err(
                &key.with("retention_days"),
                format!("{} is out of range; use 1..=36500 days", raw.retention_days),
            ));
        }
        let erasure_deadline_days = raw
            .erasure_deadline_days
            .unwrap_or(Site::DEFAULT_ERASURE_DEADLINE_DAYS);
        if !(1..=Site::MAX_ERASURE_DEADLINE_DAYS).contains(&erasure_deadline_days) {
            return Err(self.err(
                &key.with("erasure_deadline_days"),
                format!(
                    "{erasure_deadline_days} is out of range; use 1..={} days (default {}: \
                     a month, the longest a request may wait is three)",
                    Site::MAX_ERASURE_DEADLINE_DAYS,
                    Site::DEFAULT_ERASURE_DEADLINE_DAYS
                ),
            ));
        }
        let operator = self.operator(raw.operator, &key.with("operator"))?;
        let policies = self.policies(raw.policy, &languages, key)?;
        let current = policies
            .iter()
            .position(|p| p.version == raw.current_policy)
            .ok_or_else(|| {
                let known: Vec<_> = policies.iter().map(|p| p.version.as_str()).collect();
                self.err(
                    &key.with("current_policy"),
                    format!(
                        "`{}` is not one of the site's [[site.policy]] versions ({})",
                        raw.current_policy,
                        known.join(", ")
                    ),
                )
            })?;
        let current_texts = &policies[current].texts;
        if let Some(lang) = languages.iter().find(|l| !current_texts.contains_key(*l)) {
            return Err(self.err(
                &key.with(format!("policy[{}].files", raw.current_policy)),
                format!("the current policy has no text for language `{lang}`; add a file for it"),
            ));
        }
        Ok(Site {
            id: raw.id,
            allowed_origins: raw.allowed_origins,
            default_language: raw.default_language,
            languages,
            retention_days: raw.retention_days,
            erasure_deadline_days,
            operator,
            policies,
            purposes,
            categories,
            cookies,
            texts,
            current,
        })
    }

    fn languages(&self, raw: &RawSite, key: &Key) -> Result<Vec<String>, ConfigError> {
        if raw.languages.is_empty() {
            return Err(self.err(
                &key.with("languages"),
                "list at least one language, e.g. [\"ru\", \"kk\"]",
            ));
        }
        let mut seen = HashSet::new();
        for lang in &raw.languages {
            if !is_language(lang) {
                return Err(self.err(
                    &key.with("languages"),
                    format!("`{lang}` is not a language code; use two or three lower-case letters"),
                ));
            }
            if !seen.insert(lang) {
                return Err(self.err(&key.with("languages"), format!("`{lang}` is listed twice")));
            }
        }
        if !raw.languages.contains(&raw.default_language) {
            return Err(self.err(
                &key.with("default_language"),
                format!(
                    "`{}` is not one of the site's languages",
                    raw.default_language
                ),
            ));
        }
        Ok(raw.languages.clone())
    }

    fn texts(
        &self,
        raw: &RawSite,
        languages: &[String],
        key: &Key,
    ) -> Result<BTreeMap<String, Texts>, ConfigError> {
        if let Some(lang) = raw.texts.keys().find(|l| !languages.contains(l)) {
            return Err(self.err(
                &key.with(format!("texts.{lang}")),
                "texts for a language the site does not list in `languages`",
            ));
        }
        let empty = RawTexts::default();
        let mut out = BTreeMap::new();
        for lang in languages {
            let own = raw.texts.get(lang).unwrap_or(&empty);
            let builtin = builtin_texts(lang);
            let pick =
                |i: usize, name: &str, value: &Option<String>| -> Result<String, ConfigError> {
                    let text =
                        match (value, builtin) {
                            (Some(v), _) => v.clone(),
                            (None, Some(b)) => b[i].to_owned(),
                            (None, None) => {
                                return Err(self.err(
                            &key.with(format!("texts.{lang}.{name}")),
                            format!("there is no built-in text for language `{lang}`; set it here"),
                        ));
                            }
                        };
                    if text.trim().is_empty() {
                        return Err(self.err(
                            &key.with(format!("texts.{lang}.{name}")),
                            "must not be empty",
                        ));
                    }
                    Ok(text)
                };
            let label = pick(0, "label", &own.label)?;
            let link = pick(1, "link", &own.link)?;
            let error = pick(2, "error", &own.error)?;
            let receipt = pick(3, "receipt", &own.receipt)?;
            let label_sha256 = sha256_hex(label.as_bytes());
            out.insert(
                lang.clone(),
                Texts {
                    label,
                    link,
                    error,
                    receipt,
                    label_sha256,
                    cookies: None,
                },
            );
        }
        Ok(out)
    }

    /// `[[site.purpose]]` (`what`): plain unique ids, and a name in every site language or
    /// none at all (a receipt page must not mix names and ids).
    fn choices(
        &self,
        raw: &[RawPurpose],
        languages: &[String],
        key: &Key,
        what: &str,
    ) -> Result<Vec<Purpose>, ConfigError> {
        let mut seen = HashSet::new();
        raw.iter()
            .map(|p| {
                if !is_site_id(&p.id) {
                    return Err(self.err(
                        &key.with(format!("{what}[{}].id", p.id)),
                        "use 1-64 of a-z, 0-9, '-' and '_'",
                    ));
                }
                if !seen.insert(&p.id) {
                    return Err(self.err(
                        &key.with(format!("{what}[{}]", p.id)),
                        format!("this {what} id is used twice"),
                    ));
                }
                let name_key = || key.with(format!("{what}[{}].name", p.id));
                if let Some(lang) = p.name.keys().find(|l| !languages.contains(l)) {
                    return Err(self.err(
                        &name_key(),
                        format!("`{lang}` is not one of the site's languages"),
                    ));
                }
                if !p.name.is_empty()
                    && let Some(lang) = languages.iter().find(|l| !p.name.contains_key(*l))
                {
                    return Err(self.err(
                        &name_key(),
                        format!("no name in `{lang}`; name the {what} in every site language"),
                    ));
                }
                if let Some((lang, _)) = p.name.iter().find(|(_, n)| n.trim().is_empty()) {
                    return Err(self.err(&name_key(), format!("the `{lang}` name is empty")));
                }
                Ok(Purpose {
                    id: p.id.clone(),
                    required: p.required,
                    names: p.name.clone(),
                })
            })
            .collect()
    }

    fn operator(&self, raw: RawOperator, key: &Key) -> Result<Operator, ConfigError> {
        if raw.name.trim().is_empty() {
            return Err(self.err(
                &key.with("name"),
                "must name the operator (the legal entity)",
            ));
        }
        if let Some(j) = &raw.jurisdiction
            && !(j.len() == 2 && j.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(self.err(
                &key.with("jurisdiction"),
                format!("`{j}` is not an ISO 3166 country code like KZ"),
            ));
        }
        if raw.jurisdiction.as_deref() == Some("KZ") {
            if !(raw.bin.len() == 12 && raw.bin.bytes().all(|b| b.is_ascii_digit())) {
                return Err(self.err(
                    &key.with("bin"),
                    format!("`{}` is not a 12-digit BIN/IIN", raw.bin),
                ));
            }
            if !is_bin(raw.bin.as_bytes()) {
                return Err(self.err(
                    &key.with("bin"),
                    format!(
                        "`{}` has a wrong check digit (the last digit); copy the BIN from the \
                         registration certificate",
                        raw.bin
                    ),
                ));
            }
        }
        if raw.bin.trim().is_empty() {
            return Err(self.err(
                &key.with("bin"),
                "must give the operator's registration number",
            ));
        }
        Ok(Operator {
            name: raw.name,
            bin: raw.bin,
            address: raw.address,
            contact: raw.contact,
            jurisdiction: raw.jurisdiction,
        })
    }

    fn policies(
        &self,
        raw: Vec<RawPolicy>,
        languages: &[String],
        key: &Key,
    ) -> Result<Vec<Policy>, ConfigError> {
        if raw.is_empty() {
            return Err(self.err(
                &key.with("policy"),
                "declare at least one [[site.policy]] with its text files",
            ));
        }
        let mut seen = HashSet::new();
        let date_format = time::macros::format_description!("[year]-[month]-[day]");
        let mut out = Vec::with_capacity(raw.len());
        for p in raw {
            let pkey = key.with(format!("policy[{}]", p.version));
            if !is_version(&p.version) {
                return Err(self.err(
                    &pkey.with("version"),
                    format!(
                        "`{}` is not a valid version; use 1-64 of A-Z, a-z, 0-9, '.', '-' and '_'",
                        p.version
                    ),
                ));
            }
            if !seen.insert(p.version.clone()) {
                return Err(self.err(&pkey, "this policy version is declared twice"));
            }
            let published = time::Date::parse(&p.published, &date_format).map_err(|_| {
                self.err(
                    &pkey.with("published"),
                    format!("`{}` is not a date like 2026-03-01", p.published),
                )
            })?;
            if p.files.is_empty() {
                return Err(self.err(
                    &pkey.with("files"),
                    "give at least one text file, e.g. { ru = \"policy.ru.md\" }",
                ));
            }
            let mut texts = BTreeMap::new();
            for (lang, rel) in p.files {
                let fkey = pkey.with(format!("files.{lang}"));
                if !languages.contains(&lang) {
                    return Err(self.err(
                        &fkey,
                        "a text for a language the site does not list in `languages`",
                    ));
                }
                let path = self.base_dir.join(&rel);
                let bytes = std::fs::read(&path)
                    .map_err(|e| self.err(&fkey, format!("cannot read {}: {e}", path.display())))?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    self.err(&fkey, format!("{} is not UTF-8 text", path.display()))
                })?;
                if text.trim().is_empty() {
                    return Err(self.err(&fkey, format!("{} is empty", path.display())));
                }
                let sha256 = sha256_hex(text.as_bytes());
                let markdown = rel
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("md") || e == "markdown");
                texts.insert(
                    lang,
                    PolicyText {
                        text,
                        sha256,
                        markdown,
                    },
                );
            }
            out.push(Policy {
                version: p.version,
                published,
                texts,
            });
        }
        Ok(out)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Site, purpose and category ids appear in URLs, receipts and the widget's cookie: keep them
/// plain.
fn is_site_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

/// Whether 12 ASCII digits are a BIN/IIN with a valid check digit, by the official
/// algorithm: the first 11 digits weighted 1..=11, sum mod 11; if that is 10, weighted
/// 3..=11,1,2 instead; a second 10 means no valid number has these digits. The widget's shield
/// applies the same rule to what it redacts (`widget/src/redact.rs`, `is_iin`).
fn is_bin(digits: &[u8]) -> bool {
    if digits.len() != 12 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d = |i: usize| u32::from(digits[i] - b'0');
    let sum = |weight: fn(u32) -> u32| (0..11).map(|i| d(i) * weight(i as u32)).sum::<u32>() % 11;
    match sum(|i| i + 1) {
        10 => match sum(|i| (i + 2) % 11 + 1) {
            10 => false,
            check => check == d(11),
        },
        check => check == d(11),
    }
}

/// Policy versions appear in URLs: no slashes, no spaces.
fn is_version(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// ISO 639 codes as the widget uses them (`ru`, `kk`, `en`).
pub fn is_language(lang: &str) -> bool {
    (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase())
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing more.
fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("`{origin}` must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '*']) {
        return Err(format!(
            "`{origin}` is not an origin; write scheme://host[:port] without a path or trailing slash"
        ));
    }
    if rest.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "`{origin}` must be lower-case, as browsers send it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo")
    }

    fn demo_toml() -> String {
        std::fs::read_to_string(demo_dir().join("kelisim.toml"))
            .expect("demo config is in the repo")
    }

    /// The demo config without its cookie banner (everything from the marker line on).
    fn demo_without_cookies() -> String {
        let text = demo_toml();
        let cut = text
            .find("# ---- Cookie banner")
            .expect("the demo marks its cookie part");
        text[..cut].to_owned()
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("kelisim.toml"), &demo_dir())
    }

    fn invalid(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("config should be refused:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn demo_config_loads_with_builtin_texts_and_policy_hashes() {
        let config = Config::load(&demo_dir().join("kelisim.toml")).expect("demo config is valid");
        let site = config.site("demo").expect("demo site");
        assert_eq!(site.languages, ["ru", "kk", "en"]);
        assert_eq!(site.erasure_deadline_days, 30, "the default deadline");
        assert_eq!(site.current_policy().version, "2026-03");
        let ru = &site.texts["ru"];
        assert_eq!(ru.label, "Я согласен(на) на обработку персональных данных");
        assert_eq!(ru.label_sha256, sha256_hex(ru.label.as_bytes()));
        let text = &site.current_policy().texts["kk"];
        assert_eq!(text.sha256, sha256_hex(text.text.as_bytes()));
        // The policy texts quote the checkbox label verbatim.
        for (lang, t) in &site.current_policy().texts {
            assert!(
                t.text.contains(&site.texts[lang].label),
                "policy {lang} quotes its label"
            );
        }
    }

    #[test]
    fn public_view_keeps_language_order_and_revision_tracks_content() {
        let config = parse(&demo_toml()).expect("valid");
        let site = config.site("demo").expect("demo site");
        let view = site.public_view("http://127.0.0.1:8080");
        let json: serde_json::Value = serde_json::from_slice(&view.json).expect("json");
        assert_eq!(json["revision"], view.revision.as_str());
        assert_eq!(view.revision.len(), 16);
        assert_eq!(
            json["policy"]["url"],
            "http://127.0.0.1:8080/v1/sites/demo/policies/2026-03"
        );
        // serde_json's Map sorts keys: check the order on the text itself.
        let text = String::from_utf8(view.json.clone()).expect("utf8");
        let pos = |lang: &str| {
            text.find(&format!("\"{lang}\":{{\"label\""))
                .expect("language present")
        };
        assert!(pos("ru") < pos("kk") && pos("kk") < pos("en"), "{text}");
        assert_eq!(json["operator"]["bin"], "180940012348");

        let changed = demo_toml().replace(
            "[[site.purpose]]",
            "[site.texts.en]\nlabel = \"I agree\"\n\n[[site.purpose]]",
        );
        let other = parse(&changed).expect("valid");
        let other_view = other.sites[0].public_view("http://127.0.0.1:8080");
        assert_ne!(
            view.revision, other_view.revision,
            "a changed label changes the revision"
        );
        assert_ne!(
            view.revision,
            site.public_view("https://c.example.kz").revision
        );
        assert_eq!(
            view.revision,
            site.public_view("http://127.0.0.1:8080").revision
        );
    }

    #[test]
    fn errors_name_file_key_and_reason() {
        let cases = [
            (
                demo_toml().replace(
                    "current_policy = \"2026-03\"",
                    "current_policy = \"2027-01\"",
                ),
                "kelisim.toml: `site[demo].current_policy`: `2027-01` is not one of the site's [[site.policy]] versions (2026-03)",
            ),
            (
                demo_toml().replace("default_language = \"ru\"", "default_language = \"de\""),
                "kelisim.toml: `site[demo].default_language`: `de` is not one of the site's languages",
            ),
            (
                demo_toml().replace("\"http://localhost:8080\"", "\"http://localhost:8080/\""),
                "kelisim.toml: `site[demo].allowed_origins[1]`: `http://localhost:8080/` is not an origin; write scheme://host[:port] without a path or trailing slash",
            ),
            (
                demo_toml().replace("consent-2026-03.kk.md", "missing.kk.md"),
                "kelisim.toml: `site[demo].policy[2026-03].files.kk`: cannot read",
            ),
            (
                demo_toml().replace(
                    "languages = [\"ru\", \"kk\", \"en\"]",
                    "languages = [\"ru\", \"kk\", \"en\", \"uz\"]",
                ),
                "kelisim.toml: `site[demo].texts.uz.label`: there is no built-in text for language `uz`; set it here",
            ),
            (
                demo_toml().replace("bin = \"180940012348\"", "bin = \"1809\""),
                "kelisim.toml: `site[demo].operator.bin`: `1809` is not a 12-digit BIN/IIN",
            ),
            (
                demo_toml().replace("bin = \"180940012348\"", "bin = \"180940012345\""),
                "kelisim.toml: `site[demo].operator.bin`: `180940012345` has a wrong check digit",
            ),
            (
                demo_toml().replace("en = \"Replies to your request\"", ""),
                "kelisim.toml: `site[demo].purpose[feedback].name`: no name in `en`; name the purpose in every site language",
            ),
            (
                demo_toml().replace(
                    "en = \"Replies to your request\"",
                    "en = \"Replies to your request\", uz = \"Javob\"",
                ),
                "kelisim.toml: `site[demo].purpose[feedback].name`: `uz` is not one of the site's languages",
            ),
            (
                demo_toml().replace("retention_days = 1095", "retention_days = 0"),
                "kelisim.toml: `site[demo].retention_days`: 0 is out of range; use 1..=36500 days",
            ),
            (
                demo_toml().replace(
                    "retention_days = 1095",
                    "retention_days = 1095\nerasure_deadline_days = 0",
                ),
                "kelisim.toml: `site[demo].erasure_deadline_days`: 0 is out of range; use 1..=90 days (default 30",
            ),
            (
                demo_toml().replace(
                    "retention_days = 1095",
                    "retention_days = 1095\nerasure_deadline_days = 91",
                ),
                "kelisim.toml: `site[demo].erasure_deadline_days`: 91 is out of range; use 1..=90 days",
            ),
            (
                format!("{}\n{}", demo_toml(), demo_toml()),
                "kelisim.toml: `site[demo].id`: this site id is used twice",
            ),
        ];
        for (text, want) in cases {
            let got = invalid(&text);
            assert!(got.starts_with(want), "got: {got}\nwant prefix: {want}");
        }
    }

    #[test]
    fn the_erasure_deadline_is_read_when_set() {
        let text = demo_toml().replace(
            "retention_days = 1095",
            "retention_days = 1095\nerasure_deadline_days = 10",
        );
        let config = parse(&text).expect("valid");
        assert_eq!(config.site("demo").expect("demo").erasure_deadline_days, 10);
    }

    #[test]
    fn unknown_keys_are_syntax_errors_with_position() {
        let text = demo_toml().replace(
            "retention_days = 1095",
            "retention_days = 1095\ncolour = \"red\"",
        );
        let line = 2 + demo_toml()
            .lines()
            .position(|l| l.starts_with("retention_days = 1095"))
            .expect("the demo sets retention_days");
        let got = invalid(&text);
        assert!(
            got.starts_with(&format!("kelisim.toml:{line}:1: unknown field `colour`")),
            "{got}"
        );
        let got = invalid("[[site]\nid = 1");
        assert!(got.starts_with("kelisim.toml:1:"), "{got}");
    }

    #[test]
    fn current_policy_must_cover_every_language() {
        let text = demo_toml().replace(", en = \"policies/consent-2026-03.en.md\"", "");
        let got = invalid(&text);
        assert!(
            got.contains("`site[demo].policy[2026-03].files`: the current policy has no text for language `en`"),
            "{got}"
        );
    }

    #[test]
    fn rate_limit_and_categories_are_validated() {
        let config = parse(&demo_toml()).expect("valid");
        assert_eq!(config.rate_limit, RateLimit::default());
        let text = format!(
            "[rate_limit]\nper_second = 5000\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n{}",
            demo_toml()
        );
        let config = parse(&text).expect("valid");
        assert_eq!(
            (config.rate_limit.per_second, config.rate_limit.burst),
            (5000, 5000),
            "burst defaults to at least the rate"
        );
        assert_eq!(config.rate_limit.trusted_proxies.len(), 2);
        let bad = format!("[rate_limit]\nper_second = 0\n{}", demo_toml());
        assert!(
            invalid(&bad).starts_with("kelisim.toml: `rate_limit.per_second`: must be at least 1"),
            "{}",
            invalid(&bad)
        );
        let text = format!(
            "[rate_limit]\nproxy_header = \"Forwarded\"\nadmin_per_second = 3\n\
             connections_per_address = 16\nbody_timeout_secs = 2\n{}",
            demo_toml()
        );
        let limits = parse(&text).expect("valid").rate_limit;
        assert_eq!(limits.proxy_header, ProxyHeader::Forwarded);
        assert_eq!((limits.admin_per_second, limits.admin_burst), (3, 200));
        assert_eq!(
            (limits.connections_per_address, limits.body_timeout_secs),
            (16, 2)
        );
        for (line, want) in [
            (
                "proxy_header = \"x-real-ip\"",
                "`rate_limit.proxy_header`: `x-real-ip` is not a forwarding header",
            ),
            (
                "connections_per_address = 2",
                "`rate_limit.connections_per_address`: must be at least 8",
            ),
            (
                "body_timeout_secs = 0",
                "`rate_limit.body_timeout_secs`: must be between 1 and 300",
            ),
        ] {
            let bad = format!("[rate_limit]\n{line}\n{}", demo_toml());
            assert!(invalid(&bad).contains(want), "{}", invalid(&bad));
        }
        let bad = format!(
            "[rate_limit]\ntrusted_proxies = [\"proxy\"]\n{}",
            demo_toml()
        );
        assert!(
            invalid(&bad).starts_with(
                "kelisim.toml: `rate_limit.trusted_proxies[0]`: `proxy` is not an IP address"
            ),
            "{}",
            invalid(&bad)
        );

        let with_categories = format!(
            "{}\n[[site.category]]\nid = \"necessary\"\nrequired = true\n\n[[site.category]]\nid = \"analytics\"\n",
            demo_without_cookies()
        );
        let config = parse(&with_categories).expect("valid");
        let ids: Vec<(&str, bool)> = config.sites[0]
            .categories
            .iter()
            .map(|c| (c.id.as_str(), c.required))
            .collect();
        assert_eq!(ids, [("necessary", true), ("analytics", false)]);
        let view: serde_json::Value =
            serde_json::from_slice(&config.sites[0].public_view("http://x").json).expect("json");
        assert_eq!(
            view["cookies"]["categories"],
            serde_json::json!([{"id": "necessary", "required": true, "services": []},
                               {"id": "analytics", "required": false, "services": []}])
        );
        let twice = format!("{with_categories}\n[[site.category]]\nid = \"analytics\"\n");
        assert!(
            invalid(&twice).starts_with(
                "kelisim.toml: `site[demo].category[analytics]`: this category id is used twice"
            ),
            "{}",
            invalid(&twice)
        );
    }

    #[test]
    fn public_url_is_normalised() {
        let text = format!(
            "public_url = \"https://consent.example.kz/\"\n{}",
            demo_toml()
        );
        let config = parse(&text).expect("valid");
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://consent.example.kz")
        );
        let text = format!("public_url = \"consent.example.kz\"\n{}", demo_toml());
        assert!(invalid(&text).contains("`public_url`: `consent.example.kz` must start with"));
    }

    #[test]
    fn the_demo_serves_its_cookie_banner_in_every_language() {
        let config = parse(&demo_toml()).expect("valid");
        let site = &config.sites[0];
        let view: serde_json::Value =
            serde_json::from_slice(&site.public_view("http://x").json).expect("json");
        let cookies = &view["cookies"];
        assert_eq!(cookies["revision"].as_str().map(str::len), Some(16));
        assert_eq!(cookies["expiry_days"], 182);
        assert_eq!(cookies["gpc_denies"], serde_json::json!(["marketing"]));
        let ids: Vec<&str> = site.categories.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["necessary", "analytics", "marketing", "session_recording"]
        );
        assert!(
            view.get("categories").is_none(),
            "categories live in `cookies`"
        );
        for lang in ["ru", "kk", "en"] {
            let texts = &view["texts"][lang]["cookies"];
            for key in cookies::TEXT_KEYS {
                assert!(
                    texts[key].as_str().is_some_and(|t| !t.is_empty()),
                    "{lang}.{key}"
                );
            }
            for id in &ids {
                assert!(texts["categories"][id]["name"].is_string(), "{lang} {id}");
                assert!(texts["categories"][id]["description"].is_string());
            }
        }
        // The site's own texts for its own category, the built-in ones for the rest.
        assert_eq!(
            view["texts"]["en"]["cookies"]["categories"]["session_recording"]["name"],
            "Session recording (Webvisor)"
        );
        assert_eq!(
            view["texts"]["ru"]["cookies"]["gpc_note"],
            "Ваш браузер передаёт сигнал Global Privacy Control, поэтому эти категории \
             останутся выключенными, даже если вы примете все: «Маркетинг». Включить их можно \
             в настройках."
        );
        // The categories' texts come in the banner's order, not sorted.
        let text = String::from_utf8(site.public_view("http://x").json).expect("utf8");
        let at = |s: &str| text.find(s).expect("present");
        assert!(at("\"necessary\":{\"name\"") < at("\"analytics\":{\"name\""));
        assert!(at("\"marketing\":{\"name\"") < at("\"session_recording\":{\"name\""));
    }

    #[test]
    fn a_site_without_categories_has_no_banner() {
        let config = parse(&demo_without_cookies()).expect("valid");
        let view: serde_json::Value =
            serde_json::from_slice(&config.sites[0].public_view("http://x").json).expect("json");
        assert_eq!(view["cookies"], serde_json::Value::Null);
        assert!(view["texts"]["ru"].get("cookies").is_none());
        assert!(
            config.sites[0].texts["ru"]
                .notice_sha256(true, false)
                .is_none(),
            "no cookie notice without a banner"
        );
    }

    #[test]
    fn the_cookie_revision_changes_with_what_the_visitor_chooses_about() {
        let revision = |text: &str| {
            let config = parse(text).expect("valid");
            config.sites[0].cookies.clone().expect("a banner").revision
        };
        let demo = revision(&demo_toml());
        let more_services = demo_toml().replace(
            "services = [\"Kelisim\"]",
            "services = [\"Kelisim\", \"Cloudflare\"]",
        );
        assert_ne!(demo, revision(&more_services), "a new service asks again");
        let bumped =
            demo_toml().replace("expiry_days = 182", "expiry_days = 182\nrevision = \"2\"");
        assert_ne!(demo, revision(&bumped), "the operator may ask again");
        let gpc = demo_toml().replace(
            "gpc_denies = [\"marketing\"]",
            "gpc_denies = [\"marketing\", \"analytics\"]",
        );
        assert_ne!(demo, revision(&gpc));
        let reworded = demo_toml().replace(
            "name = \"Session recording (Webvisor)\"",
            "name = \"Session recordings (Webvisor)\"",
        );
        assert_eq!(
            demo,
            revision(&reworded),
            "a reworded text does not ask again"
        );
        let longer = demo_toml().replace("expiry_days = 182", "expiry_days = 365");
        assert_eq!(demo, revision(&longer));
    }

    #[test]
    fn the_cookie_notice_hash_covers_the_banner_text_shown() {
        let config = parse(&demo_toml()).expect("valid");
        let site = &config.sites[0];
        let en = site.texts["en"].cookies.as_ref().expect("en banner");
        let mut lines = vec![en.texts[0].clone(), en.texts[1].clone()];
        for (category, (_, name, description)) in site.categories.iter().zip(&en.categories) {
            lines.push(name.clone());
            lines.push(description.clone());
            if !category.services.is_empty() {
                lines.push(format!("Services: {}", category.services.join(", ")));
            }
        }
        let without_gpc = lines.join("\n");
        assert!(without_gpc.contains("\nServices: Яндекс Метрика, Google Analytics 4\n"));
        assert_eq!(
            site.texts["en"].notice_sha256(true, false),
            Some(sha256_hex(without_gpc.as_bytes()).as_str())
        );
        lines.insert(2, en.texts[8].clone());
        assert_eq!(
            site.texts["en"].notice_sha256(true, true),
            Some(sha256_hex(lines.join("\n").as_bytes()).as_str()),
            "with GPC the note is part of what was shown"
        );
        assert_eq!(
            site.texts["en"].notice_sha256(false, true),
            Some(site.texts["en"].label_sha256.as_str()),
            "forms keep the label's hash"
        );
    }

    #[test]
    fn cookie_settings_errors_name_file_key_and_reason() {
        let base = demo_without_cookies();
        let cases = [
            (
                format!("{base}\n[[site.category]]\nid = \"Analytics\"\n"),
                "kelisim.toml: `site[demo].category[Analytics].id`: use 1-64 of a-z, 0-9, '-' and '_'",
            ),
            (
                format!(
                    "{base}\n[[site.category]]\nid = \"analytics\"\n[[site.category]]\nid = \"necessary\"\nrequired = true\n"
                ),
                "kelisim.toml: `site[demo].category[necessary]`: `necessary` is always the first category",
            ),
            (
                format!("{base}\n[[site.category]]\nid = \"surveys\"\n"),
                "kelisim.toml: `site[demo].texts.ru.cookies.categories.surveys.name`: category `surveys` has no built-in name in `ru`; set it here, for every language",
            ),
            (
                format!(
                    "{base}\n[[site.category]]\nid = \"analytics\"\n[site.cookies]\ngpc_denies = [\"ads\"]\n"
                ),
                "kelisim.toml: `site[demo].cookies.gpc_denies`: `ads` is not one of the site's [[site.category]] ids",
            ),
            (
                format!(
                    "{base}\n[[site.category]]\nid = \"analytics\"\n[site.cookies]\ngpc_denies = [\"necessary\"]\n"
                ),
                "kelisim.toml: `site[demo].cookies.gpc_denies`: `necessary` is required and cannot be refused",
            ),
            (
                format!(
                    "{base}\n[[site.category]]\nid = \"analytics\"\n[site.cookies]\nexpiry_days = 800\n"
                ),
                "kelisim.toml: `site[demo].cookies.expiry_days`: 800 is out of range; use 1..=400 days",
            ),
            (
                format!("{base}\n[site.cookies]\nexpiry_days = 30\n"),
                "kelisim.toml: `site[demo].cookies`: cookie settings without any [[site.category]]",
            ),
            (
                format!(
                    "{base}\n[[site.category]]\nid = \"analytics\"\n[site.texts.en.cookies.categories.ads]\nname = \"Ads\"\n"
                ),
                "kelisim.toml: `site[demo].texts.en.cookies.categories.ads`: texts for a category the site does not have",
            ),
            (
                format!(
                    "{base}\n[[site.category]]\nid = \"analytics\"\n[site.texts.kk.cookies]\ntitle = \" \"\n"
                ),
                "kelisim.toml: `site[demo].texts.kk.cookies.title`: must not be empty",
            ),
            (
                format!("{base}\n[[site.category]]\nid = \"analytics\"\nservices = [\"\"]\n"),
                "kelisim.toml: `site[demo].category[analytics].services`: \"\" is not a service name",
            ),
        ];
        for (text, want) in cases {
            let got = invalid(&text);
            assert!(got.starts_with(want), "got: {got}\nwant prefix: {want}");
        }
        // A language without built-in texts needs every banner text of its own.
        let uz = base
            .replace("languages = [\"ru\", \"kk\", \"en\"]", "languages = [\"ru\", \"kk\", \"en\", \"uz\"]")
            .replace("[[site.purpose]]", "[site.texts.uz]\nlabel = \"Roziman\"\nlink = \"Matn\"\nerror = \"Belgilang\"\nreceipt = \"Kvitansiya\"\n\n[[site.purpose]]")
            .replace("en = \"Replies to your request\"", "en = \"Replies to your request\", uz = \"Javob\"");
        let got = invalid(&format!("{uz}\n[[site.category]]\nid = \"analytics\"\n"));
        assert!(
            got.starts_with(
                "kelisim.toml: `site[demo].texts.uz.cookies.categories.necessary.name`: \
                 category `necessary` has no built-in name in `uz`"
            ),
            "{got}"
        );
    }

    #[test]
    fn necessary_is_added_first_and_marketing_is_refused_for_gpc_by_default() {
        let text = format!(
            "{}\n[[site.category]]\nid = \"analytics\"\n\n[[site.category]]\nid = \"marketing\"\n",
            demo_without_cookies()
        );
        let config = parse(&text).expect("valid");
        let site = &config.sites[0];
        let ids: Vec<(&str, bool)> = site
            .categories
            .iter()
            .map(|c| (c.id.as_str(), c.required))
            .collect();
        assert_eq!(
            ids,
            [
                ("necessary", true),
                ("analytics", false),
                ("marketing", false)
            ]
        );
        let cookies = site.cookies.as_ref().expect("banner");
        assert_eq!(cookies.gpc_denies, ["marketing"]);
        assert_eq!(cookies.expiry_days, 182);
        let only_analytics = format!(
            "{}\n[[site.category]]\nid = \"analytics\"\n",
            demo_without_cookies()
        );
        let config = parse(&only_analytics).expect("valid");
        let cookies = config.sites[0].cookies.as_ref().expect("banner");
        assert!(
            cookies.gpc_denies.is_empty(),
            "no marketing, nothing to refuse"
        );
        assert_eq!(
            config.sites[0].texts["en"].notice_sha256(true, true),
            config.sites[0].texts["en"].notice_sha256(true, false),
            "no GPC note is shown when GPC refuses nothing"
        );
    }

    /// The widget tests against `tests/fixtures/wire/config_cookies.json`: the document the
    /// collector serves for the demo has exactly its shape (keys and types, in every language).
    #[test]
    fn the_served_config_has_the_shape_of_the_wire_fixture() {
        fn shape(v: &serde_json::Value) -> serde_json::Value {
            use serde_json::Value;
            match v {
                Value::Object(map) => {
                    Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
                }
                Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
                Value::String(_) => Value::String(String::new()),
                Value::Number(_) => Value::from(0),
                other => other.clone(),
            }
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/wire/config_cookies.json");
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
        let config = parse(&demo_toml()).expect("valid");
        let served: serde_json::Value =
            serde_json::from_slice(&config.sites[0].public_view("http://x").json).expect("json");
        assert_eq!(shape(&served), shape(&fixture));
        let ids = |doc: &serde_json::Value| {
            doc["cookies"]["categories"]
                .as_array()
                .map(|list| list.iter().map(|c| c["id"].clone()).collect::<Vec<_>>())
        };
        assert_eq!(ids(&served), ids(&fixture));
    }
}
