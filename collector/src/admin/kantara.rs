//! A receipt rendered as a Kantara Initiative Consent Receipt v1.1 (`KI-CR-v1.1.0`), for
//! regulators and tools that read that format. Pure mapping from the signed payload and the
//! site's operator; the signed JWS stays the evidence, this is a view of it.
//!
//! Mapping: `consentReceiptID` = receipt id; `consentTimestamp` = `issued_at` (Unix s);
//! `piiPrincipalId` = the pseudonymous browser id (never a phone or e-mail); one service
//! named after the site with one purpose per purpose or cookie category; `consentType`
//! `EXPLICIT` for a granted choice, `REFUSED`/`WITHDRAWN` otherwise; `publicKey` names the
//! signing key's kid (its JWK is in the collector's JWKS).

use serde_json::{Value, json};

use crate::config::Operator;
use crate::receipt::{Event, Kind, ReceiptPayload};

/// The Kantara document for `payload`, signed with `kid`, from `operator`, kept
/// `retention_days` after the consent's last event.
pub fn render(
    payload: &ReceiptPayload,
    kid: &str,
    operator: &Operator,
    retention_days: u32,
) -> Value {
    let timestamp = time::OffsetDateTime::parse(
        &payload.issued_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_or(0, time::OffsetDateTime::unix_timestamp)
    .max(0);
    let jurisdiction = operator.jurisdiction.clone().unwrap_or_else(|| "KZ".into());
    let contact = operator
        .contact
        .clone()
        .unwrap_or_else(|| operator.name.clone());
    let email = operator
        .contact
        .as_deref()
        .filter(|c| c.contains('@'))
        .unwrap_or_default();
    let refused = match payload.event {
        Event::Withdrawn => "WITHDRAWN",
        _ => "REFUSED",
    };
    let choices = payload
        .purposes
        .iter()
        .chain(payload.categories.iter())
        .flatten();
    let termination = format!(
        "until withdrawn; the record is kept {retention_days} days after the consent's last event"
    );
    let pii_category = match payload.kind {
        Kind::Form => payload.context.fields.clone(),
        Kind::Cookies => vec!["cookies and similar identifiers".to_owned()],
    };
    let purposes: Vec<Value> = choices
        .map(|c| {
            json!({
                "purpose": c.id,
                "purposeCategory": [c.id],
                "consentType": if c.granted { "EXPLICIT" } else { refused },
                "piiCategory": pii_category,
                "primaryPurpose": payload.kind == Kind::Form,
                "termination": termination,
                "thirdPartyDisclosure": false,
            })
        })
        .collect();
    let method = match (&payload.kind, &payload.context.form_id) {
        (Kind::Form, Some(form)) => format!(
            "web form `{form}` at {}, Kelisim consent checkbox",
            payload.context.page_url
        ),
        (Kind::Form, None) => format!(
            "web form at {}, Kelisim consent checkbox",
            payload.context.page_url
        ),
        (Kind::Cookies, _) => format!("cookie banner at {}, Kelisim", payload.context.page_url),
    };
    json!({
        "version": "KI-CR-v1.1.0",
        "jurisdiction": jurisdiction,
        "consentTimestamp": timestamp,
        "collectionMethod": format!("{method} ({})", payload.event),
        "consentReceiptID": payload.id,
        "publicKey": format!("Ed25519 key {kid} (JWK in /.well-known/jwks.json)"),
        "language": payload.notice.lang,
        // v2 names no browser: the principal is whoever holds the receipt's reference.
        "piiPrincipalId": match &payload.subject.browser_id {
            Some(browser) => format!("browser:{browser}"),
            None => format!("receipt:{}", payload.reference),
        },
        "piiControllers": [{
            "piiController": operator.name,
            "contact": contact,
            "address": {
                "streetAddress": operator.address.clone().unwrap_or_default(),
                "addressCountry": jurisdiction,
            },
            "email": email,
            "phone": "",
        }],
        "policyUrl": payload.policy.url,
        "services": [{ "service": payload.site, "purposes": purposes }],
        "sensitive": false,
        "spiCat": [],
    })
}
