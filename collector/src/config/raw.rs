//! The site configuration as written: serde structs that mirror the TOML file
//! (`deny_unknown_fields`, so a typo is an error rather than a silently missing setting),
//! and the syntax of its values (site ids, BINs, versions, languages, origins).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::config::cookies;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) public_url: Option<String>,
    pub(super) rate_limit: Option<RawRateLimit>,
    pub(super) log: Option<RawLog>,
    pub(super) witness: Option<RawWitness>,
    pub(super) store: Option<RawStore>,
    #[serde(default)]
    pub(super) site: Vec<RawSite>,
}

/// `[store]`: which backend holds the receipts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) backend: String,
    pub(super) url: Option<String>,
}

/// `[log]`: this collector's transparency log and the witnesses it asks to cosign.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    #[serde(default)]
    pub(super) witness: Vec<RawLogWitness>,
    pub(super) witness_interval_secs: Option<u32>,
}

/// `[[log.witness]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogWitness {
    pub(super) url: String,
    pub(super) key: String,
}

/// `[witness]`: this collector cosigns other logs' checkpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWitness {
    pub(super) name: String,
    #[serde(default)]
    pub(super) log: Vec<RawFollowedLog>,
}

/// `[[witness.log]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFollowedLog {
    pub(super) origin: String,
    pub(super) keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    pub(super) per_second: Option<u32>,
    pub(super) burst: Option<u32>,
    pub(super) admin_per_second: Option<u32>,
    pub(super) admin_burst: Option<u32>,
    #[serde(default)]
    pub(super) trusted_proxies: Vec<String>,
    pub(super) proxy_header: Option<String>,
    pub(super) connections_per_address: Option<u32>,
    pub(super) body_timeout_secs: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub(super) id: String,
    #[serde(default)]
    pub(super) allowed_origins: Vec<String>,
    pub(super) languages: Vec<String>,
    pub(super) default_language: String,
    pub(super) current_policy: String,
    pub(super) retention_days: u32,
    pub(super) erasure_deadline_days: Option<u32>,
    pub(super) erase_on_withdrawal: Option<bool>,
    pub(super) time_zone: Option<String>,
    pub(super) operator: RawOperator,
    pub(super) data: Option<RawData>,
    #[serde(default)]
    pub(super) policy: Vec<RawPolicy>,
    #[serde(default)]
    pub(super) purpose: Vec<RawPurpose>,
    #[serde(default)]
    pub(super) category: Vec<cookies::RawCategory>,
    pub(super) cookies: Option<cookies::RawCookies>,
    #[serde(default)]
    pub(super) texts: BTreeMap<String, RawTexts>,
}

/// The file's `[site.data]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawData {
    pub(super) collected: Option<Vec<String>>,
    pub(super) recipients: Option<Vec<String>>,
    pub(super) cross_border: Option<Vec<String>>,
    pub(super) public: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOperator {
    pub(super) name: String,
    pub(super) bin: String,
    pub(super) address: Option<String>,
    pub(super) contact: Option<String>,
    pub(super) jurisdiction: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) version: String,
    pub(super) published: String,
    pub(super) files: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPurpose {
    pub(super) id: String,
    #[serde(default)]
    pub(super) required: bool,
    #[serde(default)]
    pub(super) name: BTreeMap<String, String>,
    /// An optional purpose's box text per language (a required one has the consent box's).
    #[serde(default)]
    pub(super) label: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTexts {
    pub(super) label: Option<String>,
    pub(super) link: Option<String>,
    pub(super) error: Option<String>,
    pub(super) receipt: Option<String>,
    pub(super) cookies: Option<cookies::RawCookieTexts>,
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Site, purpose and category ids appear in URLs, receipts and the widget's cookie: keep them
/// plain.
pub(super) fn is_site_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

/// Whether 12 ASCII digits are a BIN/IIN with a valid check digit, by the official
/// algorithm: the first 11 digits weighted 1..=11, sum mod 11; if that is 10, weighted
/// 3..=11,1,2 instead; a second 10 means no valid number has these digits. The widget's shield
/// applies the same rule to what it redacts (`widget/src/redact.rs`, `is_iin`).
pub(super) fn is_bin(digits: &[u8]) -> bool {
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
pub(super) fn is_version(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// ISO 639 codes as the widget uses them (`ru`, `kk`, `en`).
pub fn is_language(lang: &str) -> bool {
    (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase())
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing more.
pub(super) fn check_origin(origin: &str) -> Result<(), String> {
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
