//! Receipt requests (`POST /v1/receipts`, docs/wire.md) and the durable outbox that delivers
//! them: queued in localStorage first, sent with `fetch(…, {keepalive})` so the form never
//! waits, retried at every page start until the collector answers.

use js_sys::{Array, JSON, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Response, Storage};

use crate::dom;
use crate::policy::{self, Delivery, IdKind};

/// localStorage key of the random per-browser id.
pub const BROWSER_ID_KEY: &str = "kelisim:bid";
/// localStorage key of the JSON array of unacknowledged request bodies.
pub const QUEUE_KEY: &str = "kelisim:queue";
/// Oldest entries are dropped beyond this: a collector that is down for weeks must not fill
/// the site's storage quota.
const QUEUE_LIMIT: u32 = 64;

/// The body of `POST /v1/receipts`, written by [`ReceiptRequest::to_js`]. In tests the types
/// also derive serde (refusing unknown fields, like the collector), and the wire fixtures are
/// checked against both: natively through serde, in the browser through `to_js`.
#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize, PartialEq))]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct ReceiptRequest {
    pub site: String,
    pub kind: Kind,
    pub event: ConsentEvent,
    /// Idempotency key and receipt reference: 32 lower-case hex digits.
    pub key: String,
    pub policy_version: String,
    pub lang: String,
    pub purposes: Vec<Grant>,
    pub subject: Subject,
    pub context: Context,
}

#[derive(Debug, Clone, Copy)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize, PartialEq))]
#[cfg_attr(test, serde(rename_all = "lowercase"))]
pub enum Kind {
    Form,
    /// The cookie banner's receipts (a later issue).
    #[cfg_attr(not(test), allow(dead_code))]
    Cookies,
}

#[derive(Debug, Clone, Copy)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize, PartialEq))]
#[cfg_attr(test, serde(rename_all = "lowercase"))]
#[cfg_attr(not(test), allow(dead_code))]
pub enum ConsentEvent {
    Given,
    Refused,
    Withdrawn,
    Updated,
}

#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize, PartialEq))]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct Grant {
    pub id: String,
    pub granted: bool,
}

#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize, PartialEq))]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct Subject {
    pub browser_id: String,
    #[cfg_attr(test, serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub identifiers: Vec<Identifier>,
}

/// A raw phone or e-mail: the collector only keeps its keyed hash.
#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize, PartialEq))]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct Identifier {
    #[cfg_attr(test, serde(rename = "type"))]
    pub kind: IdKind,
    pub value: String,
}

#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize, PartialEq))]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct Context {
    pub page_url: String,
    pub form_id: Option<String>,
    pub fields: Vec<String>,
    pub gpc: bool,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Form => "form",
            Self::Cookies => "cookies",
        }
    }
}

impl ConsentEvent {
    fn as_str(self) -> &'static str {
        match self {
            Self::Given => "given",
            Self::Refused => "refused",
            Self::Withdrawn => "withdrawn",
            Self::Updated => "updated",
        }
    }
}

impl ReceiptRequest {
    /// The request as a plain JS object, keys in wire order. Written by hand: serde with
    /// serde-wasm-bindgen would do the same for 2.7 KB more wasm.
    pub fn to_js(&self) -> JsValue {
        let request = Object::new();
        put(&request, "site", &self.site);
        put(&request, "kind", self.kind.as_str());
        put(&request, "event", self.event.as_str());
        put(&request, "key", &self.key);
        put(&request, "policy_version", &self.policy_version);
        put(&request, "lang", &self.lang);
        let purposes = Array::new();
        for purpose in &self.purposes {
            let grant = Object::new();
            put(&grant, "id", &purpose.id);
            put(&grant, "granted", purpose.granted);
            purposes.push(&grant);
        }
        put(&request, "purposes", purposes);
        let subject = Object::new();
        put(&subject, "browser_id", &self.subject.browser_id);
        if !self.subject.identifiers.is_empty() {
            let identifiers = Array::new();
            for identifier in &self.subject.identifiers {
                let entry = Object::new();
                put(&entry, "type", identifier.kind.as_str());
                put(&entry, "value", &identifier.value);
                identifiers.push(&entry);
            }
            put(&subject, "identifiers", identifiers);
        }
        put(&request, "subject", subject);
        let context = Object::new();
        put(&context, "page_url", &self.context.page_url);
        // `null`, not a missing key: the fixtures (and serde on the collector) spell it so.
        let form_id = match &self.context.form_id {
            Some(id) => JsValue::from_str(id),
            None => JsValue::NULL,
        };
        put(&context, "form_id", form_id);
        let fields = Array::new();
        for name in &self.context.fields {
            fields.push(&JsValue::from_str(name));
        }
        put(&context, "fields", fields);
        put(&context, "gpc", self.context.gpc);
        put(&request, "context", context);
        request.into()
    }
}

fn put(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a plain property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

/// Lower-case hex of `bytes`, without `format!` (each costs about 1 KB of wasm).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Whether `s` is a key in the wire format: 32 lower-case hex digits.
pub fn is_key(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A fresh 32-hex key from `crypto.getRandomValues`; `None` only if the browser has no crypto.
pub fn random_key() -> Option<String> {
    let mut bytes = [0u8; 16];
    dom::window()?
        .crypto()
        .ok()?
        .get_random_values_with_u8_array(&mut bytes)
        .ok()?;
    Some(hex(&bytes))
}

/// Where receipts go and where they wait. Storage is optional: when a browser refuses
/// localStorage the receipt is still sent, just not retried.
#[derive(Debug, Clone)]
pub struct Outbox {
    endpoint: String,
    storage: Option<Storage>,
}

impl Outbox {
    pub fn new(collector: &str) -> Self {
        let mut endpoint = policy::collector_base(collector).to_owned();
        endpoint.push_str("/v1/receipts");
        let storage = dom::window().and_then(|w| w.local_storage().ok().flatten());
        Self { endpoint, storage }
    }

    /// The browser's random id, created on first use. Without storage it lives for this page.
    pub fn browser_id(&self) -> Option<String> {
        let stored = self
            .storage
            .as_ref()
            .and_then(|s| s.get_item(BROWSER_ID_KEY).ok().flatten());
        if let Some(id) = stored.filter(|id| is_key(id)) {
            return Some(id);
        }
        let id = random_key()?;
        if let Some(storage) = &self.storage {
            // Failing to persist only means a new id next time.
            let _ = storage.set_item(BROWSER_ID_KEY, &id);
        }
        Some(id)
    }

    /// Queues the request, then sends it. Never waits: the form goes on at once.
    pub fn submit(&self, request: &ReceiptRequest) {
        let body = request.to_js();
        let queue = self.load();
        while queue.length() >= QUEUE_LIMIT {
            queue.shift();
        }
        queue.push(&body);
        self.save(&queue);
        self.send(&request.key, &body);
    }

    /// Sends every queued request again; called at page start. Replays are safe: the collector
    /// answers an identical body under the same key with the same receipt.
    pub fn flush(&self) {
        let queue = self.load();
        for item in queue.iter() {
            if let Some(key) = key_of(&item) {
                self.send(&key, &item);
            }
        }
    }

    fn send(&self, key: &str, body_object: &JsValue) {
        let Some(window) = dom::window() else { return };
        let Ok(body) = JSON::stringify(body_object) else {
            return;
        };
        let init = Object::new();
        let headers = Object::new();
        let set = |target: &Object, name: &str, value: &JsValue| {
            let _ = Reflect::set(target, &JsValue::from_str(name), value);
        };
        set(&headers, "content-type", &"application/json".into());
        set(&init, "method", &"POST".into());
        set(&init, "headers", &headers);
        set(&init, "body", &body);
        // keepalive: the request outlives the page the form navigates away from.
        set(&init, "keepalive", &JsValue::TRUE);
        set(&init, "credentials", &"omit".into());
        let promise = window.fetch_with_str_and_init(&self.endpoint, init.unchecked_ref());

        let outbox = self.clone();
        let key = key.to_owned();
        let body = body_object.clone();
        // One-shot callback for both outcomes: wasm-bindgen frees it when it runs, and a fetch
        // always settles (or the page is gone, and its memory with it).
        let on_settled = Closure::once_into_js(move |outcome: JsValue| {
            let status = outcome.dyn_ref::<Response>().map_or(0, Response::status);
            let storage = outbox.storage.as_ref();
            let subject = Reflect::get(&body, &"subject".into()).unwrap_or_default();
            let identifiers: JsValue = "identifiers".into();
            let has_identifiers = Reflect::has(&subject, &identifiers).unwrap_or(false);
            match policy::delivery(status, has_identifiers) {
                Delivery::Retry => {}
                Delivery::Done => remove(storage, &key),
                Delivery::Refused => {
                    remove(storage, &key);
                    dom::warn("kelisim: the collector refused receipt", &key.into());
                }
                Delivery::RetryWithoutIdentifiers => {
                    let _ =
                        Reflect::delete_property(subject.unchecked_ref::<Object>(), &identifiers);
                    remove(storage, &key);
                    let queue = load(storage);
                    queue.push(&body);
                    save(storage, &queue);
                    dom::warn(
                        "kelisim: phone/e-mail not accepted; receipt sent without it",
                        &key.as_str().into(),
                    );
                    outbox.send(&key, &body);
                }
            }
        });
        then_both(&promise, &on_settled);
    }

    fn load(&self) -> Array {
        load(self.storage.as_ref())
    }

    fn save(&self, queue: &Array) {
        save(self.storage.as_ref(), queue);
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = Promise)]
    type Settling;
    /// `promise.then(f, f)`: js-sys's `then2` wants owned `Closure`s, which would need an owner
    /// until the fetch settles; a one-shot function frees itself.
    #[wasm_bindgen(method)]
    fn then(this: &Settling, on_fulfilled: &JsValue, on_rejected: &JsValue);
}

fn then_both(promise: &js_sys::Promise, callback: &JsValue) {
    promise.unchecked_ref::<Settling>().then(callback, callback);
}

fn key_of(item: &JsValue) -> Option<String> {
    Reflect::get(item, &JsValue::from_str("key"))
        .ok()?
        .as_string()
}

/// The queue, or an empty one when there is none or it is unreadable (then it is replaced).
fn load(storage: Option<&Storage>) -> Array {
    storage
        .and_then(|s| s.get_item(QUEUE_KEY).ok().flatten())
        .and_then(|text| JSON::parse(&text).ok())
        .and_then(|v| v.dyn_into::<Array>().ok())
        .unwrap_or_default()
}

fn save(storage: Option<&Storage>, queue: &Array) {
    let Some(storage) = storage else { return };
    let Some(text) = JSON::stringify(queue).ok().and_then(|t| t.as_string()) else {
        return;
    };
    if storage.set_item(QUEUE_KEY, &text).is_err() {
        dom::warn(
            "kelisim: could not store the receipt queue (storage full or blocked)",
            &JsValue::UNDEFINED,
        );
    }
}

fn remove(storage: Option<&Storage>, key: &str) {
    let kept = Array::new();
    for item in load(storage).iter() {
        if key_of(&item).as_deref() != Some(key) {
            kept.push(&item);
        }
    }
    save(storage, &kept);
}

#[cfg(test)]
mod tests {
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
}

/// The outbox against real HTTP answers: the wasm-bindgen test server refuses
/// `POST /v1/receipts` with a 4xx (a permanent refusal); a closed port is a network error.
#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests {
    use js_sys::{JSON, Promise};
    use wasm_bindgen_futures::JsFuture;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn storage() -> Storage {
        dom::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .expect("test page has localStorage")
    }

    fn queued_keys() -> Vec<String> {
        load(Some(&storage()))
            .iter()
            .filter_map(|item| key_of(&item))
            .collect()
    }

    async fn sleep(ms: i32) {
        let promise = Promise::new(&mut |resolve, _| {
            dom::window()
                .expect("window")
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
                .expect("setTimeout");
        });
        JsFuture::from(promise).await.expect("timer");
    }

    /// Waits up to 5 s for the queue to hold exactly `want`.
    async fn queue_becomes(want: &[&str]) -> Vec<String> {
        let mut keys = queued_keys();
        for _ in 0..100 {
            if keys == want {
                break;
            }
            sleep(50).await;
            keys = queued_keys();
        }
        keys
    }

    fn request(key: &str) -> ReceiptRequest {
        let text = r#"{"site":"demo","kind":"form","event":"given","key":"KEY",
            "policy_version":"2026-03","lang":"ru","purposes":[{"id":"feedback","granted":true}],
            "subject":{"browser_id":"5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94"},
            "context":{"page_url":"http://127.0.0.1/contact.html","form_id":null,"fields":["name"],"gpc":false}}"#
            .replace("KEY", key);
        serde_json::from_str(&text).expect("request")
    }

    fn origin() -> String {
        dom::window()
            .and_then(|w| w.location().origin().ok())
            .expect("origin")
    }

    #[wasm_bindgen_test]
    async fn failed_sends_stay_queued_and_refused_ones_leave() {
        storage().remove_item(QUEUE_KEY).expect("removable");
        let a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

        let dead = Outbox::new("http://127.0.0.1:9/");
        dead.submit(&request(a));
        dead.submit(&request(b));
        sleep(300).await;
        assert_eq!(
            queued_keys(),
            [a, b],
            "a network error keeps receipts for later"
        );

        // The next page start, with a collector that answers: the queue is flushed.
        Outbox::new(&origin()).flush();
        assert_eq!(queue_becomes(&[]).await, Vec::<String>::new());
    }

    #[wasm_bindgen_test]
    async fn submit_queues_first_then_sends() {
        storage().remove_item(QUEUE_KEY).expect("removable");
        let c = "cccccccccccccccccccccccccccccccc";
        let outbox = Outbox::new(&origin());
        outbox.submit(&request(c));
        assert_eq!(queued_keys(), [c], "queued before any answer can arrive");
        assert_eq!(queue_becomes(&[]).await, Vec::<String>::new());
    }

    /// The encoder that runs in browsers writes each wire fixture byte for byte (after
    /// `JSON.stringify` normalises the fixture's whitespace).
    #[wasm_bindgen_test]
    fn to_js_writes_the_wire_fixtures() {
        for fixture in [
            include_str!("../../tests/fixtures/wire/receipt_request_form_given.json"),
            include_str!("../../tests/fixtures/wire/receipt_request_minimal.json"),
        ] {
            let request: ReceiptRequest = serde_json::from_str(fixture).expect("fixture");
            let written = JSON::stringify(&request.to_js()).expect("JSON");
            let expected = JSON::stringify(&JSON::parse(fixture).expect("JSON")).expect("JSON");
            assert_eq!(written.as_string(), expected.as_string());
        }
    }

    #[wasm_bindgen_test]
    fn browser_id_is_kept() {
        storage().remove_item(BROWSER_ID_KEY).expect("removable");
        let outbox = Outbox::new(&origin());
        let first = outbox.browser_id().expect("crypto");
        assert!(is_key(&first));
        assert_eq!(outbox.browser_id(), Some(first.clone()));
        storage()
            .set_item(BROWSER_ID_KEY, "not-an-id")
            .expect("writable");
        let replaced = outbox.browser_id().expect("crypto");
        assert!(is_key(&replaced) && replaced != first);
    }

    #[wasm_bindgen_test]
    fn a_corrupt_queue_is_replaced() {
        storage()
            .set_item(QUEUE_KEY, "{not json")
            .expect("writable");
        let d = "dddddddddddddddddddddddddddddddd";
        Outbox::new("http://127.0.0.1:9").submit(&request(d));
        assert_eq!(queued_keys(), [d]);
        storage().remove_item(QUEUE_KEY).expect("removable");
    }
}
