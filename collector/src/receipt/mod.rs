//! Consent receipts: the request model (docs/wire.md), its validation, and the signed payload
//! (schema v2, and v1 as read back; docs/receipt.md).
//!
//! The path of a receipt is: [`ReceiptRequest`] (exactly what the widget sent, unknown fields
//! refused) → [`prepare`] (validated against the site's config; identifiers turned into the
//! site's index entries and the receipt's salted commitments; the browser's secret into its
//! pseudonym; the withdrawal secret into its hash; page URL stripped of query and fragment) →
//! [`PreparedReceipt`] (the signed content and the [`Private`] part kept beside it, everything
//! but the log position) → [`PreparedReceipt::seal`], called by the store's writer once it has
//! assigned `id`, `seq`, `issued_at` and `prev`. A withdrawal is made from the receipt it
//! withdraws by [`prepare_withdrawal`], once [`check_holder`] accepted the secret. Pure logic,
//! no IO (the caller brings the salt).

pub mod subject;
pub mod verify;

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::Site;
use crate::hash::{hex, is_lower_hex, sha256_hex};
use crate::keys::Signer;
use crate::receipt::subject::{IdentifierError, IdentifierKind, SiteKeys};

/// Payload format version (`v`) of the receipts this collector signs. Version 1 (a clear
/// `subject.browser_id` and `identifiers[].hmac` under the collector's one key) is still read.
pub const PAYLOAD_VERSION: u32 = 2;

/// A request the collector refuses, before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("{0}")]
    InvalidBody(String),
    #[error("no site `{0}` is configured on this collector")]
    UnknownSite(String),
    #[error("policy version `{got}` is not the current policy `{current}` of site `{site}`")]
    UnknownPolicyVersion {
        site: String,
        got: String,
        current: String,
    },
    #[error("subject.identifiers[{index}] ({kind}): {source}")]
    InvalidIdentifier {
        index: usize,
        kind: IdentifierKind,
        source: IdentifierError,
    },
    #[error(
        "receipt {id} records `{event}`, which cannot be withdrawn; only `given` and `updated` consents can"
    )]
    NotWithdrawable { id: String, event: Event },
    #[error(
        "this secret does not open receipt {id}: only the browser that recorded it holds its \
         withdrawal secret; the site's operator withdraws it on the visitor's request"
    )]
    NotHolder { id: String },
}

/// What kind of consent a receipt records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Form,
    Cookies,
}

/// What happened to the consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Given,
    Refused,
    Withdrawn,
    Updated,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Form => "form",
            Self::Cookies => "cookies",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// The event a stored `event` column names.
    pub fn parse(text: &str) -> Option<Event> {
        match text {
            "given" => Some(Self::Given),
            "refused" => Some(Self::Refused),
            "withdrawn" => Some(Self::Withdrawn),
            "updated" => Some(Self::Updated),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Given => "given",
            Self::Refused => "refused",
            Self::Withdrawn => "withdrawn",
            Self::Updated => "updated",
        }
    }
}

// ---- request ---------------------------------------------------------------------------

/// `POST /v1/receipts` body: one consent event.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    /// The site id of the script tag's `data-site`.
    pub site: String,
    pub kind: Kind,
    /// `given`, `refused` or `updated`; a withdrawal goes to `POST /v1/receipts/{id}/withdraw`.
    pub event: Event,
    /// Idempotency key and public reference: 32 lower-case hex digits.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub key: String,
    /// The receipt's withdrawal secret: 32 lower-case hex digits the widget chose (not the
    /// `key`), sent this once. The collector keeps only its SHA-256, never signs or serves
    /// it, and withdraws the receipt for whoever presents it. Without it only the site's
    /// operator can withdraw the receipt.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{32}$")]
    pub secret: Option<Secret>,
    /// The site's current policy version, as the widget's config named it.
    pub policy_version: String,
    /// The language the visitor saw the label in.
    pub lang: String,
    /// `kind: form` only: the choice for each purpose.
    pub purposes: Option<Vec<Choice>>,
    /// `kind: cookies` only: the choice for every configured cookie category.
    pub categories: Option<Vec<Choice>>,
    pub subject: SubjectRequest,
    pub context: ContextRequest,
}

/// A visitor's choice for one purpose or cookie category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub id: String,
    pub granted: bool,
}

/// A secret the widget holds; its `Debug` never shows it, so it cannot reach a log.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectRequest {
    /// The browser's random secret, kept by the widget: 32 lower-case hex digits. Never
    /// signed or served: the collector keeps only a keyed hash of it per site (the browser's
    /// pseudonym, which links one browser's choices).
    #[schema(value_type = String, pattern = "^[0-9a-f]{32}$")]
    pub browser_id: Secret,
    /// Phone numbers and e-mail addresses the form collected; only their keyed hashes are kept.
    #[serde(default)]
    pub identifiers: Vec<IdentifierRequest>,
}

/// A raw identifier; its `Debug` never shows the value, so it cannot reach a log.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifierRequest {
    #[serde(rename = "type")]
    pub kind: IdentifierKind,
    /// As typed; normalised (E.164 phone, lower-case e-mail), hashed and discarded.
    pub value: String,
}

impl fmt::Debug for IdentifierRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentifierRequest")
            .field("kind", &self.kind)
            .field("value", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextRequest {
    /// The page's URL; query and fragment are removed before signing.
    pub page_url: String,
    pub form_id: Option<String>,
    /// The *names* of the form's fields, never their values.
    pub fields: Vec<String>,
    /// The browser's Global Privacy Control signal.
    pub gpc: bool,
}

/// `POST /v1/receipts/{id}/withdraw` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Idempotency key and reference of the withdrawal: 32 lower-case hex digits, new.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub key: String,
    /// The withdrawn receipt's secret, as its `POST /v1/receipts` sent it.
    #[schema(value_type = String, pattern = "^[0-9a-f]{32}$")]
    pub secret: Secret,
}

// ---- payload parts (signed) ------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyRef {
    pub version: String,
    pub sha256: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notice {
    pub lang: String,
    pub sha256: String,
}

/// A phone or e-mail as a signed payload names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignedIdentifier {
    #[serde(rename = "type")]
    pub kind: IdentifierKind,
    /// v1 only: HMAC-SHA-256 of the normalised value under the collector's one secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<String>,
    /// v2: HMAC-SHA-256 of the normalised value keyed with this receipt's own salt, which the
    /// collector keeps (never serves to the public) and destroys on erasure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<String>,
}

/// `subject` of a signed payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subject {
    /// v1 only: the widget's per-browser id in clear. v2 signs no browser identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_id: Option<String>,
    pub identifiers: Vec<SignedIdentifier>,
}

/// One entry of the subject index (`subject_hashes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexEntry {
    pub kind: IdentifierKind,
    /// The site's keyed hash of the normalised identifier (v1: under the one secret).
    pub hmac: String,
}

/// What the collector keeps beside a receipt and never signs nor serves to the public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Private {
    /// Column `browser_id`: the browser's pseudonym on the site (a keyed hash of the secret
    /// the widget holds); v1 stored the widget's clear id.
    pub browser: String,
    /// The subject index entries of the receipt's identifiers.
    pub index: Vec<IndexEntry>,
    /// Hex salt of the payload's commitments: `None` without identifiers, and once erased.
    pub salt: Option<String>,
    /// Hex SHA-256 of the withdrawal secret: `None` for a withdrawal or a request without one.
    pub holder_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Context {
    pub page_url: String,
    pub form_id: Option<String>,
    pub fields: Vec<String>,
    pub gpc: bool,
}

/// A validated receipt waiting for its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedReceipt {
    pub site: String,
    pub kind: Kind,
    pub event: Event,
    /// The idempotency key, also the public reference.
    pub reference: String,
    /// For a withdrawal: the id of the receipt it withdraws.
    pub withdraws: Option<String>,
    pub policy: PolicyRef,
    pub notice: Notice,
    pub purposes: Option<Vec<Choice>>,
    pub categories: Option<Vec<Choice>>,
    pub subject: Subject,
    pub context: Context,
    /// Kept beside the receipt, never signed.
    pub private: Private,
    /// Hex SHA-256 of the canonical content (no raw identifiers, no random salt, but the
    /// browser's pseudonym and the secret's hash, which a stranger cannot know): equal for a
    /// retry of the same consent event, different for anything else under the same key.
    pub request_sha256: String,
}

/// The log position the writer assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub id: String,
    pub seq: i64,
    pub issued_at: String,
    pub prev: String,
}

/// The signed payload (schema v2, or v1, docs/receipt.md) as read back (audit, verify, the
/// receipt page). Field order is the wire order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptPayload {
    /// Payload schema version: 2 (1 for receipts signed before issue 13).
    pub v: u32,
    /// UUIDv7, assigned by the collector.
    pub id: String,
    /// Position in the collector's log, from 1, without gaps.
    pub seq: i64,
    /// When the collector committed it: RFC 3339 UTC with milliseconds.
    pub issued_at: String,
    pub site: String,
    pub kind: Kind,
    pub event: Event,
    /// The idempotency key the widget chose: the receipt's public reference.
    #[serde(rename = "ref")]
    pub reference: String,
    /// `withdrawn` receipts only: the `id` of the receipt withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdraws: Option<String>,
    pub policy: PolicyRef,
    pub notice: Notice,
    /// `kind: form`: the choice per purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purposes: Option<Vec<Choice>>,
    /// `kind: cookies`: the choice per cookie category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<Choice>>,
    pub subject: Subject,
    pub context: Context,
    /// Hex SHA-256 of the previous receipt's compact JWS; 64 zeros for the first.
    pub prev: String,
}

/// The payload as written: borrows everything, same field order as [`ReceiptPayload`].
#[derive(Serialize)]
struct PayloadRef<'a> {
    v: u32,
    id: &'a str,
    seq: i64,
    issued_at: &'a str,
    site: &'a str,
    kind: Kind,
    event: Event,
    #[serde(rename = "ref")]
    reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    withdraws: Option<&'a str>,
    policy: &'a PolicyRef,
    notice: &'a Notice,
    #[serde(skip_serializing_if = "Option::is_none")]
    purposes: Option<&'a [Choice]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    categories: Option<&'a [Choice]>,
    subject: &'a Subject,
    context: &'a Context,
    prev: &'a str,
}

/// The content the idempotency hash covers: the signed content without its random parts
/// (the commitments), with the private parts that are not random.
#[derive(Serialize)]
struct ContentRef<'a> {
    site: &'a str,
    kind: Kind,
    event: Event,
    reference: &'a str,
    withdraws: Option<&'a str>,
    policy: &'a PolicyRef,
    notice: &'a Notice,
    purposes: Option<&'a [Choice]>,
    categories: Option<&'a [Choice]>,
    context: &'a Context,
    browser: &'a str,
    index: &'a [IndexEntry],
    holder_sha256: Option<&'a str>,
}

impl PreparedReceipt {
    /// Builds the payload for `stamp` and signs it: the compact JWS.
    pub fn seal(&self, stamp: &Stamp, signer: &Signer) -> String {
        let payload = PayloadRef {
            v: PAYLOAD_VERSION,
            id: &stamp.id,
            seq: stamp.seq,
            issued_at: &stamp.issued_at,
            site: &self.site,
            kind: self.kind,
            event: self.event,
            reference: &self.reference,
            withdraws: self.withdraws.as_deref(),
            policy: &self.policy,
            notice: &self.notice,
            purposes: self.purposes.as_deref(),
            categories: self.categories.as_deref(),
            subject: &self.subject,
            context: &self.context,
            prev: &stamp.prev,
        };
        // Plain structs of strings, numbers and bools always serialise.
        let bytes = serde_json::to_vec(&payload).expect("receipt payload serialises");
        signer.sign_compact(&bytes)
    }
}

// ---- validation ------------------------------------------------------------------------

const MAX_PAGE_URL: usize = 2048;
const MAX_NAME: usize = 128;
const MAX_FIELDS: usize = 200;
const MAX_IDENTIFIERS: usize = 8;

fn invalid(detail: impl Into<String>) -> ReceiptError {
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
    fn with_content_hash(mut self) -> Self {
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
fn check_event(req: &ReceiptRequest) -> Result<(), ReceiptError> {
    if req.event == Event::Withdrawn {
        return Err(invalid(
            "a withdrawal must name the receipt it withdraws: send it to \
             POST /v1/receipts/{id}/withdraw instead",
        ));
    }
    Ok(())
}

/// Known ids, each at most once.
fn check_known<'a>(
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

fn check_purposes(choices: &[Choice], event: Event, site: &Site) -> Result<(), ReceiptError> {
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
fn check_categories(choices: &[Choice], event: Event, site: &Site) -> Result<(), ReceiptError> {
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
fn clean_page_url(raw: &str) -> Result<String, ReceiptError> {
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

fn check_name(what: &str, name: &str) -> Result<(), ReceiptError> {
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
fn is_invisible(c: char) -> bool {
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
fn hash_identifiers(
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

/// The payload of a compact JWS *without* checking its signature: for showing a receipt
/// whose signature failed, never for deciding anything.
pub fn decode_unverified(jws: &str) -> Option<ReceiptPayload> {
    use base64::Engine;
    let part = jws.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn demo_site() -> Site {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo");
        let config = Config::load(&dir.join("kelisim.toml")).expect("demo config");
        config.site("demo").expect("demo site").clone()
    }

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/wire")
            .join(name);
        std::fs::read_to_string(path).expect("fixture")
    }

    fn request(json: &str) -> ReceiptRequest {
        serde_json::from_str(json).expect("request parses")
    }

    fn keys() -> SiteKeys {
        crate::receipt::subject::SubjectKey::from_bytes([1; 32]).site("demo")
    }

    const SALT: [u8; 32] = [7; 32];

    fn prepared(json: &str) -> Result<PreparedReceipt, ReceiptError> {
        prepare(request(json), &demo_site(), BASE, &keys(), &SALT)
    }

    const BASE: &str = "http://127.0.0.1:8080";

    #[test]
    fn fixture_form_given_prepares_with_hashed_phone() {
        let site = demo_site();
        let prepared = prepared(&fixture("receipt_request_form_given.json")).expect("valid");
        assert_eq!(prepared.reference, "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3");
        assert_eq!(
            prepared.notice.sha256,
            sha256_hex(site.texts["ru"].label.as_bytes())
        );
        assert_eq!(
            prepared.policy.sha256,
            site.current_policy().texts["ru"].sha256
        );
        assert_eq!(
            prepared.policy.url,
            "http://127.0.0.1:8080/v1/sites/demo/policies/2026-03?lang=ru"
        );
        // Signed: a commitment under this receipt's salt; kept: the site's index entry.
        assert_eq!(
            prepared.subject,
            Subject {
                browser_id: None,
                identifiers: vec![SignedIdentifier {
                    kind: IdentifierKind::Phone,
                    hmac: None,
                    commitment: Some(crate::receipt::subject::commitment_hex(
                        &SALT,
                        "+77011234567"
                    )),
                }]
            }
        );
        assert_eq!(
            prepared.private.index,
            [IndexEntry {
                kind: IdentifierKind::Phone,
                hmac: keys().index_hex("+77011234567")
            }]
        );
        assert_eq!(prepared.private.salt, Some(hex(&SALT)));
        assert_eq!(
            prepared.private.browser,
            keys().browser_hex("5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94")
        );
        let secret = "9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c";
        assert_eq!(
            prepared.private.holder_sha256,
            Some(sha256_hex(secret.as_bytes()))
        );
        let debug = format!("{prepared:?}");
        assert!(!debug.contains("701"), "no raw phone anywhere: {debug}");
        assert!(!debug.contains(secret), "no secret anywhere: {debug}");
        assert!(
            !debug.contains("5f0c8e2a"),
            "no browser secret anywhere: {debug}"
        );
    }

    #[test]
    fn the_secret_opens_the_receipt_and_nothing_else_does() {
        let secret = "9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c";
        let stored = sha256_hex(secret.as_bytes());
        assert_eq!(check_holder(secret, Some(&stored), "r"), Ok(()));
        for wrong in ["", "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", &stored] {
            assert!(check_holder(wrong, Some(&stored), "r").is_err(), "{wrong}");
        }
        assert!(
            check_holder(secret, None, "r").is_err(),
            "a receipt without a secret opens for nobody"
        );
        let base = fixture("receipt_request_form_given.json");
        for (from, to, want) in [
            (
                secret,
                "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3",
                "must not be the `key`",
            ),
            (secret, "short", "`secret` must be 32 lower-case hex"),
        ] {
            let err = prepared(&base.replace(from, to)).expect_err(want);
            assert!(err.to_string().contains(want), "{err}");
        }
    }

    #[test]
    fn the_withdraw_fixture_opens_the_cookie_fixture_and_nothing_else() {
        let withdraw: WithdrawRequest =
            serde_json::from_str(&fixture("withdraw_request.json")).expect("fixture parses");
        let json = fixture("receipt_request_cookies_updated.json").replace(
            r#"{ "id": "marketing", "granted": false }"#,
            r#"{ "id": "marketing", "granted": false }, { "id": "session_recording", "granted": false }"#,
        );
        let cookies = prepared(&json).expect("valid");
        let holder = cookies.private.holder_sha256.as_deref();
        assert_eq!(check_holder(&withdraw.secret.0, holder, "r"), Ok(()));
        let form = prepared(&fixture("receipt_request_form_given.json")).expect("valid");
        assert!(
            check_holder(
                &withdraw.secret.0,
                form.private.holder_sha256.as_deref(),
                "r"
            )
            .is_err()
        );
        let v1_body = r#"{ "key": "5b8e2d4f6a1c3e5f7b9d0a2c4e6f8a1b", "browser_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90" }"#;
        let err = serde_json::from_str::<WithdrawRequest>(v1_body).expect_err("v1's body");
        assert!(err.to_string().contains("browser_id"), "{err}");
    }

    #[test]
    fn the_secret_picks_the_receipt_it_opens_among_those_a_reference_names() {
        let secret = "9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c";
        let held = sha256_hex(secret.as_bytes());
        let mine = Candidate {
            id: "mine",
            event: "given",
            holder_sha256: Some(&held),
        };
        let copy = Candidate {
            id: "copy",
            event: "given",
            holder_sha256: Some("00"),
        };
        assert_eq!(opened_by(secret, &[copy, mine]), Ok(1));
        assert!(matches!(
            opened_by("ff", &[copy, mine]),
            Err(ReceiptError::NotHolder { .. })
        ));
        let refused = Candidate {
            event: "refused",
            ..copy
        };
        assert!(matches!(
            opened_by(secret, &[refused]),
            Err(ReceiptError::NotWithdrawable {
                event: Event::Refused,
                ..
            })
        ));
        let v1 = Candidate {
            holder_sha256: None,
            ..mine
        };
        assert!(matches!(
            opened_by(secret, &[v1]),
            Err(ReceiptError::NotHolder { .. })
        ));
    }

    #[test]
    fn names_are_refused_by_the_table_both_sides_test() {
        let table: serde_json::Value =
            serde_json::from_str(&fixture("names.json")).expect("names.json");
        for (list, refused) in [("accepted", false), ("refused", true)] {
            for name in table[list].as_array().expect(list) {
                let name = name.as_str().expect("string");
                assert_eq!(name_problem(name).is_some(), refused, "{name:?}");
            }
        }
    }

    #[test]
    fn a_cookie_receipt_names_the_banner_text_shown() {
        let site = demo_site();
        // The wire fixture lists the three standard categories; the demo has a fourth.
        let json = fixture("receipt_request_cookies_updated.json").replace(
            r#"{ "id": "marketing", "granted": false }"#,
            r#"{ "id": "marketing", "granted": false }, { "id": "session_recording", "granted": false }"#,
        );
        let banner = site.texts["en"]
            .cookies
            .clone()
            .expect("the demo has a banner");
        let receipt = prepared(&json).expect("valid");
        assert_eq!(receipt.notice.lang, "en");
        assert_eq!(
            receipt.notice.sha256, banner.notice_sha256[1],
            "the fixture's browser sent GPC: the note was shown"
        );
        let without_gpc = json.replace(r#""gpc": true"#, r#""gpc": false"#);
        let receipt = prepared(&without_gpc).expect("valid");
        assert_eq!(receipt.notice.sha256, banner.notice_sha256[0]);
        assert_ne!(banner.notice_sha256[0], banner.notice_sha256[1]);
        assert_ne!(receipt.notice.sha256, site.texts["en"].label_sha256);
    }

    #[test]
    fn unknown_field_fixture_is_refused_by_serde() {
        let err =
            serde_json::from_str::<ReceiptRequest>(&fixture("receipt_request_unknown_field.json"))
                .expect_err("unknown field");
        assert!(
            err.to_string().starts_with("unknown field `phone`"),
            "{err}"
        );
    }

    #[test]
    fn page_url_loses_query_fragment_and_credentials() {
        let cases = [
            (
                "http://127.0.0.1:8080/contact.html?phone=87011234567#top",
                "http://127.0.0.1:8080/contact.html",
            ),
            ("HTTPS://example.kz", "https://example.kz"),
            ("https://user:pw@example.kz/a/b?x", "https://example.kz/a/b"),
            ("https://example.kz#frag", "https://example.kz"),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_page_url(raw).as_deref(), Ok(want), "{raw}");
        }
        for bad in [
            "ftp://example.kz",
            "/contact.html",
            "https://",
            "https://a b",
            "javascript:alert(1)",
        ] {
            assert!(clean_page_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_refusals() {
        let base = fixture("receipt_request_form_given.json");
        let cases: [(&str, &str, &str); 8] = [
            (
                "\"key\": \"0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3\"",
                "\"key\": \"short\"",
                "`key` must be 32 lower-case hex",
            ),
            (
                "\"policy_version\": \"2026-03\"",
                "\"policy_version\": \"2025-01\"",
                "policy version `2025-01` is not the current policy `2026-03`",
            ),
            (
                "\"lang\": \"ru\"",
                "\"lang\": \"de\"",
                "`lang` `de` is not one of site `demo`'s languages: ru, kk, en",
            ),
            (
                "\"id\": \"feedback\", \"granted\": true",
                "\"id\": \"ads\", \"granted\": true",
                "purpose `ads` is not declared",
            ),
            (
                "\"granted\": true",
                "\"granted\": false",
                "required purpose `feedback` must be granted",
            ),
            (
                "\"value\": \"8 (701) 123-45-67\"",
                "\"value\": \"12\"",
                "subject.identifiers[0] (phone): cannot tell the country",
            ),
            (
                "\"page_url\": \"http://",
                "\"page_url\": \"file://",
                "must be an absolute http",
            ),
            (
                "\"fields\": [\"name\", ",
                "\"fields\": [\"\", ",
                "`context.fields` entries",
            ),
        ];
        for (from, to, want) in cases {
            let json = base.replacen(from, to, 1);
            assert_ne!(json, base, "replacement {from:?} applies");
            let err = prepared(&json).expect_err(want);
            assert!(
                err.to_string().starts_with(want) || err.to_string().contains(want),
                "got {err}, want {want}"
            );
        }
    }

    #[test]
    fn request_hash_is_stable_across_spellings_and_changes_with_content() {
        let base = fixture("receipt_request_form_given.json");
        let hash = |json: &str| prepared(json).expect("valid").request_sha256;
        let h = hash(&base);
        assert_eq!(
            h,
            hash(&base.replace("8 (701) 123-45-67", "+7 701 123 45 67"))
        );
        assert_eq!(
            h,
            hash(&base.replace("contact.html\"", "contact.html?utm=x\""))
        );
        assert_ne!(h, hash(&base.replace("\"gpc\": false", "\"gpc\": true")));
        assert_ne!(
            h,
            hash(&base.replace("\"lang\": \"ru\"", "\"lang\": \"kk\""))
        );
        // What a stranger cannot know changes it too: a replay of a victim's key with
        // everything the public receipt shows is a conflict, whatever phone it guesses.
        assert_ne!(h, hash(&base.replace("5f0c8e2a", "00000000")), "browser");
        assert_ne!(h, hash(&base.replace("9d4e2c7a", "00000000")), "secret");
        // The salt is random per attempt and does not count.
        let again = prepare(request(&base), &demo_site(), BASE, &keys(), &[8; 32]).expect("valid");
        assert_eq!(h, again.request_sha256);
    }

    #[test]
    fn sealed_payload_round_trips_in_wire_order() {
        let prepared = prepared(&fixture("receipt_request_minimal.json")).expect("valid");
        let signer = Signer::new(ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
        let stamp = Stamp {
            id: "019a4f7e-8c1b-7d2e-9a3f-4b5c6d7e8f90".into(),
            seq: 42,
            issued_at: "2026-11-21T09:15:02.123Z".into(),
            prev: crate::log::GENESIS_PREV.into(),
        };
        let jws = prepared.seal(&stamp, &signer);
        let payload_b64 = jws.split('.').nth(1).expect("payload");
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload_b64)
            .expect("b64");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        let payload: ReceiptPayload = serde_json::from_slice(&bytes).expect("parses back");
        assert_eq!(
            serde_json::to_string(&payload).expect("ser"),
            text,
            "same bytes, same order"
        );
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
                .expect("object")
                .keys()
                .cloned()
                .collect();
        // serde_json's Map sorts keys, so check the order on the text itself.
        let positions: Vec<usize> = [
            "\"v\"",
            "\"id\"",
            "\"seq\"",
            "\"issued_at\"",
            "\"site\"",
            "\"kind\"",
            "\"event\"",
            "\"ref\"",
            "\"policy\"",
            "\"notice\"",
            "\"purposes\"",
            "\"subject\"",
            "\"context\"",
            "\"prev\"",
        ]
        .iter()
        .map(|k| text.find(k).expect("key present"))
        .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "wire key order: {text}"
        );
        assert_eq!(keys.len(), 14);
        assert_eq!(payload.context.form_id, None);
        assert_eq!(payload.subject.identifiers, []);
        assert_eq!(payload.notice.lang, "kk");
    }

    #[test]
    fn v1_payloads_still_read_and_their_withdrawal_signs_no_v1_subject() {
        let v1 = concat!(
            r#"{"v":1,"id":"019a4f7e-8c1b-7d2e-9a3f-4b5c6d7e8f90","seq":3,"#,
            r#""issued_at":"2026-11-21T09:15:02.123Z","site":"demo","kind":"form","#,
            r#""event":"given","ref":"0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3","#,
            r#""policy":{"version":"2026-03","sha256":"9c1e","url":"http://x/p"},"#,
            r#""notice":{"lang":"ru","sha256":"51f0"},"purposes":[{"id":"feedback","granted":true}],"#,
            r#""subject":{"browser_id":"5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94","#,
            r#""identifiers":[{"type":"phone","hmac":"d41c"}]},"#,
            r#""context":{"page_url":"http://x/contact.html","form_id":"feedback","#,
            r#""fields":["name","phone"],"gpc":false},"prev":"00"}"#
        );
        let payload: ReceiptPayload = serde_json::from_str(v1).expect("v1 reads");
        assert_eq!(serde_json::to_string(&payload).expect("ser"), v1);
        let kept = Private {
            browser: "5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94".into(),
            index: vec![IndexEntry {
                kind: IdentifierKind::Phone,
                hmac: "d41c".into(),
            }],
            salt: None,
            holder_sha256: None,
        };
        let withdrawal =
            prepare_withdrawal("1".repeat(32), &payload, &kept, &demo_site()).expect("valid");
        assert_eq!(
            withdrawal.subject,
            Subject {
                browser_id: None,
                identifiers: Vec::new()
            },
            "the clear browser id and v1 hash are not signed again"
        );
        assert!(
            withdrawal.private.index.is_empty(),
            "indexed as signed: nothing"
        );
        assert_eq!(
            withdrawal.private.browser, kept.browser,
            "the same browser's"
        );
        assert_eq!(withdrawal.withdraws.as_deref(), Some(payload.id.as_str()));
        assert_eq!(
            withdrawal.purposes,
            Some(vec![Choice {
                id: "feedback".into(),
                granted: false
            }])
        );
    }
}
