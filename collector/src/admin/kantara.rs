//! A receipt rendered as a Kantara Initiative Consent Receipt v1.1 (`KI-CR-v1.1.0`), for
//! regulators and tools that read that format. Pure mapping from the signed payload and the
//! site's operator; the signed JWS stays the evidence, this is a view of it.
//!
//! Mapping: `consentReceiptID` = receipt id; `consentTimestamp` = `issued_at` (Unix s);
//! `piiPrincipalId` = the pseudonymous browser id (never a phone or e-mail); one service
//! named after the site with one purpose per purpose or cookie category; `consentType`
//! `EXPLICIT` for a granted choice, `REFUSED`/`WITHDRAWN` otherwise; `publicKey` names the
//! signing key's kid (its JWK is in the collector's JWKS).
//!
//! `thirdPartyDisclosure` is true for a granted cookie category whose site configuration names
//! services (Yandex.Metrika, Google Analytics…): granting it lets those third parties' scripts
//! run and receive the visitor's data; `thirdPartyName` then lists them as the configuration
//! names them today (the signed payload names categories, not services). Form purposes name
//! no recipients in the configuration, so they disclose to nobody.

use serde_json::{Value, json};

use crate::admin::SiteInfo;
use crate::receipt::{Event, Kind, ReceiptPayload};

/// The Kantara document for `payload`, signed with `kid`, collected for `site` (its operator,
/// retention and the services of its cookie categories).
pub fn render(payload: &ReceiptPayload, kid: &str, site: &SiteInfo) -> Value {
    let operator = &site.operator;
    let retention_days = site.retention_days;
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
            let mut purpose = json!({
                "purpose": c.id,
                "purposeCategory": [c.id],
                "consentType": if c.granted { "EXPLICIT" } else { refused },
                "piiCategory": pii_category,
                "primaryPurpose": payload.kind == Kind::Form,
                "termination": termination,
                "thirdPartyDisclosure": false,
            });
            let services = match payload.kind {
                Kind::Cookies if c.granted => site
                    .categories
                    .iter()
                    .find(|category| category.id == c.id)
                    .map(|category| category.services.as_slice())
                    .unwrap_or_default(),
                // The form's data goes to the recipients `[site.data]` names.
                Kind::Form if c.granted => site.data.recipients.as_deref().unwrap_or_default(),
                _ => &[],
            };
            if !services.is_empty() {
                purpose["thirdPartyDisclosure"] = true.into();
                purpose["thirdPartyName"] = services.join(", ").into();
            }
            purpose
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn demo_site() -> SiteInfo {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo");
        let path = demo.join("kelisim.toml");
        let text = std::fs::read_to_string(&path).expect("demo config");
        let config = Config::parse(&text, &path, &demo).expect("demo config parses");
        SiteInfo::from(config.site("demo").expect("demo site"))
    }

    fn cookie_payload(analytics: bool, recording: bool) -> ReceiptPayload {
        serde_json::from_value(json!({
            "v": 2, "id": "0190a0a0-0000-7000-8000-000000000001", "seq": 7,
            "issued_at": "2026-12-03T06:00:00.000Z", "site": "demo", "kind": "cookies",
            "event": "updated", "ref": "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3",
            "policy": { "version": "2026-03", "url": "https://example.kz/policy", "sha256": "00" },
            "notice": { "lang": "ru", "sha256": "00" },
            "categories": [
                { "id": "necessary", "granted": true },
                { "id": "analytics", "granted": analytics },
                { "id": "marketing", "granted": true },
                { "id": "session_recording", "granted": recording }
            ],
            "subject": { "identifiers": [] },
            "context": { "page_url": "https://example.kz/", "form_id": null, "fields": [], "gpc": false },
            "prev": "0000000000000000000000000000000000000000000000000000000000000000"
        }))
        .expect("a v2 cookie payload")
    }

    fn schema() -> jsonschema::Validator {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/standards/kantara-consent-receipt-v1_1-schema.json");
        let text = std::fs::read_to_string(path).expect("kantara schema beside the repo");
        jsonschema::validator_for(&serde_json::from_str(&text).expect("schema JSON"))
            .expect("schema compiles")
    }

    fn purpose<'a>(doc: &'a Value, id: &str) -> &'a Value {
        doc["services"][0]["purposes"]
            .as_array()
            .expect("purposes")
            .iter()
            .find(|p| p["purpose"] == id)
            .expect("the category is listed")
    }

    #[test]
    fn a_granted_category_with_services_discloses_to_them_by_name() {
        let site = demo_site();
        let doc = render(&cookie_payload(true, false), "k1", &site);
        let errors: Vec<String> = schema().iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{doc:#}");

        let analytics = purpose(&doc, "analytics");
        assert_eq!(analytics["thirdPartyDisclosure"], true, "{doc:#}");
        assert_eq!(
            analytics["thirdPartyName"],
            "Яндекс Метрика, Google Analytics 4"
        );
        // Refused: the services' scripts never run, nothing is disclosed.
        let recording = purpose(&doc, "session_recording");
        assert_eq!(recording["consentType"], "REFUSED");
        assert_eq!(recording["thirdPartyDisclosure"], false);
        assert!(recording.get("thirdPartyName").is_none());
        // Granted, but the configuration names no services.
        assert_eq!(purpose(&doc, "marketing")["thirdPartyDisclosure"], false);
    }

    #[test]
    fn a_form_consent_discloses_to_the_sites_recipients_only() {
        let mut site = demo_site();
        let mut form = serde_json::to_value(cookie_payload(true, false)).expect("json");
        form["kind"] = "form".into();
        form["event"] = "given".into();
        form["categories"] = Value::Null;
        form["purposes"] = json!([{ "id": "feedback", "granted": true }]);
        form["context"]["fields"] = json!(["name", "phone", "message"]);
        let form: ReceiptPayload = serde_json::from_value(form).expect("a v2 form payload");
        let recipients = site.data.recipients.clone().expect("the demo names them");
        let doc = render(&form, "k1", &site);
        assert!(schema().is_valid(&doc), "{doc:#}");
        let feedback = purpose(&doc, "feedback");
        assert_eq!(feedback["thirdPartyDisclosure"], true, "{doc:#}");
        assert_eq!(feedback["thirdPartyName"], recipients.join(", "));
        // `recipients = []`: nobody; left out: nothing is claimed either.
        for none in [Some(Vec::new()), None] {
            site.data.recipients = none;
            let doc = render(&form, "k1", &site);
            assert_eq!(purpose(&doc, "feedback")["thirdPartyDisclosure"], false);
        }
    }

    #[test]
    fn every_grant_combination_validates_against_the_kantara_schema() {
        let site = demo_site();
        let validator = schema();
        for (analytics, recording) in [(false, false), (true, true), (false, true)] {
            let doc = render(&cookie_payload(analytics, recording), "k1", &site);
            assert!(validator.is_valid(&doc), "{doc:#}");
            assert_eq!(
                purpose(&doc, "session_recording")["thirdPartyDisclosure"],
                recording
            );
        }
    }
}
