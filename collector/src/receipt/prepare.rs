//! Validation: a [`ReceiptRequest`] checked against the site's configuration and turned into
//! a [`PreparedReceipt`]; withdrawals, holder secrets, field names, page URLs.

use std::collections::HashSet;

use super::*;
use crate::config::Site;
use crate::hash::{hex, is_lower_hex, sha256_hex};
use crate::receipt::subject::SiteKeys;

pub(super) const MAX_PAGE_URL: usize = 2048;
pub(super) const MAX_NAME: usize = 128;
pub(super) const MAX_FIELDS: usize = 200;
pub(super) const MAX_IDENTIFIERS: usize = 8;

pub(super) fn invalid(detail: impl Into<String>) -> ReceiptError {
    ReceiptError::InvalidBody(detail.into())
}

/// Validates `req` against its site and turns it into the content of a receipt. `keys` are
/// the site's ([`crate::receipt::subject::SubjectKey::site`]), `salt` fresh random bytes for this
/// receipt's commitments, `base_url` where this collector serves the policy texts.
pub fn prepare(
    req: ReceiptRequest,
    site: &Site,
    base_url: &str,
    keys: &SiteKeys,
    salt: &[u8; 32],
) -> Result<PreparedReceipt, ReceiptError> {
    if req.site != site.id {
        return Err(ReceiptError::UnknownSite(req.site));
    }
    if !is_lower_hex(&req.key, 32) {
        return Err(invalid(
            "`key` must be 32 lower-case hex digits (16 random bytes)",
        ));
    }
    if !is_lower_hex(&req.subject.browser_id.0, 32) {
        return Err(invalid(
            "`subject.browser_id` must be 32 lower-case hex digits",
        ));
    }
    let holder_sha256 = match &req.secret {
        Some(Secret(secret)) if !is_lower_hex(secret, 32) => {
            return Err(invalid(
                "`secret` must be 32 lower-case hex digits (16 random bytes)",
            ));
        }
        // The reference is public; a secret equal to it would let anyone withdraw.
        Some(Secret(secret)) if *secret == req.key => {
            return Err(invalid(
                "`secret` must not be the `key`: the key is the receipt's public reference; \
                 choose 16 other random bytes",
            ));
        }
        Some(Secret(secret)) => Some(sha256_hex(secret.as_bytes())),
        None => None,
    };
    let Some(texts) = site.texts.get(&req.lang) else {
        return Err(invalid(format!(
            "`lang` `{}` is not one of site `{}`'s languages: {}",
            req.lang,
            site.id,
            site.languages.join(", ")
        )));
    };
    let policy = site.current_policy();
    if req.policy_version != policy.version {
        return Err(ReceiptError::UnknownPolicyVersion {
            site: site.id.clone(),
            got: req.policy_version,
            current: policy.version.clone(),
        });
    }
    check_event(&req)?;
    let (purposes, categories) = match req.kind {
        Kind::Form => {
            let purposes = req.purposes.ok_or_else(|| {
                invalid("a `form` receipt needs `purposes`: the choice for each purpose")
            })?;
            if req.categories.is_some() {
                return Err(invalid(
                    "`categories` belongs to `cookies` receipts; a `form` receipt lists `purposes`",
                ));
            }
            check_purposes(&purposes, req.event, site)?;
            (Some(purposes), None)
        }
        Kind::Cookies => {
            let categories = req.categories.ok_or_else(|| {
                invalid(
                    "a `cookies` receipt needs `categories`: the choice for every cookie category",
                )
            })?;
            if req.purposes.is_some() {
                return Err(invalid(
                    "`purposes` belongs to `form` receipts; a `cookies` receipt lists `categories`",
                ));
            }
            check_categories(&categories, req.event, site)?;
            (None, Some(categories))
        }
    };
    let page_url = clean_page_url(&req.context.page_url)?;
    if let Some(form_id) = &req.context.form_id {
        check_name("context.form_id", form_id)?;
    }
    if req.context.fields.len() > MAX_FIELDS {
        return Err(invalid(format!(
            "`context.fields` lists more than {MAX_FIELDS} names"
        )));
    }
    for name in &req.context.fields {
        check_name("context.fields", name)?;
    }
    let (identifiers, index) = hash_identifiers(&req.subject.identifiers, keys, salt)?;

    // The current policy covers every site language (checked when the config loaded).
    let policy_text = policy.texts.get(&req.lang).ok_or_else(|| {
        invalid(format!(
            "policy `{}` has no text in `{}`",
            policy.version, req.lang
        ))
    })?;
    let policy_ref = PolicyRef {
        version: policy.version.clone(),
        sha256: policy_text.sha256.clone(),
        url: format!(
            "{}?lang={}",
            site.policy_url(base_url, &policy.version),
            req.lang
        ),
    };
    // Cookie receipts reach here only for a site with categories (`check_categories`).
    let notice_sha256 = texts
        .notice_sha256(req.kind == Kind::Cookies, req.context.gpc)
        .unwrap_or_default()
        .to_owned();
    let notice = Notice {
        lang: req.lang,
        sha256: notice_sha256,
    };
    let private = Private {
        browser: keys.browser_hex(&req.subject.browser_id.0),
        salt: (!identifiers.is_empty()).then(|| hex(salt)),
        index,
        holder_sha256,
    };
    let subject = Subject {
        browser_id: None,
        identifiers,
    };
    let context = Context {
        page_url,
        form_id: req.context.form_id,
        fields: req.context.fields,
        gpc: req.context.gpc,
    };
    Ok(PreparedReceipt {
        site: site.id.clone(),
        kind: req.kind,
        event: req.event,
        reference: req.key,
        withdraws: None,
        policy: policy_ref,
        notice,
        purposes,
        categories,
        subject,
        context,
        private,
        request_sha256: String::new(),
    }
    .with_content_hash())
}

/// A stored receipt a withdrawal may be meant for, as [`opened_by`] weighs it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub event: &'a str,
    pub holder_sha256: Option<&'a str>,
}

/// Which of `candidates` (the receipts a reference names, one per site, or the one an id
/// names) `secret` opens: a reference recorded on several sites, by chance or copied there by a
/// stranger, does not stand in its holder's way. If none opens, the answer is that it is not
/// withdrawable when that is true of the one receipt named (its event is public anyway), else
/// that the caller does not hold it.
pub fn opened_by(secret: &str, candidates: &[Candidate<'_>]) -> Result<usize, ReceiptError> {
    if let Some(at) = candidates
        .iter()
        .position(|c| check_holder(secret, c.holder_sha256, c.id).is_ok())
    {
        return Ok(at);
    }
    match candidates {
        [only] => match Event::parse(only.event) {
            Some(event @ (Event::Refused | Event::Withdrawn)) => {
                Err(ReceiptError::NotWithdrawable {
                    id: only.id.to_owned(),
                    event,
                })
            }
            _ => Err(ReceiptError::NotHolder {
                id: only.id.to_owned(),
            }),
        },
        _ => Err(ReceiptError::NotHolder {
            id: candidates.first().map_or("", |c| c.id).to_owned(),
        }),
    }
}

/// Whether `secret` opens a receipt whose holder hash is `stored` (constant time). A receipt
/// without one (payload v1, or sent without a secret) opens for nobody.
pub fn check_holder(secret: &str, stored: Option<&str>, id: &str) -> Result<(), ReceiptError> {
    use subtle::ConstantTimeEq;
    let presented = sha256_hex(secret.as_bytes());
    match stored {
        Some(stored) if bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) => Ok(()),
        _ => Err(ReceiptError::NotHolder { id: id.to_owned() }),
    }
}

/// The withdrawal of `original` (a receipt read back from the log, with what the collector
/// keeps beside it), under the new idempotency key `key`. Who may ask is decided before (the
/// holder of the receipt's secret, [`check_holder`], or the site's admin). It repeats what was
/// consented to (policy, notice, subject, context) with every choice now refused — except
/// cookie categories the site requires, which cannot be refused — and names the withdrawn
/// receipt in `withdraws`. A v1 receipt's subject (a clear browser id, hashes under the one
/// key) is not signed again: the withdrawal names the receipt, which is link enough.
pub fn prepare_withdrawal(
    key: String,
    original: &ReceiptPayload,
    kept: &Private,
    site: &Site,
) -> Result<PreparedReceipt, ReceiptError> {
    if !is_lower_hex(&key, 32) {
        return Err(invalid(
            "`key` must be 32 lower-case hex digits (16 random bytes)",
        ));
    }
    if !matches!(original.event, Event::Given | Event::Updated) {
        return Err(ReceiptError::NotWithdrawable {
            id: original.id.clone(),
            event: original.event,
        });
    }
    let refuse = |choices: &Option<Vec<Choice>>, required: &dyn Fn(&str) -> bool| {
        choices.as_ref().map(|list| {
            list.iter()
                .map(|c| Choice {
                    id: c.id.clone(),
                    granted: required(&c.id),
                })
                .collect::<Vec<_>>()
        })
    };
    let required_category = |id: &str| site.categories.iter().any(|c| c.id == id && c.required);
    Ok(PreparedReceipt {
        site: original.site.clone(),
        kind: original.kind,
        event: Event::Withdrawn,
        reference: key,
        withdraws: Some(original.id.clone()),
        policy: original.policy.clone(),
        notice: original.notice.clone(),
        purposes: refuse(&original.purposes, &|_| false),
        categories: refuse(&original.categories, &required_category),
        subject: if original.v >= 2 {
            original.subject.clone()
        } else {
            Subject {
                browser_id: None,
                identifiers: Vec::new(),
            }
        },
        context: original.context.clone(),
        private: if original.v >= 2 {
            Private {
                holder_sha256: None,
                ..kept.clone()
            }
        } else {
            // Nothing of a v1 subject is repeated, so nothing is indexed either: the
            // withdrawal is found through the receipt it names.
            Private {
                browser: kept.browser.clone(),
                ..Private::default()
            }
        },
        request_sha256: String::new(),
    }
    .with_content_hash())
}

impl PreparedReceipt {
    /// Sets `request_sha256` over the canonical content.
    pub(super) fn with_content_hash(mut self) -> Self {
        let content = ContentRef {
            site: &self.site,
            kind: self.kind,
            event: self.event,
            reference: &self.reference,
            withdraws: self.withdraws.as_deref(),
            policy: &self.policy,
            notice: &self.notice,
            purposes: self.purposes.as_deref(),
            categories: self.categories.as_deref(),
            context: &self.context,
            browser: &self.private.browser,
            index: &self.private.index,
            holder_sha256: self.private.holder_sha256.as_deref(),
        };
        self.request_sha256 =
            sha256_hex(&serde_json::to_vec(&content).expect("receipt content serialises"));
        self
    }
}

/// Withdrawals name the receipt they withdraw, so they have their own endpoint.
pub(super) fn check_event(req: &ReceiptRequest) -> Result<(), ReceiptError> {
    if req.event == Event::Withdrawn {
        return Err(invalid(
            "a withdrawal must name the receipt it withdraws: send it to \
             POST /v1/receipts/{id}/withdraw instead",
        ));
    }
    Ok(())
}

/// Known ids, each at most once.
pub(super) fn check_known<'a>(
    choices: &'a [Choice],
    known: &[&str],
    what: &str,
    site: &str,
) -> Result<HashSet<&'a str>, ReceiptError> {
    let mut seen = HashSet::new();
    for choice in choices {
        if !known.contains(&choice.id.as_str()) {
            return Err(invalid(format!(
                "{what} `{}` is not declared for site `{site}`; known: {}",
                choice.id,
                known.join(", ")
            )));
        }
        if !seen.insert(choice.id.as_str()) {
            return Err(invalid(format!("{what} `{}` is listed twice", choice.id)));
        }
    }
    Ok(seen)
}

pub(super) fn check_purposes(
    choices: &[Choice],
    event: Event,
    site: &Site,
) -> Result<(), ReceiptError> {
    let known: Vec<&str> = site.purposes.iter().map(|p| p.id.as_str()).collect();
    check_known(choices, &known, "purpose", &site.id)?;
    match event {
        // A form consent that is "given" without a required purpose would prove nothing.
        Event::Given => {
            for required in site.purposes.iter().filter(|p| p.required) {
                if !choices.iter().any(|c| c.id == required.id && c.granted) {
                    return Err(invalid(format!(
                        "required purpose `{}` must be granted in a `given` form receipt",
                        required.id
                    )));
                }
            }
        }
        Event::Refused => {
            if let Some(c) = choices.iter().find(|c| c.granted) {
                return Err(invalid(format!(
                    "a `refused` receipt cannot grant purpose `{}`; send `given` or `updated`",
                    c.id
                )));
            }
        }
        Event::Updated | Event::Withdrawn => {}
    }
    Ok(())
}

/// A cookie receipt records a choice for every category, so it shows the whole banner state.
pub(super) fn check_categories(
    choices: &[Choice],
    event: Event,
    site: &Site,
) -> Result<(), ReceiptError> {
    if site.categories.is_empty() {
        return Err(invalid(format!(
            "site `{}` has no cookie categories configured; add [[site.category]] to record cookie consent",
            site.id
        )));
    }
    let known: Vec<&str> = site.categories.iter().map(|c| c.id.as_str()).collect();
    let seen = check_known(choices, &known, "category", &site.id)?;
    if let Some(missing) = known.iter().find(|id| !seen.contains(*id)) {
        return Err(invalid(format!(
            "category `{missing}` is missing; a cookie receipt lists every category ({})",
            known.join(", ")
        )));
    }
    for choice in choices {
        let required = site
            .categories
            .iter()
            .any(|c| c.id == choice.id && c.required);
        if required && !choice.granted {
            return Err(invalid(format!(
                "category `{}` is required and cannot be refused; send it with `granted: true`",
                choice.id
            )));
        }
        match event {
            Event::Given if !choice.granted => {
                return Err(invalid(format!(
                    "a `given` cookie receipt grants every category, but `{}` is not granted; \
                     send `updated` for a partial choice",
                    choice.id
                )));
            }
            Event::Refused if !required && choice.granted => {
                return Err(invalid(format!(
                    "a `refused` cookie receipt grants only required categories, but `{}` is granted; \
                     send `updated` for a partial choice",
                    choice.id
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An absolute http(s) URL without query, fragment or credentials.
pub(super) fn clean_page_url(raw: &str) -> Result<String, ReceiptError> {
    if raw.len() > MAX_PAGE_URL {
        return Err(invalid(format!(
            "`context.page_url` is longer than {MAX_PAGE_URL} bytes"
        )));
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(
            "`context.page_url` contains spaces or control characters",
        ));
    }
    let scheme_len = if raw
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
    {
        7
    } else if raw
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        8
    } else {
        return Err(invalid(
            "`context.page_url` must be an absolute http:// or https:// URL",
        ));
    };
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let (scheme, rest) = raw[..end].split_at(scheme_len);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // Credentials in a page URL are personal data too.
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() {
        return Err(invalid("`context.page_url` has no host"));
    }
    Ok(format!("{}{host}{path}", scheme.to_ascii_lowercase()))
}

pub(super) fn check_name(what: &str, name: &str) -> Result<(), ReceiptError> {
    match name_problem(name) {
        None => Ok(()),
        Some(problem) => Err(invalid(format!(
            "`{what}` entries must be 1-{MAX_NAME} characters that render as themselves and \
             begin with no formula character: {problem}; use the form's plain id and field names"
        ))),
    }
}

/// Characters a spreadsheet reads as the start of a formula (OWASP, "CSV Injection"; tab and
/// carriage return are control characters, refused anyway), with their full-width forms.
pub const FORMULA_LEADS: &[char] = &['=', '+', '-', '@', '＝', '＋', '－', '＠'];

/// Why `name` (a form id or field name, shown later in admin exports) is refused, or `None`.
/// Control characters, bidirectional overrides and other invisible format characters make a
/// name display as something else; a formula lead makes a spreadsheet run it. The widget
/// leaves such names out by the same rule (fixture `tests/fixtures/wire/names.json`).
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Some(format!("{} characters", name.chars().count()));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || is_invisible(*c)) {
        return Some(format!("it contains U+{:04X}", u32::from(c)));
    }
    name.starts_with(FORMULA_LEADS).then(|| {
        format!(
            "it begins with `{}`",
            name.chars().next().unwrap_or_default()
        )
    })
}

/// Bidirectional controls, zero-width and other format characters, line separators.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// The signed commitments (under `salt`) and the site's index entries of `raw`, each distinct
/// identifier once.
pub(super) fn hash_identifiers(
    raw: &[IdentifierRequest],
    keys: &SiteKeys,
    salt: &[u8; 32],
) -> Result<(Vec<SignedIdentifier>, Vec<IndexEntry>), ReceiptError> {
    if raw.len() > MAX_IDENTIFIERS {
        return Err(invalid(format!(
            "`subject.identifiers` has more than {MAX_IDENTIFIERS} entries"
        )));
    }
    let mut signed = Vec::with_capacity(raw.len());
    let mut index: Vec<IndexEntry> = Vec::with_capacity(raw.len());
    for (at, id) in raw.iter().enumerate() {
        let normalised = subject::normalize(id.kind, &id.value).map_err(|source| {
            ReceiptError::InvalidIdentifier {
                index: at,
                kind: id.kind,
                source,
            }
        })?;
        let entry = IndexEntry {
            kind: id.kind,
            hmac: keys.index_hex(&normalised),
        };
        if index.contains(&entry) {
            continue;
        }
        signed.push(SignedIdentifier {
            kind: id.kind,
            hmac: None,
            commitment: Some(subject::commitment_hex(salt, &normalised)),
        });
        index.push(entry);
    }
    Ok((signed, index))
}
