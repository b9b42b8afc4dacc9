//! `[[site.purpose]]`: why a site's forms collect data. Plain unique ids; a name per language
//! for the receipt page; and for an optional purpose the text of its own box on the form,
//! which the widget shows unticked beside the consent box (docs/compliance.md P25).

use std::collections::HashSet;

use super::raw::{RawPurpose, is_site_id};
use super::validate::{Key, Validator};
use super::{ConfigError, Purpose};

impl Validator<'_> {
    /// `[[site.purpose]]` (`what`): plain unique ids, and a name in every site language or
    /// none at all (a receipt page must not mix names and ids).
    pub(super) fn choices(
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
                self.box_label(p, languages, &key.with(format!("{what}[{}].label", p.id)))?;
                Ok(Purpose {
                    id: p.id.clone(),
                    required: p.required,
                    label: p.label.clone(),
                    names: p.name.clone(),
                })
            })
            .collect()
    }

    /// An optional purpose is a box of its own on every guarded form, so it needs the box's
    /// text in every site language; a required one is covered by the consent box
    /// (`[site.texts.<lang>] label`) and may not have a second text.
    fn box_label(
        &self,
        p: &RawPurpose,
        languages: &[String],
        key: &Key,
    ) -> Result<(), ConfigError> {
        if p.required {
            if !p.label.is_empty() {
                return Err(self.err(
                    key,
                    "a required purpose is agreed to with the consent box; its text is \
                     [site.texts.<lang>] label. Remove `label`, or make the purpose optional",
                ));
            }
            return Ok(());
        }
        if let Some(lang) = p.label.keys().find(|l| !languages.contains(l)) {
            return Err(self.err(key, format!("`{lang}` is not one of the site's languages")));
        }
        if let Some(lang) = languages.iter().find(|l| !p.label.contains_key(*l)) {
            return Err(self.err(
                key,
                format!(
                    "no text in `{lang}`: an optional purpose gets its own unticked box on the \
                     form; give its text in every site language, e.g. \
                     label = {{ {lang} = \"I agree to receive news by e-mail\" }}"
                ),
            ));
        }
        if let Some((lang, _)) = p.label.iter().find(|(_, t)| t.trim().is_empty()) {
            return Err(self.err(key, format!("the `{lang}` text is empty")));
        }
        Ok(())
    }
}
