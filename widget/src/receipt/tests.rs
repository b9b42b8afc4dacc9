//! Native tests of `receipt`: the wire types against `tests/fixtures/wire` (the collector
//! checks the same files), keys and hex.

use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/wire")
        .join(name);
    std::fs::read_to_string(&path).expect("wire fixture is readable")
}

/// The widget's request type reads each valid fixture and writes it back unchanged.
#[test]
fn wire_fixtures_round_trip() {
    for name in [
        "receipt_request_form_given.json",
        "receipt_request_minimal.json",
        "receipt_request_cookies_updated.json",
    ] {
        let text = fixture(name);
        let request: ReceiptRequest = serde_json::from_str(&text).expect(name);
        assert!(is_key(&request.key), "{name}");
        assert!(is_key(&request.subject.browser_id), "{name}");
        let written = serde_json::to_value(&request).expect(name);
        let original: serde_json::Value = serde_json::from_str(&text).expect(name);
        assert_eq!(written, original, "{name}");
    }
}

#[test]
fn fixture_with_a_raw_phone_field_is_refused_like_the_collector_does() {
    let text = fixture("receipt_request_unknown_field.json");
    let err = serde_json::from_str::<ReceiptRequest>(&text).expect_err("unknown field");
    assert!(err.to_string().contains("unknown field `phone`"), "{err}");
}

#[test]
fn form_given_fixture_has_the_expected_shape() {
    let request: ReceiptRequest =
        serde_json::from_str(&fixture("receipt_request_form_given.json")).expect("valid");
    assert_eq!(request.kind, Kind::Form);
    assert_eq!(request.event, ConsentEvent::Given);
    assert_eq!(request.subject.identifiers[0].kind, IdKind::Phone);
    assert_eq!(request.context.form_id.as_deref(), Some("feedback"));
}

#[test]
fn hex_and_keys() {
    assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    assert!(is_key(&hex(&[0xab; 16])));
    assert!(!is_key("0B6A3C1E9D2F4A7B8C5D6E7F8091A2B3"), "upper case");
    assert!(!is_key("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b"), "31 digits");
    assert!(!is_key("0b6a3c1e9d2f4a7b8c5d6e7f8091a2bg"), "not hex");
}
