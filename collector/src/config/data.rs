//! `[site.data]`: what a site's forms collect and where it goes — the items of a consent's
//! content (Art. 8; docs/compliance.md L8, L11–L13) the config can carry besides the operator.
//! Each key is optional; one left out is named by the admin page's Art. 8 panel, and one set
//! is used: `recipients` in the Kantara export, `collected` checked against what each form
//! receipt names (`admin::health`, `undeclared_field`).

use super::ConfigError;
use super::raw::RawData;
use super::validate::{Key, Validator};

/// What a site's forms collect and where it goes; `None`: the config does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataUse {
    /// Names of the form fields the consent text lists as collected (as receipts name them
    /// in `context.fields`).
    pub collected: Option<Vec<String>>,
    /// Third parties the form data is disclosed to (a hosting provider, a CRM); empty: none.
    pub recipients: Option<Vec<String>>,
    /// ISO 3166 codes of the countries it is transferred to; empty: it stays in the country.
    pub cross_border: Option<Vec<String>>,
    /// Whether it is published in publicly available sources.
    pub public: Option<bool>,
}

impl Validator<'_> {
    pub(super) fn data(&self, raw: Option<RawData>, key: &Key) -> Result<DataUse, ConfigError> {
        let raw = raw.unwrap_or_default();
        let names = |list: Option<Vec<String>>, name: &str| -> Result<_, ConfigError> {
            let Some(list) = list else { return Ok(None) };
            for (i, item) in list.iter().enumerate() {
                if item.trim().is_empty() || list[..i].contains(item) {
                    return Err(self.err(
                        &key.with(name),
                        format!("entry {} is empty or repeated; list each once", i + 1),
                    ));
                }
            }
            Ok(Some(list))
        };
        let cross_border = names(raw.cross_border, "cross_border")?;
        if let Some(bad) = cross_border.iter().flatten().find(|c| {
            !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())) || c.as_str() == "KZ"
        }) {
            return Err(self.err(
                &key.with("cross_border"),
                format!(
                    "`{bad}` is not the ISO 3166 code of another country (like RU or DE); \
                     `[]` says the data stays in Kazakhstan"
                ),
            ));
        }
        Ok(DataUse {
            collected: names(raw.collected, "collected")?,
            recipients: names(raw.recipients, "recipients")?,
            cross_border,
            public: raw.public,
        })
    }
}
