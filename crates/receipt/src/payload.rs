//! The signed payload of a receipt (schema v2, and v1 as read back; docs/receipt.md) and its
//! parts, as a verifier reads them and as the collector writes them ([`PayloadRef::seal`]).
//!
//! Field order is the wire order. The doc comments of the types are also the descriptions of
//! the collector's OpenAPI document (feature `openapi`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::jws::Signer;

/// Payload format version (`v`) of the receipts the collector signs. Version 3 has no `prev`:
/// the transparency log's Merkle tree orders and seals the receipts, so each can be signed
/// without waiting for the one before. Versions 2 (with `prev`) and 1 (also a clear
/// `subject.browser_id` and `identifiers[].hmac` under the collector's one key) are still read.
pub const PAYLOAD_VERSION: u32 = 3;

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
    /// Versions 1 and 2 only: hex SHA-256 of the previous receipt's compact JWS; 64 zeros
    /// for the first. Version 3 has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<&'a str>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyset::{Jwk, PublicKeys};
    use crate::verify::verify;

    fn v2() -> ReceiptPayload {
        ReceiptPayload {
            v: 2,
            id: "0195f1c2-0000-7000-8000-000000000001".into(),
            seq: 1,
            issued_at: "2026-11-21T09:15:02.123Z".into(),
            site: "demo".into(),
            kind: Kind::Form,
            event: Event::Given,
            reference: "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3".into(),
            withdraws: None,
            policy: PolicyRef {
                version: "2026-03".into(),
                sha256: "ab".repeat(32),
                url: "https://example.kz/policy".into(),
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
                    commitment: Some("ef".repeat(32)),
                }],
            },
            context: Context {
                page_url: "https://example.kz/contact".into(),
                form_id: Some("contact".into()),
                fields: vec!["name".into()],
                gpc: false,
            },
            prev: Some(crate::chain::GENESIS_PREV.into()),
        }
    }

    #[test]
    fn a_sealed_payload_verifies_and_reads_back_field_for_field() {
        let p = v2();
        let written = PayloadRef {
            v: p.v,
            id: &p.id,
            seq: p.seq,
            issued_at: &p.issued_at,
            site: &p.site,
            kind: p.kind,
            event: p.event,
            reference: &p.reference,
            withdraws: p.withdraws.as_deref(),
            policy: &p.policy,
            notice: &p.notice,
            purposes: p.purposes.as_deref(),
            categories: p.categories.as_deref(),
            subject: &p.subject,
            context: &p.context,
            prev: p.prev.as_deref(),
        };
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let jws = written.seal(&Signer::new(key.clone()));
        // Same bytes as the owned type: the written order is the wire order.
        assert_eq!(
            serde_json::to_string(&written).expect("json"),
            serde_json::to_string(&p).expect("json")
        );
        let keys =
            PublicKeys::from_jwks(&serde_json::json!({ "keys": [Jwk::of(&key.verifying_key())] }))
                .expect("jwks");
        let verified = verify(&jws, &keys).expect("verifies");
        assert_eq!(verified.receipt, Some(p.clone()));
        assert_eq!(decode_unverified(&jws), Some(p));
        assert_eq!(decode_unverified("not.a-jws"), None);
    }

    #[test]
    fn a_v1_payload_still_reads() {
        // v1: the browser's id in clear and identifiers hashed under the collector's secret.
        let v1 = r#"{"v":1,"id":"x","seq":3,"issued_at":"2026-01-01T00:00:00.000Z","site":"demo",
            "kind":"cookies","event":"updated","ref":"r","policy":{"version":"1","sha256":"s","url":"u"},
            "notice":{"lang":"en","sha256":"n"},"categories":[{"id":"analytics","granted":false}],
            "subject":{"browser_id":"b","identifiers":[{"type":"email","hmac":"h"}]},
            "context":{"page_url":"https://e.kz","form_id":null,"fields":[],"gpc":true},"prev":"p"}"#;
        let p: ReceiptPayload = serde_json::from_str(v1).expect("v1 reads");
        assert_eq!(p.v, 1);
        assert_eq!(p.subject.browser_id.as_deref(), Some("b"));
        assert_eq!(p.subject.identifiers[0].hmac.as_deref(), Some("h"));
        assert_eq!(p.subject.identifiers[0].kind, IdentifierKind::Email);
        assert_eq!((p.kind, p.event), (Kind::Cookies, Event::Updated));
        assert_eq!(Event::parse(p.event.as_str()), Some(p.event));
    }
}
