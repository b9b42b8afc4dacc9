//! The widget's inputs: the script tag's options and the site config from
//! `GET /v1/sites/{site}/config` (docs/wire.md), checked once into types the rest relies on.
//!
//! The JS objects are read field by field with `Reflect`, not with serde-wasm-bindgen's
//! deserializer: that one costs about 80 KB of wasm and 24 KB of JS glue (measured with
//! `cargo xtask dist`), more than the rest of the widget together. The wire types still derive
//! `Deserialize` in tests, where the checks run natively on the example of docs/wire.md.
//! Errors are built by concatenation, not `thiserror`/`format!`: core::fmt is not shipped.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Why the widget cannot start with what it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The loader's options: the reason.
    Options(String),
    /// The site config: the reason.
    Config(String),
    /// The config names another site: (wanted, got).
    WrongSite(String, String),
    /// A listed language has no texts.
    MissingTexts(String),
    /// A required value is empty: its key.
    Empty(&'static str),
}

impl ConfigError {
    /// The message for the console: what is wrong and where to fix it.
    pub fn message(&self) -> String {
        match self {
            Self::Options(why) => [
                "invalid loader options: ",
                why,
                "; pass {site, collector, lang?, forms?} as kelisim.js does",
            ]
            .concat(),
            Self::Config(why) => [
                "invalid site config: ",
                why,
                "; check GET /v1/sites/{site}/config on the collector",
            ]
            .concat(),
            Self::WrongSite(want, got) => [
                "site config is for site \"",
                got,
                "\", not \"",
                want,
                "\"; check the script tag's data-site",
            ]
            .concat(),
            Self::MissingTexts(lang) => [
                "site config has no texts for language \"",
                lang,
                "\"; add them to the collector's config",
            ]
            .concat(),
            Self::Empty(key) => [
                "site config has an empty ",
                key,
                "; set it in the collector's config",
            ]
            .concat(),
        }
    }
}

/// The script tag's settings, as the loader passes them to `start`.
#[derive(Debug, Clone)]
pub struct Options {
    /// `data-site`.
    pub site: String,
    /// `data-collector`, or the loader's own origin.
    pub collector: String,
    /// `data-lang`: overrides the page language.
    pub lang: Option<String>,
    /// `data-forms`: a CSS selector narrowing which forms are guarded.
    pub forms: Option<String>,
    /// The reference of the stored cookie choice's receipt, when the collector reports it
    /// withdrawn (by the site's admin, on the visitor's request): the banner asks again.
    pub withdrawn: Option<String>,
}

impl Options {
    pub fn from_js(value: &JsValue) -> Result<Self, ConfigError> {
        let read = Reader(ConfigError::Options);
        let options = Self {
            site: read.string(value, "", "site")?,
            collector: read.string(value, "", "collector")?,
            lang: read.optional_string(value, "lang")?,
            forms: read.optional_string(value, "forms")?,
            withdrawn: read.optional_string(value, "withdrawn")?,
        };
        options.checked()
    }

    fn checked(mut self) -> Result<Self, ConfigError> {
        if self.site.trim().is_empty() {
            return Err(ConfigError::Options("data-site is empty".into()));
        }
        if self.collector.trim().is_empty() {
            return Err(ConfigError::Options("collector is empty".into()));
        }
        // An empty attribute (`data-forms=""`) means "not set", not "match nothing".
        self.lang = self.lang.filter(|l| !l.trim().is_empty());
        self.forms = self.forms.filter(|f| !f.trim().is_empty());
        Ok(self)
    }
}

/// The texts of one language. The collector hashes `label` into the receipt, so it is shown
/// verbatim. Fields the widget does not use (operator, …) are ignored.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Texts {
    pub label: String,
    pub link: String,
    pub error: String,
    /// Text of the link to the visitor's signed receipt.
    pub receipt: String,
    /// The cookie banner's texts, when the site has cookie categories (read from JS only).
    #[cfg_attr(test, serde(skip))]
    pub cookies: Option<CookieTexts>,
}

/// One text of the cookie banner (`texts.<lang>.cookies.<key>`, docs/wire.md).
#[derive(Debug, Clone, Copy)]
pub enum Text {
    Title,
    Body,
    AcceptAll,
    RejectAll,
    Settings,
    Save,
    Close,
    Services,
    GpcNote,
    ReloadNote,
    Open,
}

/// The wire keys of [`Text`], in its order.
const TEXT_KEYS: [&str; 11] = [
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

/// The cookie banner's texts in one language: `texts.<lang>.cookies` as the loader parsed it,
/// checked at start to hold a string for every [`Text`] and a `name` and `description` for
/// every category. Kept as the JS object and handed to `textContent` as they are: copying
/// eleven texts per language into Rust strings (and checking each copy) cost about 1 KB of
/// wasm for nothing the widget computes with.
#[derive(Debug, Clone, PartialEq)]
pub struct CookieTexts(JsValue);

impl CookieTexts {
    pub fn get(&self, text: Text) -> JsValue {
        get(&self.0, TEXT_KEYS[text as usize])
    }

    /// `name` or `description` of category `id`.
    pub fn category(&self, id: &str, key: &str) -> JsValue {
        get(&get(&get(&self.0, "categories"), id), key)
    }
}

pub use kelisim_widget_core::choice::Category;

/// The site's cookie set-up (`cookies` in the config; `null` when it has no categories).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Cookies {
    /// Changes when what the visitor chose about changes: a stored choice of another
    /// revision is asked again.
    pub revision: String,
    pub expiry_days: u32,
    /// Categories that start refused when the browser sends Global Privacy Control.
    pub gpc_denies: Vec<String>,
    /// In the banner's order; the first is `necessary`.
    pub categories: Vec<Category>,
}

impl Cookies {
    /// There are categories, and every id is cookie-safe and unique (the cookie spells the
    /// choice by id). That every language names every category is checked while reading.
    fn checked(&self) -> Result<(), ConfigError> {
        let bad = |id: &str| {
            Err(ConfigError::Config(
                [
                    "cookies: category ids must be unique a-z, 0-9, '-', '_': \"",
                    id,
                    "\"",
                ]
                .concat(),
            ))
        };
        if self.categories.is_empty() {
            return bad("");
        }
        for (i, category) in self.categories.iter().enumerate() {
            let id = category.id.as_str();
            let safe = !id.is_empty()
                && id
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'));
            if !safe || self.categories[..i].iter().any(|c| c.id == id) {
                return bad(id);
            }
        }
        Ok(())
    }
}

/// A purpose the consent covers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Purpose {
    pub id: String,
    #[cfg_attr(test, serde(default))]
    pub required: bool,
    /// An optional purpose's box text per language, `(lang, text)` (empty for a required one:
    /// the consent box covers it).
    #[cfg_attr(test, serde(default, deserialize_with = "labels_from_map"))]
    pub label: Vec<(String, String)>,
}

impl Purpose {
    /// The optional box's text in `lang` (`SiteConfig::checked` saw one in every language).
    pub fn label(&self, lang: &str) -> &str {
        self.label
            .iter()
            .find(|(l, _)| l == lang)
            .map_or(self.id.as_str(), |(_, text)| text.as_str())
    }
}

/// The config as it comes over the wire, reduced to what the widget uses.
#[derive(Debug)]
#[cfg_attr(test, derive(serde::Deserialize))]
struct WireConfig {
    site: String,
    policy: WirePolicy,
    languages: Vec<String>,
    default_language: String,
    #[cfg_attr(test, serde(deserialize_with = "texts_from_map"))]
    texts: Vec<(String, Texts)>,
    purposes: Vec<Purpose>,
    #[cfg_attr(test, serde(default))]
    cookies: Option<Cookies>,
}

#[derive(Debug)]
#[cfg_attr(test, derive(serde::Deserialize))]
struct WirePolicy {
    version: String,
    url: String,
}

#[cfg(test)]
fn labels_from_map<'de, D>(d: D) -> Result<Vec<(String, String)>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let map: std::collections::BTreeMap<String, String> = serde::Deserialize::deserialize(d)?;
    Ok(map.into_iter().collect())
}

#[cfg(test)]
fn texts_from_map<'de, D>(d: D) -> Result<Vec<(String, Texts)>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let map: std::collections::BTreeMap<String, Texts> = serde::Deserialize::deserialize(d)?;
    Ok(map.into_iter().collect())
}

impl WireConfig {
    fn from_js(value: &JsValue) -> Result<Self, ConfigError> {
        let read = Reader(ConfigError::Config);
        let policy = read.object(value, "policy")?;
        let languages = read.strings(value, "", "languages")?;
        let default_language = read.string(value, "", "default_language")?;
        let all_texts = read.object(value, "texts")?;
        let cookies = get(value, "cookies");
        let cookies = if cookies.is_object() {
            let mut categories = Vec::new();
            for item in read.array(&cookies, "cookies", "categories")?.iter() {
                categories.push(Category {
                    id: read.string(&item, "cookies.categories[]", "id")?,
                    required: get(&item, "required").as_bool() == Some(true),
                    services: read.strings(&item, "cookies.categories[]", "services")?,
                });
            }
            Some(Cookies {
                revision: read.string(&cookies, "cookies", "revision")?,
                expiry_days: get(&cookies, "expiry_days")
                    .as_f64()
                    .filter(|d| *d >= 1.0)
                    // Whole days, at most about 13 years (what a u32 of seconds holds).
                    .map_or(182, |d| d.min(49_000.0) as u32),
                gpc_denies: read.strings(&cookies, "cookies", "gpc_denies")?,
                categories,
            })
        } else {
            None
        };
        let mut texts: Vec<(String, Texts)> = Vec::new();
        for lang in languages.iter().chain([&default_language]) {
            let entry = get(&all_texts, lang);
            // A missing language is reported by `SiteConfig::checked`, which names it.
            if entry.is_undefined() || texts.iter().any(|(l, _)| l == lang) {
                continue;
            }
            let path = ["texts.", lang.as_str()].concat();
            let texts_of = Texts {
                label: read.string(&entry, &path, "label")?,
                link: read.string(&entry, &path, "link")?,
                error: read.string(&entry, &path, "error")?,
                receipt: read.string(&entry, &path, "receipt")?,
                cookies: match &cookies {
                    Some(cookies) => Some(read.cookie_texts(&entry, &path, &cookies.categories)?),
                    None => None,
                },
            };
            texts.push((lang.clone(), texts_of));
        }
        let mut purposes = Vec::new();
        for item in read.array(value, "", "purposes")?.iter() {
            let required = get(&item, "required").as_bool() == Some(true);
            let mut label = Vec::new();
            if !required {
                let texts = get(&item, "label");
                for lang in &languages {
                    if let Some(text) = get(&texts, lang).as_string() {
                        label.push((lang.clone(), text));
                    }
                }
            }
            purposes.push(Purpose {
                id: read.string(&item, "purposes[]", "id")?,
                required,
                label,
            });
        }
        Ok(Self {
            site: read.string(value, "", "site")?,
            cookies,
            policy: WirePolicy {
                version: read.string(&policy, "policy", "version")?,
                url: read.string(&policy, "policy", "url")?,
            },
            languages,
            default_language,
            texts,
            purposes,
        })
    }
}

/// `object[key]`, or `undefined` when `object` is not an object or the read throws.
pub fn get(object: &JsValue, key: &str) -> JsValue {
    if object.is_object() {
        Reflect::get(object, &JsValue::from_str(key)).unwrap_or_default()
    } else {
        JsValue::UNDEFINED
    }
}

/// Reads typed fields of a JS object; errors name the field (`texts.kk.label: expected …`).
struct Reader(fn(String) -> ConfigError);

impl Reader {
    fn fail<T>(&self, path: &str, key: &str, expected: &str) -> Result<T, ConfigError> {
        let dot = if path.is_empty() { "" } else { "." };
        Err((self.0)([path, dot, key, ": expected ", expected].concat()))
    }

    fn string(&self, object: &JsValue, path: &str, key: &str) -> Result<String, ConfigError> {
        match get(object, key).as_string() {
            Some(s) => Ok(s),
            None => self.fail(path, key, "a string"),
        }
    }

    fn optional_string(&self, object: &JsValue, key: &str) -> Result<Option<String>, ConfigError> {
        let value = get(object, key);
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        match value.as_string() {
            Some(s) => Ok(Some(s)),
            None => self.fail("", key, "a string or nothing"),
        }
    }

    fn object(&self, object: &JsValue, key: &str) -> Result<JsValue, ConfigError> {
        let value = get(object, key);
        if value.is_object() {
            Ok(value)
        } else {
            self.fail("", key, "an object")
        }
    }

    fn array(&self, object: &JsValue, path: &str, key: &str) -> Result<Array, ConfigError> {
        let value = get(object, key);
        if Array::is_array(&value) {
            Ok(value.unchecked_into())
        } else {
            self.fail(path, key, "an array")
        }
    }

    /// `texts.<lang>.cookies`: a string for every [`Text`], a name and description for each of
    /// `categories` (else the error names the first missing one).
    fn cookie_texts(
        &self,
        entry: &JsValue,
        path: &str,
        categories: &[Category],
    ) -> Result<CookieTexts, ConfigError> {
        let value = get(entry, "cookies");
        let path = [path, ".cookies"].concat();
        for key in TEXT_KEYS {
            self.string(&value, &path, key)?;
        }
        let all = get(&value, "categories");
        for category in categories {
            let at = [path.as_str(), ".categories.", &category.id].concat();
            let named = get(&all, &category.id);
            for key in ["name", "description"] {
                self.string(&named, &at, key)?;
            }
        }
        Ok(CookieTexts(value))
    }

    fn strings(&self, object: &JsValue, path: &str, key: &str) -> Result<Vec<String>, ConfigError> {
        let mut out = Vec::new();
        for item in self.array(object, path, key)?.iter() {
            match item.as_string() {
                Some(s) => out.push(s),
                None => return self.fail(path, key, "an array of strings"),
            }
        }
        Ok(out)
    }
}

/// The notice shown in one language.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub lang: String,
    pub texts: Texts,
}

/// The checked site config: every language has texts, so a notice can always be found.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub site: String,
    pub policy_version: String,
    pub policy_url: String,
    /// The default language's notice; the type guarantees there is always one.
    pub default: Notice,
    /// The other languages, in the site's order.
    pub others: Vec<Notice>,
    pub purposes: Vec<Purpose>,
    /// The cookie banner's set-up; every notice then has its texts.
    pub cookies: Option<Cookies>,
}

impl SiteConfig {
    pub fn from_js(value: &JsValue, site: &str) -> Result<Self, ConfigError> {
        Self::checked(WireConfig::from_js(value)?, site)
    }

    fn checked(mut wire: WireConfig, site: &str) -> Result<Self, ConfigError> {
        if wire.site != site {
            return Err(ConfigError::WrongSite(site.to_owned(), wire.site));
        }
        if wire.policy.version.is_empty() {
            return Err(ConfigError::Empty("policy.version"));
        }
        if wire.policy.url.is_empty() {
            return Err(ConfigError::Empty("policy.url"));
        }
        let mut take = |lang: &str| match wire.texts.iter().position(|(l, _)| l == lang) {
            Some(i) => Ok(Notice {
                lang: lang.to_owned(),
                texts: wire.texts.swap_remove(i).1,
            }),
            None => Err(ConfigError::MissingTexts(lang.to_owned())),
        };
        let default = take(&wire.default_language)?;
        let mut others = Vec::new();
        for lang in &wire.languages {
            if *lang != default.lang {
                others.push(take(lang)?);
            }
        }
        if let Some(cookies) = &wire.cookies {
            cookies.checked()?;
        }
        // An optional purpose is a box of its own: without its text in a language, a visitor
        // reading that language would tick a box they cannot read.
        for purpose in wire.purposes.iter().filter(|p| !p.required) {
            for lang in &wire.languages {
                if !purpose
                    .label
                    .iter()
                    .any(|(l, t)| l == lang && !t.is_empty())
                {
                    return Err(ConfigError::Config(
                        [
                            "purposes[",
                            purpose.id.as_str(),
                            "].label has no text for \"",
                            lang,
                            "\"",
                        ]
                        .concat(),
                    ));
                }
            }
        }
        Ok(Self {
            site: wire.site,
            policy_version: wire.policy.version,
            policy_url: wire.policy.url,
            default,
            others,
            purposes: wire.purposes,
            cookies: wire.cookies,
        })
    }

    pub fn supports(&self, lang: &str) -> bool {
        self.default.lang == lang || self.others.iter().any(|n| n.lang == lang)
    }

    /// The notice to show: in the script tag's `data-lang` (`requested`), else in the page's
    /// `lang`, whichever the site supports, else in the default language.
    pub fn notice_for(&self, requested: Option<&str>, page: Option<&str>) -> &Notice {
        let lang =
            kelisim_widget_core::policy::choose_language(requested, page, |l| self.supports(l));
        self.notice(lang.as_deref())
    }

    /// The notice for `lang`, or the default one.
    pub fn notice(&self, lang: Option<&str>) -> &Notice {
        lang.and_then(|l| self.others.iter().find(|n| n.lang == l))
            .unwrap_or(&self.default)
    }

    /// The optional purposes: each has its own unticked box beside the consent box.
    pub fn optional_purposes(&self) -> impl Iterator<Item = &Purpose> {
        self.purposes.iter().filter(|p| !p.required)
    }

    /// The choice a ticked consent box records for each purpose, in the config's order: every
    /// required purpose granted, an optional one only when `ticked(id)` (its own box was).
    pub fn purpose_choices(&self, ticked: &dyn Fn(&str) -> bool) -> Vec<(String, bool)> {
        self.purposes
            .iter()
            .map(|p| (p.id.clone(), p.required || ticked(&p.id)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of docs/wire.md, with real texts.
    const WIRE_EXAMPLE: &str = r#"{
      "site": "demo",
      "revision": "9f2c61d0a3b4e5f6",
      "operator": { "name": "ТОО «Алтын Жол Логистика»", "bin": "180940012348" },
      "policy": { "version": "2026-03", "url": "http://127.0.0.1:8080/v1/sites/demo/policies/2026-03" },
      "languages": ["ru", "kk", "en"],
      "default_language": "ru",
      "texts": {
        "ru": { "label": "Я согласен(на) на обработку персональных данных", "link": "Текст согласия", "error": "Отметьте согласие", "receipt": "Квитанция о согласии" },
        "kk": { "label": "Дербес деректерді жинауға және өңдеуге келісемін", "link": "Келісім мәтіні", "error": "Келісімді белгілеңіз", "receipt": "Түбіртек" },
        "en": { "label": "I agree to the processing of my personal data", "link": "Consent text", "error": "Please tick the box", "receipt": "Receipt" }
      },
      "purposes": [
        { "id": "feedback", "required": true },
        { "id": "newsletter", "required": false, "label": { "ru": "Хочу получать новости", "kk": "Жаңалықтар алғым келеді", "en": "Send me news" } }
      ]
    }"#;

    fn wire(json: &str) -> WireConfig {
        serde_json::from_str(json).expect("test config is valid JSON")
    }

    #[test]
    fn wire_example_checks_out() {
        let site = SiteConfig::checked(wire(WIRE_EXAMPLE), "demo").expect("valid config");
        assert_eq!(site.policy_version, "2026-03");
        assert_eq!(site.default.lang, "ru");
        assert_eq!(
            site.others
                .iter()
                .map(|n| n.lang.as_str())
                .collect::<Vec<_>>(),
            ["kk", "en"]
        );
        assert!(site.supports("kk") && site.supports("ru") && !site.supports("de"));
        assert_eq!(
            site.notice(Some("en")).texts.label,
            "I agree to the processing of my personal data"
        );
        assert_eq!(site.notice(Some("de")).lang, "ru");
        assert_eq!(site.notice(None).lang, "ru");
        let optional: Vec<_> = site.optional_purposes().collect();
        assert_eq!(optional.len(), 1);
        assert_eq!(optional[0].label("kk"), "Жаңалықтар алғым келеді");
        assert_eq!(
            site.purpose_choices(&|_| false),
            [
                ("feedback".to_owned(), true),
                ("newsletter".to_owned(), false)
            ],
            "an unticked optional box grants nothing; the required purpose is granted"
        );
        assert_eq!(
            site.purpose_choices(&|id| id == "newsletter"),
            [
                ("feedback".to_owned(), true),
                ("newsletter".to_owned(), true)
            ]
        );
        assert_eq!(
            site.notice(Some("ru")).texts.receipt,
            "Квитанция о согласии"
        );
    }

    const COOKIE_FIXTURE: &str = include_str!("../../tests/fixtures/wire/config_cookies.json");

    #[test]
    fn cookie_fixture_checks_out() {
        let site = SiteConfig::checked(wire(COOKIE_FIXTURE), "demo").expect("valid config");
        let cookies = site.cookies.as_ref().expect("cookies");
        assert_eq!(cookies.expiry_days, 182);
        assert_eq!(cookies.gpc_denies, ["marketing"]);
        assert_eq!(
            cookies
                .categories
                .iter()
                .map(|c| (c.id.as_str(), c.required))
                .collect::<Vec<_>>(),
            [
                ("necessary", true),
                ("analytics", false),
                ("marketing", false),
                ("session_recording", false)
            ]
        );
        // Without cookies the form guard's config is unchanged.
        assert!(
            SiteConfig::checked(wire(WIRE_EXAMPLE), "demo")
                .expect("valid")
                .cookies
                .is_none()
        );
    }

    #[test]
    fn cookie_categories_need_safe_unique_ids() {
        for (id, bad) in [
            ("Mar keting", "Mar keting"),
            ("analytics", "analytics"),
            ("", ""),
        ] {
            let json = COOKIE_FIXTURE.replace(
                r#""id": "marketing", "required""#,
                &[r#""id": ""#, id, r#"", "required""#].concat(),
            );
            let err = SiteConfig::checked(wire(&json), "demo").expect_err("bad id");
            assert_eq!(
                err.message(),
                [
                    "invalid site config: cookies: category ids must be unique a-z, 0-9, '-', '_': \"",
                    bad,
                    "\"; check GET /v1/sites/{site}/config on the collector"
                ]
                .concat()
            );
        }
    }

    #[test]
    fn config_for_another_site_is_refused() {
        let err = SiteConfig::checked(wire(WIRE_EXAMPLE), "shop").expect_err("wrong site");
        assert_eq!(
            err.message(),
            "site config is for site \"demo\", not \"shop\"; check the script tag's data-site"
        );
    }

    #[test]
    fn a_language_without_texts_is_refused() {
        let json = WIRE_EXAMPLE.replace(r#"["ru", "kk", "en"]"#, r#"["ru", "kk", "en", "uz"]"#);
        let err = SiteConfig::checked(wire(&json), "demo").expect_err("uz has no texts");
        assert!(
            matches!(err, ConfigError::MissingTexts(ref l) if l == "uz"),
            "{err:?}"
        );
        let json =
            WIRE_EXAMPLE.replace(r#""default_language": "ru""#, r#""default_language": "de""#);
        let err = SiteConfig::checked(wire(&json), "demo").expect_err("de has no texts");
        assert!(
            matches!(err, ConfigError::MissingTexts(ref l) if l == "de"),
            "{err:?}"
        );
    }

    #[test]
    fn empty_policy_is_refused() {
        let json = WIRE_EXAMPLE.replace(r#""version": "2026-03""#, r#""version": """#);
        let err = SiteConfig::checked(wire(&json), "demo").expect_err("empty version");
        assert!(
            matches!(err, ConfigError::Empty("policy.version")),
            "{err:?}"
        );
    }

    #[test]
    fn texts_without_a_label_do_not_parse() {
        let json = WIRE_EXAMPLE.replace(r#""label": "I agree"#, r#""labl": "I agree"#);
        assert!(serde_json::from_str::<WireConfig>(&json).is_err());
    }

    #[test]
    fn options_treat_empty_attributes_as_unset() {
        let options = Options {
            site: "demo".into(),
            collector: "http://127.0.0.1:8080".into(),
            lang: Some(" ".into()),
            forms: Some("".into()),
            withdrawn: None,
        }
        .checked()
        .expect("valid options");
        assert_eq!((options.lang, options.forms), (None, None));
        let err = Options {
            site: "".into(),
            collector: "x".into(),
            lang: None,
            forms: None,
            withdrawn: None,
        }
        .checked()
        .expect_err("no site");
        assert!(err.message().contains("data-site is empty"), "{err:?}");
    }
}

/// The `Reflect` readers on real JS values (what the loader passes).
#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests {
    use js_sys::JSON;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn js(json: &str) -> JsValue {
        JSON::parse(json).expect("test JSON")
    }

    const CONFIG: &str = r#"{"site":"demo","revision":"x","operator":{"name":"o","bin":"1"},
      "policy":{"version":"2026-03","url":"http://h/p"},"languages":["ru","kk","en"],
      "default_language":"ru","texts":{
        "ru":{"label":"Я согласен(на)","link":"Текст","error":"Отметьте","receipt":"r"},
        "kk":{"label":"Келісемін","link":"Мәтін","error":"Белгілеңіз","receipt":"r"},
        "en":{"label":"I agree","link":"Text","error":"Tick it","receipt":"r"}},
      "purposes":[{"id":"feedback","required":true},
        {"id":"news","label":{"ru":"Новости","kk":"Жаңалықтар","en":"News"}}]}"#;

    #[wasm_bindgen_test]
    fn reads_the_wire_config() {
        let site = SiteConfig::from_js(&js(CONFIG), "demo").expect("valid");
        assert_eq!(site.policy_url, "http://h/p");
        assert_eq!(site.default.texts.label, "Я согласен(на)");
        assert_eq!(site.notice(Some("kk")).texts.error, "Белгілеңіз");
        let news = site.optional_purposes().next().expect("news is optional");
        assert_eq!((news.id.as_str(), news.label("en")), ("news", "News"));
    }

    #[wasm_bindgen_test]
    fn an_optional_purpose_without_its_box_text_in_a_language_is_refused() {
        let config = CONFIG.replace(r#","en":"News""#, "");
        let err = SiteConfig::from_js(&js(&config), "demo").expect_err("no en text");
        assert_eq!(
            err,
            ConfigError::Config("purposes[news].label has no text for \"en\"".into())
        );
    }

    const COOKIE_FIXTURE: &str = include_str!("../../tests/fixtures/wire/config_cookies.json");

    #[wasm_bindgen_test]
    fn reads_the_cookie_texts_and_names_what_is_missing() {
        let site = SiteConfig::from_js(&js(COOKIE_FIXTURE), "demo").expect("valid");
        let kk = site
            .notice(Some("kk"))
            .texts
            .cookies
            .clone()
            .expect("kk texts");
        assert_eq!(
            kk.get(Text::AcceptAll).as_string().as_deref(),
            Some("Барлығын қабылдау")
        );
        assert_eq!(
            kk.get(Text::Open).as_string().as_deref(),
            Some("Cookie баптаулары")
        );
        assert_eq!(
            kk.category("session_recording", "name")
                .as_string()
                .as_deref(),
            Some("Сеанстарды жазу (Вебвизор)")
        );
        assert_eq!(
            site.cookies
                .as_ref()
                .map(|c| c.categories[1].services.clone()),
            Some(vec![
                "Яндекс Метрика".to_owned(),
                "Google Analytics 4".to_owned()
            ])
        );

        let no_title = COOKIE_FIXTURE.replace(r#""title": "We use cookies","#, "");
        let err = SiteConfig::from_js(&js(&no_title), "demo").expect_err("no en title");
        assert!(
            err.message()
                .contains("texts.en.cookies.title: expected a string"),
            "{err:?}"
        );
        let unnamed = COOKIE_FIXTURE.replace(
            r#""session_recording": { "name": "Session recording"#,
            r#""recording": { "name": "Session recording"#,
        );
        let err = SiteConfig::from_js(&js(&unnamed), "demo").expect_err("no en category");
        assert!(
            err.message()
                .contains("texts.en.cookies.categories.session_recording.name: expected a string"),
            "{err:?}"
        );
        // No `cookies`: no banner texts, and the form guard's config as before.
        let site = SiteConfig::from_js(&js(CONFIG), "demo").expect("valid");
        assert!(site.cookies.is_none() && site.default.texts.cookies.is_none());
    }

    #[wasm_bindgen_test]
    fn wrong_types_are_named() {
        let bad = CONFIG.replace(r#""label":"Келісемін""#, r#""label":7"#);
        let err = SiteConfig::from_js(&js(&bad), "demo").expect_err("label is a number");
        assert_eq!(
            err.message(),
            "invalid site config: texts.kk.label: expected a string; \
             check GET /v1/sites/{site}/config on the collector"
        );
        let err = SiteConfig::from_js(&js(r#"{"site":"demo"}"#), "demo").expect_err("no policy");
        assert!(
            err.message().contains("policy: expected an object"),
            "{err:?}"
        );
        let err = SiteConfig::from_js(&JsValue::NULL, "demo").expect_err("null");
        assert!(err.message().contains("expected an object"), "{err:?}");
        let no_kk = CONFIG.replace(r#""kk":{"#, r#""xx":{"#);
        let err = SiteConfig::from_js(&js(&no_kk), "demo").expect_err("kk missing");
        assert!(
            matches!(err, ConfigError::MissingTexts(ref l) if l == "kk"),
            "{err:?}"
        );
    }

    #[wasm_bindgen_test]
    fn reads_loader_options() {
        let options = Options::from_js(&js(
            r##"{"site":"demo","collector":"http://c","lang":null,"forms":"#f"}"##,
        ))
        .expect("valid");
        assert_eq!(options.lang, None);
        assert_eq!(options.forms.as_deref(), Some("#f"));
        let err = Options::from_js(&js(r#"{"collector":"http://c"}"#)).expect_err("no site");
        assert!(
            err.message()
                .starts_with("invalid loader options: site: expected a string")
        );
        let err = Options::from_js(&js(r#"{"site":"d","collector":"c","lang":5}"#))
            .expect_err("lang is a number");
        assert!(
            err.message().contains("lang: expected a string or nothing"),
            "{err:?}"
        );
    }
}
