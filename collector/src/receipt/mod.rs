//! Consent receipts: the request model (docs/wire.md), its validation, and the prepared
//! receipt the writer seals. The signed payload itself (schema v2, and v1 as read back;
//! docs/receipt.md) is `kelisim_receipt::payload`, re-exported here.
//!
//! The path of a receipt is: [`ReceiptRequest`] (exactly what the widget sent, unknown fields
//! refused) → [`prepare`] (validated against the site's config; identifiers turned into the
//! site's index entries and the receipt's salted commitments; the browser's secret into its
//! pseudonym; the withdrawal secret into its hash; page URL stripped of query and fragment) →
//! [`PreparedReceipt`] (the signed content and the [`Private`] part kept beside it, everything
//! but the log position) → [`PreparedReceipt::seal`], called by the store's writer once it has
//! assigned `id`, `seq`, `issued_at` and `prev`. A withdrawal is made from the receipt it
//! withdraws by [`prepare_withdrawal`], once [`check_holder`] accepted the secret. Pure logic,
//! no IO (the caller brings the salt).

mod payload;
mod prepare;
mod request;
pub mod subject;
pub mod verify;

pub use kelisim_receipt::payload::{
    Choice, Context, Event, Kind, Notice, PAYLOAD_VERSION, PolicyRef, ReceiptPayload,
    SignedIdentifier, Subject, decode_unverified,
};
pub use payload::*;
pub use prepare::*;
pub use request::*;

use crate::receipt::subject::{IdentifierError, IdentifierKind};

/// A request the collector refuses, before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("{0}")]
    InvalidBody(String),
    #[error("no site `{0}` is configured on this collector")]
    UnknownSite(String),
    #[error("policy version `{got}` is not the current policy `{current}` of site `{site}`")]
    UnknownPolicyVersion {
        site: String,
        got: String,
        current: String,
    },
    #[error("subject.identifiers[{index}] ({kind}): {source}")]
    InvalidIdentifier {
        index: usize,
        kind: IdentifierKind,
        source: IdentifierError,
    },
    #[error(
        "receipt {id} records `{event}`, which cannot be withdrawn; only `given` and `updated` consents can"
    )]
    NotWithdrawable { id: String, event: Event },
    #[error(
        "this secret does not open receipt {id}: only the browser that recorded it holds its \
         withdrawal secret; the site's operator withdraws it on the visitor's request"
    )]
    NotHolder { id: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::Site;
    use crate::hash::{hex, sha256_hex};
    use crate::keys::Signer;
    use crate::receipt::subject::SiteKeys;
    use std::path::Path;

    fn demo_site() -> Site {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo");
        let config = Config::load(&dir.join("kelisim.toml")).expect("demo config");
        config.site("demo").expect("demo site").clone()
    }

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/wire")
            .join(name);
        std::fs::read_to_string(path).expect("fixture")
    }

    fn request(json: &str) -> ReceiptRequest {
        serde_json::from_str(json).expect("request parses")
    }

    fn keys() -> SiteKeys {
        crate::receipt::subject::SubjectKey::from_bytes([1; 32]).site("demo")
    }

    const SALT: [u8; 32] = [7; 32];

    fn prepared(json: &str) -> Result<PreparedReceipt, ReceiptError> {
        prepare(request(json), &demo_site(), BASE, &keys(), &SALT)
    }

    const BASE: &str = "http://127.0.0.1:8080";

    #[test]
    fn fixture_form_given_prepares_with_hashed_phone() {
        let site = demo_site();
        let prepared = prepared(&fixture("receipt_request_form_given.json")).expect("valid");
        assert_eq!(prepared.reference, "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3");
        assert_eq!(
            prepared.notice.sha256,
            sha256_hex(site.texts["ru"].label.as_bytes())
        );
        assert_eq!(
            prepared.policy.sha256,
            site.current_policy().texts["ru"].sha256
        );
        assert_eq!(
            prepared.policy.url,
            "http://127.0.0.1:8080/v1/sites/demo/policies/2026-03?lang=ru"
        );
        // Signed: a commitment under this receipt's salt; kept: the site's index entry.
        assert_eq!(
            prepared.subject,
            Subject {
                browser_id: None,
                identifiers: vec![SignedIdentifier {
                    kind: IdentifierKind::Phone,
                    hmac: None,
                    commitment: Some(crate::receipt::subject::commitment_hex(
                        &SALT,
                        "+77011234567"
                    )),
                }]
            }
        );
        assert_eq!(
            prepared.private.index,
            [IndexEntry {
                kind: IdentifierKind::Phone,
                hmac: keys().index_hex("+77011234567")
            }]
        );
        assert_eq!(prepared.private.salt, Some(hex(&SALT)));
        assert_eq!(
            prepared.private.browser,
            keys().browser_hex("5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94")
        );
        let secret = "9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c";
        assert_eq!(
            prepared.private.holder_sha256,
            Some(sha256_hex(secret.as_bytes()))
        );
        let debug = format!("{prepared:?}");
        assert!(!debug.contains("701"), "no raw phone anywhere: {debug}");
        assert!(!debug.contains(secret), "no secret anywhere: {debug}");
        assert!(
            !debug.contains("5f0c8e2a"),
            "no browser secret anywhere: {debug}"
        );
    }

    #[test]
    fn the_secret_opens_the_receipt_and_nothing_else_does() {
        let secret = "9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c";
        let stored = sha256_hex(secret.as_bytes());
        assert_eq!(check_holder(secret, Some(&stored), "r"), Ok(()));
        for wrong in ["", "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", &stored] {
            assert!(check_holder(wrong, Some(&stored), "r").is_err(), "{wrong}");
        }
        assert!(
            check_holder(secret, None, "r").is_err(),
            "a receipt without a secret opens for nobody"
        );
        let base = fixture("receipt_request_form_given.json");
        for (from, to, want) in [
            (
                secret,
                "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3",
                "must not be the `key`",
            ),
            (secret, "short", "`secret` must be 32 lower-case hex"),
        ] {
            let err = prepared(&base.replace(from, to)).expect_err(want);
            assert!(err.to_string().contains(want), "{err}");
        }
    }

    #[test]
    fn the_withdraw_fixture_opens_the_cookie_fixture_and_nothing_else() {
        let withdraw: WithdrawRequest =
            serde_json::from_str(&fixture("withdraw_request.json")).expect("fixture parses");
        let json = fixture("receipt_request_cookies_updated.json").replace(
            r#"{ "id": "marketing", "granted": false }"#,
            r#"{ "id": "marketing", "granted": false }, { "id": "session_recording", "granted": false }"#,
        );
        let cookies = prepared(&json).expect("valid");
        let holder = cookies.private.holder_sha256.as_deref();
        assert_eq!(check_holder(&withdraw.secret.0, holder, "r"), Ok(()));
        let form = prepared(&fixture("receipt_request_form_given.json")).expect("valid");
        assert!(
            check_holder(
                &withdraw.secret.0,
                form.private.holder_sha256.as_deref(),
                "r"
            )
            .is_err()
        );
        let v1_body = r#"{ "key": "5b8e2d4f6a1c3e5f7b9d0a2c4e6f8a1b", "browser_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90" }"#;
        let err = serde_json::from_str::<WithdrawRequest>(v1_body).expect_err("v1's body");
        assert!(err.to_string().contains("browser_id"), "{err}");
    }

    #[test]
    fn the_secret_picks_the_receipt_it_opens_among_those_a_reference_names() {
        let secret = "9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c";
        let held = sha256_hex(secret.as_bytes());
        let mine = Candidate {
            id: "mine",
            event: "given",
            holder_sha256: Some(&held),
        };
        let copy = Candidate {
            id: "copy",
            event: "given",
            holder_sha256: Some("00"),
        };
        assert_eq!(opened_by(secret, &[copy, mine]), Ok(1));
        assert!(matches!(
            opened_by("ff", &[copy, mine]),
            Err(ReceiptError::NotHolder { .. })
        ));
        let refused = Candidate {
            event: "refused",
            ..copy
        };
        assert!(matches!(
            opened_by(secret, &[refused]),
            Err(ReceiptError::NotWithdrawable {
                event: Event::Refused,
                ..
            })
        ));
        let v1 = Candidate {
            holder_sha256: None,
            ..mine
        };
        assert!(matches!(
            opened_by(secret, &[v1]),
            Err(ReceiptError::NotHolder { .. })
        ));
    }

    #[test]
    fn names_are_refused_by_the_table_both_sides_test() {
        let table: serde_json::Value =
            serde_json::from_str(&fixture("names.json")).expect("names.json");
        for (list, refused) in [("accepted", false), ("refused", true)] {
            for name in table[list].as_array().expect(list) {
                let name = name.as_str().expect("string");
                assert_eq!(name_problem(name).is_some(), refused, "{name:?}");
            }
        }
    }

    #[test]
    fn a_cookie_receipt_names_the_banner_text_shown() {
        let site = demo_site();
        // The wire fixture lists the three standard categories; the demo has a fourth.
        let json = fixture("receipt_request_cookies_updated.json").replace(
            r#"{ "id": "marketing", "granted": false }"#,
            r#"{ "id": "marketing", "granted": false }, { "id": "session_recording", "granted": false }"#,
        );
        let banner = site.texts["en"]
            .cookies
            .clone()
            .expect("the demo has a banner");
        let receipt = prepared(&json).expect("valid");
        assert_eq!(receipt.notice.lang, "en");
        assert_eq!(
            receipt.notice.sha256, banner.notice_sha256[1],
            "the fixture's browser sent GPC: the note was shown"
        );
        let without_gpc = json.replace(r#""gpc": true"#, r#""gpc": false"#);
        let receipt = prepared(&without_gpc).expect("valid");
        assert_eq!(receipt.notice.sha256, banner.notice_sha256[0]);
        assert_ne!(banner.notice_sha256[0], banner.notice_sha256[1]);
        assert_ne!(receipt.notice.sha256, site.texts["en"].label_sha256);
    }

    #[test]
    fn unknown_field_fixture_is_refused_by_serde() {
        let err =
            serde_json::from_str::<ReceiptRequest>(&fixture("receipt_request_unknown_field.json"))
                .expect_err("unknown field");
        assert!(
            err.to_string().starts_with("unknown field `phone`"),
            "{err}"
        );
    }

    #[test]
    fn page_url_loses_query_fragment_and_credentials() {
        let cases = [
            (
                "http://127.0.0.1:8080/contact.html?phone=87011234567#top",
                "http://127.0.0.1:8080/contact.html",
            ),
            ("HTTPS://example.kz", "https://example.kz"),
            ("https://user:pw@example.kz/a/b?x", "https://example.kz/a/b"),
            ("https://example.kz#frag", "https://example.kz"),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_page_url(raw).as_deref(), Ok(want), "{raw}");
        }
        for bad in [
            "ftp://example.kz",
            "/contact.html",
            "https://",
            "https://a b",
            "javascript:alert(1)",
        ] {
            assert!(clean_page_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_refusals() {
        let base = fixture("receipt_request_form_given.json");
        let cases: [(&str, &str, &str); 8] = [
            (
                "\"key\": \"0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3\"",
                "\"key\": \"short\"",
                "`key` must be 32 lower-case hex",
            ),
            (
                "\"policy_version\": \"2026-03\"",
                "\"policy_version\": \"2025-01\"",
                "policy version `2025-01` is not the current policy `2026-03`",
            ),
            (
                "\"lang\": \"ru\"",
                "\"lang\": \"de\"",
                "`lang` `de` is not one of site `demo`'s languages: ru, kk, en",
            ),
            (
                "\"id\": \"feedback\", \"granted\": true",
                "\"id\": \"ads\", \"granted\": true",
                "purpose `ads` is not declared",
            ),
            (
                "\"granted\": true",
                "\"granted\": false",
                "required purpose `feedback` must be granted",
            ),
            (
                "\"value\": \"8 (701) 123-45-67\"",
                "\"value\": \"12\"",
                "subject.identifiers[0] (phone): cannot tell the country",
            ),
            (
                "\"page_url\": \"http://",
                "\"page_url\": \"file://",
                "must be an absolute http",
            ),
            (
                "\"fields\": [\"name\", ",
                "\"fields\": [\"\", ",
                "`context.fields` entries",
            ),
        ];
        for (from, to, want) in cases {
            let json = base.replacen(from, to, 1);
            assert_ne!(json, base, "replacement {from:?} applies");
            let err = prepared(&json).expect_err(want);
            assert!(
                err.to_string().starts_with(want) || err.to_string().contains(want),
                "got {err}, want {want}"
            );
        }
    }

    #[test]
    fn request_hash_is_stable_across_spellings_and_changes_with_content() {
        let base = fixture("receipt_request_form_given.json");
        let hash = |json: &str| prepared(json).expect("valid").request_sha256;
        let h = hash(&base);
        assert_eq!(
            h,
            hash(&base.replace("8 (701) 123-45-67", "+7 701 123 45 67"))
        );
        assert_eq!(
            h,
            hash(&base.replace("contact.html\"", "contact.html?utm=x\""))
        );
        assert_ne!(h, hash(&base.replace("\"gpc\": false", "\"gpc\": true")));
        assert_ne!(
            h,
            hash(&base.replace("\"lang\": \"ru\"", "\"lang\": \"kk\""))
        );
        // What a stranger cannot know changes it too: a replay of a victim's key with
        // everything the public receipt shows is a conflict, whatever phone it guesses.
        assert_ne!(h, hash(&base.replace("5f0c8e2a", "00000000")), "browser");
        assert_ne!(h, hash(&base.replace("9d4e2c7a", "00000000")), "secret");
        // The salt is random per attempt and does not count.
        let again = prepare(request(&base), &demo_site(), BASE, &keys(), &[8; 32]).expect("valid");
        assert_eq!(h, again.request_sha256);
    }

    #[test]
    fn sealed_payload_round_trips_in_wire_order() {
        let prepared = prepared(&fixture("receipt_request_minimal.json")).expect("valid");
        let signer = Signer::new(ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
        let stamp = Stamp {
            id: "019a4f7e-8c1b-7d2e-9a3f-4b5c6d7e8f90".into(),
            seq: 42,
            issued_at: "2026-11-21T09:15:02.123Z".into(),
        };
        let jws = prepared.seal(&stamp, &signer);
        let payload_b64 = jws.split('.').nth(1).expect("payload");
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload_b64)
            .expect("b64");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        let payload: ReceiptPayload = serde_json::from_slice(&bytes).expect("parses back");
        assert_eq!(
            serde_json::to_string(&payload).expect("ser"),
            text,
            "same bytes, same order"
        );
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
                .expect("object")
                .keys()
                .cloned()
                .collect();
        // serde_json's Map sorts keys, so check the order on the text itself.
        let positions: Vec<usize> = [
            "\"v\"",
            "\"id\"",
            "\"seq\"",
            "\"issued_at\"",
            "\"site\"",
            "\"kind\"",
            "\"event\"",
            "\"ref\"",
            "\"policy\"",
            "\"notice\"",
            "\"purposes\"",
            "\"subject\"",
            "\"context\"",
        ]
        .iter()
        .map(|k| text.find(k).expect("key present"))
        .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "wire key order: {text}"
        );
        // Payload v3: no `prev` (the log's tree orders receipts; docs/receipt.md).
        assert_eq!(keys.len(), 13);
        assert!(!text.contains("\"prev\""), "{text}");
        assert_eq!(payload.v, 3);
        assert_eq!(payload.context.form_id, None);
        assert_eq!(payload.subject.identifiers, []);
        assert_eq!(payload.notice.lang, "kk");
    }

    #[test]
    fn v1_payloads_still_read_and_their_withdrawal_signs_no_v1_subject() {
        let v1 = concat!(
            r#"{"v":1,"id":"019a4f7e-8c1b-7d2e-9a3f-4b5c6d7e8f90","seq":3,"#,
            r#""issued_at":"2026-11-21T09:15:02.123Z","site":"demo","kind":"form","#,
            r#""event":"given","ref":"0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3","#,
            r#""policy":{"version":"2026-03","sha256":"9c1e","url":"http://x/p"},"#,
            r#""notice":{"lang":"ru","sha256":"51f0"},"purposes":[{"id":"feedback","granted":true}],"#,
            r#""subject":{"browser_id":"5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94","#,
            r#""identifiers":[{"type":"phone","hmac":"d41c"}]},"#,
            r#""context":{"page_url":"http://x/contact.html","form_id":"feedback","#,
            r#""fields":["name","phone"],"gpc":false},"prev":"00"}"#
        );
        let payload: ReceiptPayload = serde_json::from_str(v1).expect("v1 reads");
        assert_eq!(serde_json::to_string(&payload).expect("ser"), v1);
        let kept = Private {
            browser: "5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94".into(),
            index: vec![IndexEntry {
                kind: IdentifierKind::Phone,
                hmac: "d41c".into(),
            }],
            salt: None,
            holder_sha256: None,
        };
        let withdrawal =
            prepare_withdrawal("1".repeat(32), &payload, &kept, &demo_site()).expect("valid");
        assert_eq!(
            withdrawal.subject,
            Subject {
                browser_id: None,
                identifiers: Vec::new()
            },
            "the clear browser id and v1 hash are not signed again"
        );
        assert!(
            withdrawal.private.index.is_empty(),
            "indexed as signed: nothing"
        );
        assert_eq!(
            withdrawal.private.browser, kept.browser,
            "the same browser's"
        );
        assert_eq!(withdrawal.withdraws.as_deref(), Some(payload.id.as_str()));
        assert_eq!(
            withdrawal.purposes,
            Some(vec![Choice {
                id: "feedback".into(),
                granted: false
            }])
        );
    }
}
