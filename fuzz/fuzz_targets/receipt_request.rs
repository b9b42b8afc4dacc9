//! Fuzzes `POST /v1/receipts` and `…/withdraw` bodies: JSON decoding, validation against the
//! demo site (`receipt::prepare`), sealing and reading back. Properties: nothing panics; an
//! accepted request yields a receipt that verifies, decodes, has no query or fragment in its
//! page URL and carries no raw identifier in its subject.
#![no_main]

#[path = "common.rs"]
mod common;

use kelisim_collector::receipt::{
    ReceiptRequest, Stamp, WithdrawRequest, decode_unverified, prepare, prepare_withdrawal,
};
use kelisim_collector::sign::PublicKeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<WithdrawRequest>(data) {
        withdraw(req);
    }
    let Ok(req) = serde_json::from_slice::<ReceiptRequest>(data) else {
        return;
    };
    let Some(site) = common::DEMO.site(&req.site) else {
        return;
    };
    let raw: Vec<String> = req
        .subject
        .identifiers
        .iter()
        .map(|i| i.value.clone())
        .collect();
    let Ok(prepared) = prepare(req, site, "http://127.0.0.1:8080", &common::subject_key()) else {
        return;
    };
    assert!(!prepared.context.page_url.contains(['?', '#']));
    let signer = common::signer();
    let stamp = Stamp {
        id: "0190f3a4-0000-7000-8000-000000000000".into(),
        seq: 1,
        issued_at: "2026-11-21T10:00:00.000Z".into(),
        prev: "0".repeat(64),
    };
    let jws = prepared.seal(&stamp, &signer);
    let keys = PublicKeys::from_jwks(&common::jwks()).expect("own JWKS");
    kelisim_collector::sign::verify_compact(&jws, &keys).expect("a sealed receipt verifies");
    let payload = decode_unverified(&jws).expect("a sealed receipt decodes");
    let subject = serde_json::to_string(&payload.subject).expect("subject serialises");
    for value in raw.iter().filter(|v| v.trim().len() >= 6) {
        assert!(
            !subject.contains(value.trim()),
            "raw identifier in the subject"
        );
    }
    // The payload read back is what a withdrawal starts from: its holder may withdraw.
    let req = WithdrawRequest {
        key: "f".repeat(32),
        browser_id: payload.subject.browser_id.clone(),
    };
    let withdrawal = prepare_withdrawal(req, &payload, site);
    if payload.event == kelisim_collector::receipt::Event::Given {
        withdrawal.expect("the holder may withdraw a given consent");
    }
});

fn withdraw(req: WithdrawRequest) {
    let Some(site) = common::DEMO.site("demo") else {
        return;
    };
    let original = kelisim_collector::receipt::ReceiptPayload {
        v: 1,
        id: "0190f3a4-0000-7000-8000-000000000000".into(),
        seq: 1,
        issued_at: "2026-11-21T10:00:00.000Z".into(),
        site: "demo".into(),
        kind: kelisim_collector::receipt::Kind::Form,
        event: kelisim_collector::receipt::Event::Given,
        reference: "a".repeat(32),
        withdraws: None,
        policy: kelisim_collector::receipt::PolicyRef {
            version: site.current_policy().version.clone(),
            sha256: "b".repeat(64),
            url: "http://127.0.0.1:8080/p".into(),
        },
        notice: kelisim_collector::receipt::Notice {
            lang: "ru".into(),
            sha256: "c".repeat(64),
        },
        purposes: Some(vec![kelisim_collector::receipt::Choice {
            id: "feedback".into(),
            granted: true,
        }]),
        categories: None,
        subject: kelisim_collector::receipt::Subject {
            browser_id: "5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94".into(),
            identifiers: Vec::new(),
        },
        context: kelisim_collector::receipt::Context {
            page_url: "http://127.0.0.1:8080/contact.html".into(),
            form_id: None,
            fields: vec!["name".into()],
            gpc: false,
        },
        prev: "0".repeat(64),
    };
    let holder = req.browser_id == original.subject.browser_id;
    let result = prepare_withdrawal(req, &original, site);
    if !holder {
        assert!(result.is_err(), "only the holder may withdraw");
    }
}
