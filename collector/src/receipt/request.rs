//! The receipt request as the widget sends it (docs/wire.md): exactly the wire's fields,
//! unknown ones refused; secrets and identifiers redacted from `Debug`.

use std::fmt;

use serde::Deserialize;

use super::*;
use crate::receipt::subject::IdentifierKind;

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
