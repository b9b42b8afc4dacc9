//! Validation: the raw file turned into the validated [`Config`], every error naming the
//! file, the key (`site[demo].policy[2026-03].files.kk`) and the reason.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use super::raw::*;
use super::*;
use crate::hash::sha256_hex;

/// A dotted key path for messages, e.g. `site[demo].policy[2026-03].files.kk`.
pub(super) struct Key(String);

impl Key {
    /// A top-level table's key, e.g. `log`.
    pub(super) fn named(name: &str) -> Key {
        Key(name.to_owned())
    }

    pub(super) fn site(site: &RawSite, index: usize) -> Key {
        if site.id.is_empty() {
            Key(format!("site[#{}]", index + 1))
        } else {
            Key(format!("site[{}]", site.id))
        }
    }
    pub(super) fn with(&self, child: impl fmt::Display) -> Key {
        Key(format!("{}.{child}", self.0))
    }
}

pub(super) struct Validator<'a> {
    pub(super) file: &'a Path,
    pub(super) base_dir: &'a Path,
}

impl Validator<'_> {
    pub(super) fn err(&self, key: &Key, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            key: key.0.clone(),
            reason: reason.into(),
        }
    }

    pub(super) fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
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
        let log = self.log(raw.log)?;
        let witness = self.witness(raw.witness)?;
        let store = self.store(raw.store)?;
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
            log,
            witness,
            store,
            sites,
        })
    }

    pub(super) fn rate_limit(&self, raw: RawRateLimit) -> Result<RateLimit, ConfigError> {
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

    pub(super) fn public_url(&self, url: &str) -> Result<String, ConfigError> {
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

    pub(super) fn site(&self, raw: RawSite, key: &Key) -> Result<Site, ConfigError> {
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
        let time_zone = self.time_zone(raw.time_zone.as_deref(), key)?;
        let operator = self.operator(raw.operator, &key.with("operator"))?;
        let data = self.data(raw.data, &key.with("data"))?;
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
            erase_on_withdrawal: raw.erase_on_withdrawal.unwrap_or(false),
            time_zone,
            operator,
            data,
            policies,
            purposes,
            categories,
            cookies,
            texts,
            current,
        })
    }

    /// The site's time zone: an IANA name from the bundled tz database.
    pub(super) fn time_zone(
        &self,
        name: Option<&str>,
        key: &Key,
    ) -> Result<jiff::tz::TimeZone, ConfigError> {
        let name = name.unwrap_or(Site::DEFAULT_TIME_ZONE);
        jiff::tz::db().get(name).map_err(|_| {
            self.err(
                &key.with("time_zone"),
                format!(
                    "`{name}` is not an IANA time zone name; write it as Area/City, e.g. \
                     \"Asia/Almaty\" (the default) or \"Asia/Aqtobe\""
                ),
            )
        })
    }

    pub(super) fn languages(&self, raw: &RawSite, key: &Key) -> Result<Vec<String>, ConfigError> {
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

    pub(super) fn texts(
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

    pub(super) fn operator(&self, raw: RawOperator, key: &Key) -> Result<Operator, ConfigError> {
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

    pub(super) fn policies(
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
