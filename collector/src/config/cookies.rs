//! The cookie banner's part of a site's configuration: the categories (with the services in
//! each), Global Privacy Control, how long a choice is kept, the banner's texts (Kazakh,
//! Russian and English built in, overridable per site), the `revision` that decides when a
//! visitor is asked again, and the exact banner text whose SHA-256 a cookie receipt carries.
//!
//! ```toml
//! [site.cookies]                      # optional
//! expiry_days = 182                   # how long the choice cookie lives (1-400)
//! gpc_denies = ["marketing"]          # refused when the browser sends Global Privacy Control
//! revision = "1"                      # change it to ask every visitor again
//! [[site.category]]                   # in the banner's order; `necessary` comes first
//! id = "analytics"; services = ["Яндекс Метрика", "Google Analytics 4"]
//! [site.texts.ru.cookies]             # overrides of the built-in banner texts
//! title = "…"
//! [site.texts.ru.cookies.categories.session_recording]
//! name = "…"; description = "…"       # required for a category without built-in texts
//! ```
//!
//! Pure: [`build`] turns the raw file parts into validated values or an [`Invalid`] naming the
//! key (relative to the site) and the reason; `config` adds the file and the site.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use crate::hash::sha256_hex;

use super::cookie_texts::{GPC_NOTE, builtin_category, builtin_gpc_note, builtin_texts};

/// The banner's texts, in the wire's order (`texts.<lang>.cookies`, docs/wire.md).
pub const TEXT_KEYS: [&str; 11] = [
    "title",
    "body",
    "accept_all",
    "reject_all",
    "settings",
    "save",
    "close",
    "services",
    "gpc_note",
    "reload_note",
    "open",
];
const SERVICES: usize = 7;

/// The category every banner starts with: always granted, never a choice.
pub const NECESSARY: &str = "necessary";

/// How long a choice is kept when the config does not say: about six months.
pub const DEFAULT_EXPIRY_DAYS: u32 = 182;
/// Chromium caps cookie lifetimes at 400 days.
const MAX_EXPIRY_DAYS: u32 = 400;

/// A cookie category; a `required` one (e.g. `necessary`) is always granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Category {
    pub id: String,
    pub required: bool,
    /// The third parties (services) the category covers, as shown under it.
    pub services: Vec<String>,
}

/// The banner's settings (`cookies` in the config document, beside `categories`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookies {
    /// First 16 hex digits of SHA-256 over the categories, `gpc_denies` and the file's own
    /// `revision`: a choice stored under another revision is asked again.
    pub revision: String,
    pub expiry_days: u32,
    /// Optional categories refused while the browser sends Global Privacy Control.
    pub gpc_denies: Vec<String>,
}

/// The banner in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieTexts {
    /// In [`TEXT_KEYS`] order.
    pub texts: [String; 11],
    /// (id, name, description) per category, in the categories' order.
    pub categories: Vec<(String, String, String)>,
    /// SHA-256 of the banner text shown ([`notice_text`]), without and with the GPC note.
    pub notice_sha256: [String; 2],
}

impl Serialize for CookieTexts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(TEXT_KEYS.len() + 1))?;
        for (key, text) in TEXT_KEYS.iter().zip(&self.texts) {
            map.serialize_entry(key, text)?;
        }
        map.serialize_entry("categories", &CategoryTexts(&self.categories))?;
        map.end()
    }
}

/// `categories` of [`CookieTexts`]: id → {name, description}, in the categories' order.
struct CategoryTexts<'a>(&'a [(String, String, String)]);

impl Serialize for CategoryTexts<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Named<'a> {
            name: &'a str,
            description: &'a str,
        }
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (id, name, description) in self.0 {
            map.serialize_entry(id, &Named { name, description })?;
        }
        map.end()
    }
}

/// The exact banner text a visitor is shown in one language, which a cookie receipt's
/// `notice.sha256` hashes: lines joined by `\n` — `title`, `body`, `gpc_note` (only when the
/// browser sends GPC and a category is refused for it), then for each category its `name`,
/// `description` and, if it has services, the services line as shown (`services`, a space,
/// the names joined by ", "). The widget renders each of these verbatim, as text.
pub fn notice_text(
    texts: &[String; 11],
    named: &[(String, String, String)],
    categories: &[Category],
    gpc_note: bool,
) -> String {
    let mut lines: Vec<String> = vec![texts[0].clone(), texts[1].clone()];
    if gpc_note {
        lines.push(texts[GPC_NOTE].clone());
    }
    for (category, (_, name, description)) in categories.iter().zip(named) {
        lines.push(name.clone());
        lines.push(description.clone());
        if !category.services.is_empty() {
            lines.push(format!(
                "{} {}",
                texts[SERVICES],
                category.services.join(", ")
            ));
        }
    }
    lines.join("\n")
}

// ---- raw file format -------------------------------------------------------------------

/// `[[site.category]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCategory {
    pub id: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub services: Vec<String>,
}

/// `[site.cookies]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCookies {
    expiry_days: Option<u32>,
    gpc_denies: Option<Vec<String>>,
    revision: Option<String>,
}

/// `[site.texts.<lang>.cookies]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCookieTexts {
    title: Option<String>,
    body: Option<String>,
    accept_all: Option<String>,
    reject_all: Option<String>,
    settings: Option<String>,
    save: Option<String>,
    close: Option<String>,
    services: Option<String>,
    gpc_note: Option<String>,
    reload_note: Option<String>,
    open: Option<String>,
    #[serde(default)]
    categories: BTreeMap<String, RawNamed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNamed {
    name: Option<String>,
    description: Option<String>,
}

impl RawCookieTexts {
    /// The overrides in [`TEXT_KEYS`] order.
    fn in_order(&self) -> [&Option<String>; 11] {
        [
            &self.title,
            &self.body,
            &self.accept_all,
            &self.reject_all,
            &self.settings,
            &self.save,
            &self.close,
            &self.services,
            &self.gpc_note,
            &self.reload_note,
            &self.open,
        ]
    }
}

/// Why the cookie part of a site's config cannot be used: the key (relative to the site,
/// e.g. `cookies.gpc_denies`) and a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: String,
    pub reason: String,
}

fn invalid<T>(key: impl Into<String>, reason: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid {
        key: key.into(),
        reason: reason.into(),
    })
}

/// The banner of a site, validated: its categories, settings and texts per language.
#[derive(Debug)]
pub struct Banner {
    pub categories: Vec<Category>,
    pub cookies: Cookies,
    pub texts: BTreeMap<String, CookieTexts>,
}

/// Validates the cookie part of a site. `texts(lang)` gives the file's
/// `[site.texts.<lang>.cookies]`. `None` when the site has no categories (then it must not
/// configure cookies either); `is_id` is the site's rule for ids.
pub fn build<'a>(
    raw: Vec<RawCategory>,
    settings: Option<RawCookies>,
    languages: &[String],
    texts: impl Fn(&str) -> Option<&'a RawCookieTexts>,
    is_id: fn(&str) -> bool,
) -> Result<Option<Banner>, Invalid> {
    if raw.is_empty() {
        if settings.is_some() {
            return invalid(
                "cookies",
                "cookie settings without any [[site.category]]; add the categories or remove [site.cookies]",
            );
        }
        if let Some(lang) = languages.iter().find(|l| texts(l).is_some()) {
            return invalid(
                format!("texts.{lang}.cookies"),
                "cookie banner texts without any [[site.category]]; add the categories or remove them",
            );
        }
        return Ok(None);
    }
    let categories = categories(raw, is_id)?;
    let settings = settings.unwrap_or_default();
    let cookies = Cookies {
        expiry_days: expiry_days(settings.expiry_days)?,
        gpc_denies: gpc_denies(settings.gpc_denies, &categories)?,
        revision: String::new(),
    };
    let manual = settings.revision.unwrap_or_else(|| "1".to_owned());
    if manual.trim().is_empty() {
        return invalid("cookies.revision", "must not be empty; use e.g. \"2\"");
    }
    let basis = serde_json::json!({
        "categories": &categories,
        "gpc_denies": &cookies.gpc_denies,
        "revision": manual,
    });
    let cookies = Cookies {
        revision: sha256_hex(basis.to_string().as_bytes())[..16].to_owned(),
        ..cookies
    };
    let mut all = BTreeMap::new();
    for lang in languages {
        all.insert(
            lang.clone(),
            texts_in(lang, texts(lang), &categories, &cookies.gpc_denies)?,
        );
    }
    Ok(Some(Banner {
        categories,
        cookies,
        texts: all,
    }))
}

/// Unique valid ids, `necessary` first and required (added when the file leaves it out).
fn categories(raw: Vec<RawCategory>, is_id: fn(&str) -> bool) -> Result<Vec<Category>, Invalid> {
    let mut out: Vec<Category> = Vec::with_capacity(raw.len() + 1);
    for (i, c) in raw.into_iter().enumerate() {
        let key = format!("category[{}]", c.id);
        if !is_id(&c.id) {
            return invalid(format!("{key}.id"), "use 1-64 of a-z, 0-9, '-' and '_'");
        }
        if out.iter().any(|o| o.id == c.id) {
            return invalid(key, "this category id is used twice");
        }
        if c.id == NECESSARY && (i > 0 || !c.required) {
            return invalid(
                key,
                "`necessary` is always the first category and `required = true` (or leave it out: it is added)",
            );
        }
        if let Some(bad) = c.services.iter().find(|s| s.trim().is_empty()) {
            return invalid(
                format!("{key}.services"),
                format!("{bad:?} is not a service name"),
            );
        }
        out.push(Category {
            id: c.id,
            required: c.required,
            services: c.services,
        });
    }
    if out.first().is_none_or(|c| c.id != NECESSARY) {
        out.insert(
            0,
            Category {
                id: NECESSARY.to_owned(),
                required: true,
                services: Vec::new(),
            },
        );
    }
    Ok(out)
}

fn expiry_days(days: Option<u32>) -> Result<u32, Invalid> {
    match days {
        None => Ok(DEFAULT_EXPIRY_DAYS),
        Some(d) if (1..=MAX_EXPIRY_DAYS).contains(&d) => Ok(d),
        Some(d) => invalid(
            "cookies.expiry_days",
            format!(
                "{d} is out of range; use 1..={MAX_EXPIRY_DAYS} days (browsers cap cookies at 400)"
            ),
        ),
    }
}

/// The file's list (each an optional category, once), or `marketing` if the site has it.
fn gpc_denies(list: Option<Vec<String>>, categories: &[Category]) -> Result<Vec<String>, Invalid> {
    let Some(list) = list else {
        return Ok(categories
            .iter()
            .filter(|c| c.id == "marketing" && !c.required)
            .map(|c| c.id.clone())
            .collect());
    };
    let mut out: Vec<String> = Vec::new();
    for id in list {
        match categories.iter().find(|c| c.id == id) {
            None => {
                return invalid(
                    "cookies.gpc_denies",
                    format!("`{id}` is not one of the site's [[site.category]] ids"),
                );
            }
            Some(c) if c.required => {
                return invalid(
                    "cookies.gpc_denies",
                    format!("`{id}` is required and cannot be refused"),
                );
            }
            Some(_) if out.contains(&id) => {
                return invalid("cookies.gpc_denies", format!("`{id}` is listed twice"));
            }
            Some(_) => out.push(id),
        }
    }
    Ok(out)
}

/// The banner in `lang`: the file's texts over the built-in ones.
fn texts_in(
    lang: &str,
    own: Option<&RawCookieTexts>,
    categories: &[Category],
    gpc_denies: &[String],
) -> Result<CookieTexts, Invalid> {
    let empty = RawCookieTexts::default();
    let own = own.unwrap_or(&empty);
    let key = |name: &str| format!("texts.{lang}.cookies.{name}");
    let check = |name: &str, text: &str| {
        if text.trim().is_empty() {
            invalid(key(name), "must not be empty")
        } else {
            Ok(())
        }
    };
    if let Some(id) = own
        .categories
        .keys()
        .find(|id| !categories.iter().any(|c| &c.id == *id))
    {
        return invalid(
            key(&format!("categories.{id}")),
            "texts for a category the site does not have; add it as [[site.category]] or remove them",
        );
    }
    let mut named = Vec::with_capacity(categories.len());
    for category in categories {
        let own = own.categories.get(&category.id);
        let builtin = builtin_category(lang, &category.id);
        let pick = |field: &str, value: Option<&String>, builtin: Option<&str>| {
            let text = match (value, builtin) {
                (Some(v), _) => v.clone(),
                (None, Some(b)) => b.to_owned(),
                (None, None) => {
                    return invalid(
                        key(&format!("categories.{}.{field}", category.id)),
                        format!(
                            "category `{}` has no built-in {field} in `{lang}`; set it here, for every language",
                            category.id
                        ),
                    );
                }
            };
            check(&format!("categories.{}.{field}", category.id), &text)?;
            Ok(text)
        };
        let name = pick(
            "name",
            own.and_then(|o| o.name.as_ref()),
            builtin.map(|b| b.0),
        )?;
        let description = pick(
            "description",
            own.and_then(|o| o.description.as_ref()),
            builtin.map(|b| b.1),
        )?;
        named.push((category.id.clone(), name, description));
    }
    let builtin = builtin_texts(lang);
    let mut texts: [String; 11] = Default::default();
    for (i, (name, value)) in TEXT_KEYS.iter().zip(own.in_order()).enumerate() {
        texts[i] = match (value, builtin) {
            (Some(v), _) => v.clone(),
            (None, Some(_)) if i == GPC_NOTE => builtin_gpc_note(lang, gpc_denies, &named),
            (None, Some(b)) => b[i].to_owned(),
            (None, None) => {
                return invalid(
                    key(name),
                    format!("there is no built-in text for language `{lang}`; set it here"),
                );
            }
        };
        check(name, &texts[i])?;
    }
    let notice_sha256 = [false, true].map(|gpc| {
        let note = gpc && !gpc_denies.is_empty();
        sha256_hex(notice_text(&texts, &named, categories, note).as_bytes())
    });
    Ok(CookieTexts {
        texts,
        categories: named,
        notice_sha256,
    })
}
