//! Fuzzes `POST /v1/receipts` and `…/withdraw` bodies: JSON decoding, validation against the
//! demo site (`receipt::prepare`), sealing and reading back. Properties: nothing panics; an
//! accepted request yields a receipt that verifies, decodes, has no query or fragment in its
//! page URL, carries no raw identifier, browser secret or withdrawal secret in its payload, and
//! opens for its own secret only. Links the collector, not only `kelisim-receipt`: what it
//! fuzzes is the collector's request parsing and validation (`receipt::prepare` against a
//! site's configuration), which stay in the collector.
#![no_main]

#[path = "common.rs"]
mod common;

use kelisim_collector::receipt::{
    Private, ReceiptRequest, Stamp, WithdrawRequest, check_holder, decode_unverified, prepare,
    prepare_withdrawal,
};
use kelisim_collector::keys::PublicKeys;
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
    let mut raw: Vec<String> = req
        .subject
        .identifiers
        .iter()
        .map(|i| i.value.clone())
        .collect();
    raw.push(req.subject.browser_id.0.clone());
    let secret = req.secret.as_ref().map(|s| s.0.clone());
    raw.extend(secret.clone());
    let keys = common::subject_key().site(&site.id);
    let Ok(prepared) = prepare(req, site, "http://127.0.0.1:8080", &keys, &[3; 32]) else {
        return;
    };
    let kept = prepared.private.clone();
    assert!(!prepared.context.page_url.contains(['?', '#']));
    let signer = common::signer();
    let stamp = Stamp {
        id: "0190f3a4-0000-7000-8000-000000000000".into(),
        seq: 1,
        issued_at: "2026-11-21T10:00:00.000Z".into(),
    };
    let jws = prepared.seal(&stamp, &signer);
    let keys = PublicKeys::from_jwks(&common::jwks()).expect("own JWKS");
    kelisim_collector::keys::verify_compact(&jws, &keys).expect("a sealed receipt verifies");
    let payload = decode_unverified(&jws).expect("a sealed receipt decodes");
    let signed = serde_json::to_string(&payload.subject).expect("subject serialises");
    for value in raw.iter().filter(|v| v.trim().len() >= 6) {
        assert!(!signed.contains(value.trim()), "a raw value in the subject");
    }
    // The secret opens the receipt; the reference, or nothing, does not.
    let holder = kept.holder_sha256.as_deref();
    if let Some(secret) = &secret {
        check_holder(secret, holder, &payload.id).expect("the holder's secret opens it");
    }
    assert!(check_holder(&payload.reference, holder, &payload.id).is_err());
    // The payload read back is what a withdrawal starts from.
    let withdrawal = prepare_withdrawal("f".repeat(32), &payload, &kept, site);
    if payload.event == kelisim_collector::receipt::Event::Given {
        let withdrawal = withdrawal.expect("a given consent can be withdrawn");
        assert_eq!(withdrawal.private.holder_sha256, None, "a withdrawal is not withdrawn");
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
            browser_id: Some("5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94".into()),
            identifiers: Vec::new(),
        },
        context: kelisim_collector::receipt::Context {
            page_url: "http://127.0.0.1:8080/contact.html".into(),
            form_id: None,
            fields: vec!["name".into()],
            gpc: false,
        },
        prev: Some("0".repeat(64)),
    };
    // A v1 receipt has no secret: nothing opens it, whatever the browser id presented.
    assert!(check_holder(&req.secret.0, None, &original.id).is_err());
    let stored = kelisim_collector::hash::sha256_hex(b"9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c");
    let opens = check_holder(&req.secret.0, Some(&stored), &original.id).is_ok();
    assert_eq!(opens, req.secret.0 == "9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c");
    let _ = prepare_withdrawal(req.key, &original, &Private::default(), site);
}
