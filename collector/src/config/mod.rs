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
//! erase_on_withdrawal = false               # optional: a subject's withdrawal also requests erasure
//! time_zone = "Asia/Almaty"                 # optional (the default): the analytics' days
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

mod cookie_texts;
pub mod cookies;
mod data;
mod purposes;
mod raw;
mod store;
mod validate;
mod witness;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::cookies::{CookieTexts, Cookies};
use crate::hash::sha256_hex;
pub use store::{StoreConfig, redact_url};
pub use witness::{DEFAULT_WITNESS_INTERVAL, LogConfig, LogWitness, WitnessConfig};

pub use crate::config::cookies::Category;
pub use data::DataUse;

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
    /// `[log]`: the witnesses this collector's log asks to cosign.
    pub log: LogConfig,
    /// `[witness]`: the logs this collector cosigns, if it is a witness.
    pub witness: Option<WitnessConfig>,
    /// `[store]`: SQLite in the data directory, or a PostgreSQL database.
    pub store: StoreConfig,
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
    /// An admin's withdrawal of a data subject's consents also records an erasure request of
    /// their identifiers, due `erasure_deadline_days` later: for an operator whose consent text
    /// promises deletion after a withdrawal (docs/compliance.md, P21).
    pub erase_on_withdrawal: bool,
    /// The site's time zone (IANA name): the admin's analytics count days and weeks in it.
    pub time_zone: jiff::tz::TimeZone,
    pub operator: Operator,
    /// `[site.data]`: what the forms collect and where it goes.
    pub data: DataUse,
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
    /// An optional purpose's own box on every guarded form: its exact text per language
    /// (`label = { ru = … }`), shown unticked. Absent for required purposes, which the consent
    /// box covers together.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Option<std::collections::HashMap<String, String>>)]
    pub label: BTreeMap<String, String>,
    /// What the visitor's receipt page calls the purpose, per language (`name = { ru = … }`).
    /// Not part of the widget's config document.
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
    /// Kazakhstan's time zone since 1 March 2024 (UTC+5, no daylight saving).
    pub const DEFAULT_TIME_ZONE: &'static str = "Asia/Almaty";

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

pub use raw::is_language;
use raw::{RawConfig, line_col};
use validate::Validator;

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
        // The optional purpose carries its box's texts; the required one, covered by the
        // consent box, none. Names are for the receipt page only.
        assert_eq!(
            json["purposes"],
            serde_json::json!([
                { "id": "feedback", "required": true },
                { "id": "news", "required": false, "label": {
                    "en": "I agree to receive news and special offers by e-mail and SMS",
                    "kk": "Жаңалықтар мен арнайы ұсыныстарды e-mail және SMS арқылы алуға келісемін",
                    "ru": "Согласен(на) получать новости и специальные предложения по e-mail и SMS",
                } },
            ])
        );

        let changed = demo_toml().replacen(
            "[[site.purpose]]",
            "[site.texts.en]\nlabel = \"I agree\"\n\n[[site.purpose]]",
            1,
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
                demo_toml().replace(
                    ", en = \"I agree to receive news and special offers by e-mail and SMS\"",
                    "",
                ),
                "kelisim.toml: `site[demo].purpose[news].label`: no text in `en`: an optional purpose gets its own unticked box on the form",
            ),
            (
                demo_toml().replace(
                    "required = true\nname = {",
                    "required = true\nlabel = { ru = \"Да\", kk = \"Иә\", en = \"Yes\" }\nname = {",
                ),
                "kelisim.toml: `site[demo].purpose[feedback].label`: a required purpose is agreed to with the consent box",
            ),
            (
                demo_toml().replace(
                    "en = \"I agree to receive news and special offers by e-mail and SMS\"",
                    "en = \" \"",
                ),
                "kelisim.toml: `site[demo].purpose[news].label`: the `en` text is empty",
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
                demo_toml().replace(
                    "retention_days = 1095",
                    "retention_days = 1095\ntime_zone = \"Almaty\"",
                ),
                "kelisim.toml: `site[demo].time_zone`: `Almaty` is not an IANA time zone name; write it as Area/City",
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
    fn the_time_zone_defaults_to_almaty_and_is_read_when_set() {
        let site_zone = |text: &str| {
            let config = parse(text).expect("valid");
            let zone = config.site("demo").expect("demo").time_zone.clone();
            zone.iana_name().expect("an IANA zone").to_owned()
        };
        assert_eq!(site_zone(&demo_toml()), "Asia/Almaty");
        let text = demo_toml().replace(
            "retention_days = 1095",
            "retention_days = 1095\ntime_zone = \"Europe/Berlin\"",
        );
        assert_eq!(site_zone(&text), "Europe/Berlin");
    }

    #[test]
    fn data_use_is_validated_with_its_key() {
        let demo = parse(&demo_toml()).expect("valid");
        let data = &demo.site("demo").expect("demo").data;
        assert_eq!(data.cross_border.as_deref(), Some(&[][..]));
        assert_eq!(data.public, Some(false));
        assert!(
            data.collected
                .as_ref()
                .is_some_and(|c| c.contains(&"phone".to_owned()))
        );
        for (from, to, says) in [
            (
                "cross_border = []",
                "cross_border = [\"KZ\"]",
                "`site[demo].data.cross_border`: `KZ` is not the ISO 3166 code of another country",
            ),
            (
                "cross_border = []",
                "cross_border = [\"Russia\"]",
                "`site[demo].data.cross_border`: `Russia` is not the ISO 3166 code",
            ),
            (
                "collected = [\"name\", ",
                "collected = [\"name\", \"name\", ",
                "`site[demo].data.collected`: entry 2 is empty or repeated",
            ),
            (
                "recipients = [",
                "recipients = [\" \", ",
                "`site[demo].data.recipients`: entry 1 is empty or repeated",
            ),
        ] {
            let text = demo_toml().replace(from, to);
            assert_ne!(text, demo_toml(), "{from}");
            let got = invalid(&text);
            assert!(got.contains(says), "{got}");
        }
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
            .replacen("[[site.purpose]]", "[site.texts.uz]\nlabel = \"Roziman\"\nlink = \"Matn\"\nerror = \"Belgilang\"\nreceipt = \"Kvitansiya\"\n\n[[site.purpose]]", 1)
            .replace("en = \"Replies to your request\"", "en = \"Replies to your request\", uz = \"Javob\"")
            .replace("en = \"News and offers by e-mail and SMS\"", "en = \"News and offers by e-mail and SMS\", uz = \"Yangiliklar\"")
            .replace("en = \"I agree to receive news and special offers by e-mail and SMS\"", "en = \"I agree to receive news and special offers by e-mail and SMS\", uz = \"Yangiliklar olishga roziman\"");
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
