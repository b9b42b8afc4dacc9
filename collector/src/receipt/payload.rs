//! The prepared receipt with its private part, and sealing it into a compact JWS. The signed
//! payload's types are `kelisim_receipt::payload`'s.

use kelisim_receipt::payload::PayloadRef;
use serde::Serialize;

use super::*;
use crate::keys::Signer;
use crate::receipt::subject::IdentifierKind;

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

/// The log position the writer assigns. Payload v3 links to no previous receipt, so a
/// receipt can be signed as soon as it has its stamp, in parallel with the others of its
/// batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub id: String,
    pub seq: i64,
    pub issued_at: String,
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
            prev: None,
        };
        payload.seal(signer)
    }
}

/// A fixture for the store's tests, the crate's own and the API suite's (built with
/// `testing`): one form consent, so each test does not spell a receipt out again.
#[cfg(any(test, feature = "testing"))]
impl PreparedReceipt {
    /// A form consent of site `demo` under `reference` (also what its request hashes to),
    /// given to policy `2026-03` in Russian, its subject one phone whose keyed hash is `hmac`.
    pub fn example(reference: &str, hmac: &str) -> PreparedReceipt {
        use crate::hash::sha256_hex;
        PreparedReceipt {
            site: "demo".into(),
            kind: Kind::Form,
            event: Event::Given,
            reference: reference.into(),
            withdraws: None,
            policy: PolicyRef {
                version: "2026-03".into(),
                sha256: "ab".repeat(32),
                url: "http://x/p".into(),
            },
            notice: Notice {
                lang: "ru".into(),
                sha256: "cd".repeat(32),
            },
            purposes: Some(vec![Choice {
                id: "feedback".into(),
                granted: true,
            }]),
            categories: None,
            subject: Subject {
                browser_id: None,
                identifiers: vec![SignedIdentifier {
                    kind: IdentifierKind::Phone,
                    hmac: None,
                    commitment: Some("c0".repeat(32)),
                }],
            },
            context: Context {
                page_url: "http://x/".into(),
                form_id: None,
                fields: vec!["phone".into()],
                gpc: false,
            },
            private: Private {
                browser: "5f".repeat(32),
                index: vec![IndexEntry {
                    kind: IdentifierKind::Phone,
                    hmac: hmac.into(),
                }],
                salt: Some("5a".repeat(32)),
                holder_sha256: Some(sha256_hex(reference.as_bytes())),
            },
            request_sha256: sha256_hex(reference.as_bytes()),
        }
    }
}
