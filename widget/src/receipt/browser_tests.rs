//! The outbox's decisions on the collector's answers, in a real browser with real localStorage.

use js_sys::JSON;
use wasm_bindgen_test::wasm_bindgen_test;

use super::*;

fn storage() -> Storage {
    dom::local_storage().expect("test page has localStorage")
}

fn clear() {
    for key in [
        QUEUE_KEY,
        BROWSER_ID_KEY,
        RETIRED_BROWSER_ID_KEY,
        ACKED_KEY,
        RETRY_KEY,
        HELD_KEY,
    ] {
        storage().remove_item(key).expect("removable");
    }
}

fn queued_keys(outbox: &Outbox) -> Vec<String> {
    outbox
        .load(QUEUE_KEY)
        .iter()
        .filter_map(|item| key_of(&item))
        .collect()
}

fn request(key: &str, with_phone: bool) -> ReceiptRequest {
    let identifiers = if with_phone {
        r#","identifiers":[{"type":"phone","value":"8 701 123 45 67"}]"#
    } else {
        ""
    };
    let text = r#"{"site":"demo","kind":"form","event":"given","key":"KEY",
        "policy_version":"2026-03","lang":"ru","purposes":[{"id":"feedback","granted":true}],
        "subject":{"browser_id":"5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94"IDS},
        "context":{"page_url":"http://127.0.0.1/contact.html","form_id":null,"fields":["name"],"gpc":false}}"#
        .replace("KEY", key)
        .replace("IDS", identifiers);
    serde_json::from_str(&text).expect("request")
}

fn outbox() -> (Outbox, test_host::Posts) {
    let (host, posts) = test_host::recording();
    (Outbox::new("http://127.0.0.1:9/", host), posts)
}

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

#[wasm_bindgen_test]
fn submit_queues_first_then_sends_and_an_answer_settles_it() {
    clear();
    let (outbox, posts) = outbox();
    outbox.submit(&request(A, false));
    outbox.submit(&request(B, false));
    assert_eq!(queued_keys(&outbox), [A, B], "queued before any answer");
    assert_eq!(
        posts
            .borrow()
            .iter()
            .map(|p| p.key.as_str())
            .collect::<Vec<_>>(),
        [A, B]
    );
    assert_eq!(posts.borrow()[0].url, "http://127.0.0.1:9/v1/receipts");

    assert!(!outbox.delivered(A, 0), "a network error keeps it");
    assert!(!outbox.delivered(B, 503));
    assert_eq!(queued_keys(&outbox), [A, B]);
    assert!(outbox.delivered(A, 201), "stored");
    assert!(!outbox.delivered(B, 409), "refused for good");
    assert_eq!(queued_keys(&outbox), Vec::<String>::new());
    assert_eq!(outbox.last_acked().as_deref(), Some(A));
    // A replayed answer for the same key is still one acknowledged reference.
    assert!(outbox.delivered(A, 200));
    assert_eq!(outbox.load(ACKED_KEY).length(), 1);
    outbox.dismiss();
    assert_eq!(outbox.last_acked(), None);
}

#[wasm_bindgen_test]
fn failures_back_off_the_next_flush_and_success_clears_it() {
    clear();
    let (outbox, posts) = outbox();
    outbox.submit(&request(A, false));
    outbox.delivered(A, 0);
    let backoff = outbox.backoff().expect("backoff stored");
    assert_eq!(backoff.delay, policy::RETRY_FIRST_MS);

    // The next page start, within the wait: nothing is sent.
    posts.borrow_mut().clear();
    outbox.flush();
    assert!(posts.borrow().is_empty(), "still backing off");

    // Once the wait is over, the queue is sent again.
    let past = Array::of2(&0.0.into(), &backoff.delay.into());
    outbox.save(RETRY_KEY, &past);
    outbox.flush();
    assert_eq!(posts.borrow().len(), 1);
    assert_eq!(posts.borrow()[0].key, A);
    assert!(outbox.delivered(A, 200));
    assert!(outbox.backoff().is_none(), "success clears the backoff");
}

#[wasm_bindgen_test]
fn an_unreadable_identifier_is_dropped_and_the_same_key_resent() {
    clear();
    let (outbox, posts) = outbox();
    outbox.submit(&request(A, true));
    assert!(posts.borrow()[0].body.contains("identifiers"));
    assert!(!outbox.delivered(A, 422));
    let posts = posts.borrow();
    assert_eq!(posts.len(), 2, "sent again");
    assert_eq!(posts[1].key, A, "under the same key");
    assert!(!posts[1].body.contains("identifiers"), "{}", posts[1].body);
    assert_eq!(queued_keys(&outbox), [A]);
}

/// The encoder that runs in browsers writes each wire fixture byte for byte (after
/// `JSON.stringify` normalises the fixture's whitespace).
#[wasm_bindgen_test]
fn to_js_writes_the_wire_fixtures() {
    for fixture in [
        include_str!("../../../tests/fixtures/wire/receipt_request_form_given.json"),
        include_str!("../../../tests/fixtures/wire/receipt_request_minimal.json"),
        include_str!("../../../tests/fixtures/wire/receipt_request_cookies_updated.json"),
    ] {
        let request: ReceiptRequest = serde_json::from_str(fixture).expect("fixture");
        let written = JSON::stringify(&request.to_js()).expect("JSON");
        let expected = JSON::stringify(&JSON::parse(fixture).expect("JSON")).expect("JSON");
        assert_eq!(written.as_string(), expected.as_string());
    }
}

#[wasm_bindgen_test]
fn a_withdrawal_waits_for_its_receipt_then_goes_to_its_address() {
    clear();
    let (outbox, posts) = outbox();
    let expected = JSON::parse(include_str!(
        "../../../tests/fixtures/wire/withdraw_request.json"
    ))
    .expect("fixture");
    let secret = crate::config::get(&expected, "secret")
        .as_string()
        .expect("the fixture's secret");
    outbox.submit(&request(A, false));
    outbox.withdraw("demo", A, B, &secret);
    assert_eq!(queued_keys(&outbox), [A, B]);
    assert_eq!(posts.borrow().len(), 1, "held while {A} is not stored");
    outbox.flush();
    assert_eq!(
        posts.borrow().iter().filter(|p| p.key == B).count(),
        0,
        "a flush holds it too"
    );
    // Stored: the withdrawal goes, to the receipt's own address on its site, with the
    // wire body: the new key and the withdrawn receipt's secret, nothing else.
    assert!(outbox.delivered(A, 201));
    {
        let posts = posts.borrow();
        let sent = posts.iter().find(|p| p.key == B).expect("withdrawal sent");
        assert_eq!(
            sent.url,
            ["http://127.0.0.1:9/v1/receipts/", A, "/withdraw?site=demo"].concat()
        );
        assert_eq!(
            sent.body,
            ["{\"key\":\"", B, "\",\"secret\":\"", &secret, "\"}"].concat()
        );
    }
    assert_eq!(queued_keys(&outbox), [B]);
    assert!(outbox.delivered(B, 201));
    assert_eq!(queued_keys(&outbox), Vec::<String>::new());
    assert_eq!(
        outbox.last_acked().as_deref(),
        Some(A),
        "only form receipts are noticed"
    );
    // A withdrawal of a receipt not in the queue goes at once.
    posts.borrow_mut().clear();
    outbox.withdraw("demo", B, A, &secret);
    assert_eq!(posts.borrow().len(), 1);
    clear();
}

#[wasm_bindgen_test]
fn browser_id_is_kept_and_the_published_one_never_reused() {
    clear();
    // What payload v1 signed in clear is public: it is dropped, not carried over.
    let published = "5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94";
    storage()
        .set_item(RETIRED_BROWSER_ID_KEY, published)
        .expect("writable");
    let (outbox, _) = outbox();
    let first = outbox.browser_id().expect("crypto");
    assert_ne!(first, published);
    assert_eq!(
        storage().get_item(RETIRED_BROWSER_ID_KEY).expect("ok"),
        None
    );
    assert!(is_key(&first));
    assert_eq!(outbox.browser_id(), Some(first.clone()));
    storage()
        .set_item(BROWSER_ID_KEY, "not-an-id")
        .expect("writable");
    let replaced = outbox.browser_id().expect("crypto");
    assert!(is_key(&replaced) && replaced != first);
}

#[wasm_bindgen_test]
fn a_raw_phone_waits_in_storage_at_most_a_day_and_never_reaches_the_wire_twice() {
    clear();
    let (outbox, posts) = outbox();
    outbox.submit(&request(A, true));
    assert!(posts.borrow()[0].body.contains("identifiers"));
    assert!(
        !posts.borrow()[0].body.contains(QUEUED_AT),
        "not on the wire"
    );
    outbox.delivered(A, 0);
    let stored = || {
        storage()
            .get_item(QUEUE_KEY)
            .expect("ok")
            .unwrap_or_default()
    };
    assert!(stored().contains("8 701 123 45 67"), "kept for the retry");
    // A day later the collector is still down: the phone is gone from storage; the
    // receipt is still sent.
    let queue = outbox.load(QUEUE_KEY);
    let item = queue.get(0);
    let day = policy::IDENTIFIER_TTL_MS;
    let _ = Reflect::set(&item, &QUEUED_AT.into(), &(now() - day).into());
    outbox.save(QUEUE_KEY, &queue);
    outbox.save(RETRY_KEY, &Array::of2(&0.0.into(), &0.0.into()));
    posts.borrow_mut().clear();
    outbox.flush();
    assert!(!stored().contains("701"), "{}", stored());
    let posts = posts.borrow();
    assert_eq!(posts.len(), 1);
    assert!(!posts[0].body.contains("identifiers"), "{}", posts[0].body);
    assert!(outbox.delivered(A, 201));
    assert!(!stored().contains(A), "gone once acknowledged");
    clear();
}

#[wasm_bindgen_test]
fn the_held_secret_opens_only_its_own_reference() {
    clear();
    let (outbox, _) = outbox();
    assert_eq!(outbox.held_secret(A), None);
    outbox.hold(A, B);
    assert_eq!(outbox.held_secret(A).as_deref(), Some(B));
    assert_eq!(outbox.held_secret(B), None);
    outbox.hold(B, A);
    assert_eq!(outbox.held_secret(A), None, "the next choice replaces it");
    clear();
}

#[wasm_bindgen_test]
fn a_corrupt_queue_is_replaced() {
    clear();
    storage()
        .set_item(QUEUE_KEY, "{not json")
        .expect("writable");
    let (outbox, _) = outbox();
    outbox.submit(&request(B, false));
    assert_eq!(queued_keys(&outbox), [B]);
    clear();
}
