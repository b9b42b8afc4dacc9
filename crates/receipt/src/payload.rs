//! The signed payload of a receipt (schema v2, and v1 as read back; docs/receipt.md) and its
//! parts, as a verifier reads them and as the collector writes them ([`PayloadRef::seal`]).
//!
//! Field order is the wire order. The doc comments of the types are also the descriptions of
//! the collector's OpenAPI document (feature `openapi`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::jws::Signer;

/// Payload format version (`v`) of the receipts the collector signs. Version 1 (a clear
/// `subject.browser_id` and `identifiers[].hmac` under the collector's one key) is still read.
pub const PAYLOAD_VERSION: u32 = 2;

/// What kind of consent a receipt records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // the variants are the wire words; a doc would change the OpenAPI schema
pub enum Kind {
    Form,
    Cookies,
}

/// What happened to the consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // the variants are the wire words; a doc would change the OpenAPI schema
pub enum Event {
    Given,
    Refused,
    Withdrawn,
    Updated,
}

impl Kind {
    /// The wire name, as stored in a `kind` column.
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

    /// The wire name, as stored in an `event` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Given => "given",
            Self::Refused => "refused",
            Self::Withdrawn => "withdrawn",
            Self::Updated => "updated",
        }
    }
}

/// Which kind of identifier a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // the variants are the wire words; a doc would change the OpenAPI schema
pub enum IdentifierKind {
    Phone,
    Email,
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Phone => "phone",
            Self::Email => "email",
        })
    }
}

/// A visitor's choice for one purpose or cookie category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The purpose's or category's id in the site's configuration.
    pub id: String,
    /// Whether the visitor consented to it.
    pub granted: bool,
}

/// The policy a receipt was given under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyRef {
    /// The site's policy version.
    pub version: String,
    /// Hex SHA-256 of the policy text in the notice's language.
    pub sha256: String,
    /// Where the policy text is served.
    pub url: String,
}

/// The text the visitor was shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notice {
    /// Its language.
    pub lang: String,
    /// Hex SHA-256 of the text.
    pub sha256: String,
}

/// A phone or e-mail as a signed payload names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedIdentifier {
    /// Phone or e-mail.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subject {
    /// v1 only: the widget's per-browser id in clear. v2 signs no browser identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_id: Option<String>,
    /// The identifiers the visitor typed, as committed to.
    pub identifiers: Vec<SignedIdentifier>,
}

/// Where the consent was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Context {
    /// The page, without query, fragment or credentials.
    pub page_url: String,
    /// The form's id, for `kind: form`.
    pub form_id: Option<String>,
    /// Names of the form's fields that were filled in (never their values).
    pub fields: Vec<String>,
    /// Whether the browser sent Global Privacy Control.
    pub gpc: bool,
}

/// The signed payload (schema v2, or v1, docs/receipt.md) as read back (audit, verify, the
/// receipt page). Field order is the wire order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptPayload {
    /// Payload schema version: 2 (1 for receipts signed before issue 13).
    pub v: u32,
    /// UUIDv7, assigned by the collector.
    pub id: String,
    /// Position in the collector's log, from 1, without gaps.
    pub seq: i64,
    /// When the collector committed it: RFC 3339 UTC with milliseconds.
    pub issued_at: String,
    /// The site's id.
    pub site: String,
    /// Form or cookies.
    pub kind: Kind,
    /// What happened to the consent.
    pub event: Event,
    /// The idempotency key the widget chose: the receipt's public reference.
    #[serde(rename = "ref")]
    pub reference: String,
    /// `withdrawn` receipts only: the `id` of the receipt withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdraws: Option<String>,
    /// The policy in force.
    pub policy: PolicyRef,
    /// The text shown.
    pub notice: Notice,
    /// `kind: form`: the choice per purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purposes: Option<Vec<Choice>>,
    /// `kind: cookies`: the choice per cookie category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<Choice>>,
    /// Who, as commitments.
    pub subject: Subject,
    /// Where.
    pub context: Context,
    /// Hex SHA-256 of the previous receipt's compact JWS; 64 zeros for the first.
    pub prev: String,
}

/// The payload as written: borrows everything, same fields and order as [`ReceiptPayload`].
#[derive(Debug, Serialize)]
#[allow(missing_docs)] // each field is the [`ReceiptPayload`] field of the same name
pub struct PayloadRef<'a> {
    pub v: u32,
    pub id: &'a str,
    pub seq: i64,
    pub issued_at: &'a str,
    pub site: &'a str,
    pub kind: Kind,
    pub event: Event,
    #[serde(rename = "ref")]
    pub reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdraws: Option<&'a str>,
    pub policy: &'a PolicyRef,
    pub notice: &'a Notice,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purposes: Option<&'a [Choice]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<&'a [Choice]>,
    pub subject: &'a Subject,
    pub context: &'a Context,
    pub prev: &'a str,
}

impl PayloadRef<'_> {
    /// Serialises the payload and signs it: the receipt's compact JWS.
    pub fn seal(&self, signer: &Signer) -> String {
        // Plain structs of strings, numbers and bools always serialise.
        let bytes = serde_json::to_vec(self).expect("receipt payload serialises");
        signer.sign_compact(&bytes)
    }
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
