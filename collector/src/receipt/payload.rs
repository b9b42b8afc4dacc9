//! The signed payload (schema v2, and v1 as read back; docs/receipt.md) and its parts, the
//! prepared receipt with its private part, and sealing it into a compact JWS.

use serde::{Deserialize, Serialize};

use super::*;
use crate::keys::Signer;
use crate::receipt::subject::IdentifierKind;

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
pub(super) struct PayloadRef<'a> {
    pub(super) v: u32,
    pub(super) id: &'a str,
    pub(super) seq: i64,
    pub(super) issued_at: &'a str,
    pub(super) site: &'a str,
    pub(super) kind: Kind,
    pub(super) event: Event,
    #[serde(rename = "ref")]
    pub(super) reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) withdraws: Option<&'a str>,
    pub(super) policy: &'a PolicyRef,
    pub(super) notice: &'a Notice,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) purposes: Option<&'a [Choice]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) categories: Option<&'a [Choice]>,
    pub(super) subject: &'a Subject,
    pub(super) context: &'a Context,
    pub(super) prev: &'a str,
}

/// The content the idempotency hash covers: the signed content without its random parts
/// (the commitments), with the private parts that are not random.
#[derive(Serialize)]
pub(super) struct ContentRef<'a> {
    pub(super) site: &'a str,
    pub(super) kind: Kind,
    pub(super) event: Event,
    pub(super) reference: &'a str,
    pub(super) withdraws: Option<&'a str>,
    pub(super) policy: &'a PolicyRef,
    pub(super) notice: &'a Notice,
    pub(super) purposes: Option<&'a [Choice]>,
    pub(super) categories: Option<&'a [Choice]>,
    pub(super) context: &'a Context,
    pub(super) browser: &'a str,
    pub(super) index: &'a [IndexEntry],
    pub(super) holder_sha256: Option<&'a str>,
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
