//! Receipt requests (`POST /v1/receipts`, docs/wire.md) and the durable outbox that delivers
//! them: queued in localStorage first, then sent by the loader's transport
//! (`fetch(…, {keepalive: true})`) so the form never waits; kept until the collector answers,
//! retried with backoff at later page starts, deduplicated by the idempotency key (the collector
//! answers a replay with the same receipt).
//!
//! The HTTP request itself is the loader's (`Host::post`): a fetch with its promise callback as a
//! wasm-bindgen closure measured 1.1 KB brotli of wasm and glue, the same in the loader 0.15 KB.
//! Every decision (what is queued, when to retry, what an answer means) stays here and in
//! `policy`.
//!
//! What the widget keeps in `localStorage`, and for how long (docs/wire.md, "What the widget
//! keeps"): the browser's random secret (`kelisim:browser`, for good: its pseudonym at the
//! collector links this browser's choices); each queued request until the collector answers it,
//! the raw phone or e-mail in it at most [`policy::IDENTIFIER_TTL_MS`] (then it is sent
//! without); the withdrawal secret of the current cookie choice (`kelisim:held`, until the
//! next choice replaces it); the references of acknowledged form receipts for the notice
//! (`kelisim:acked`, until the visitor closes it). A form receipt's own secret leaves with its
//! request: nothing on the page withdraws a form consent, the site's operator does.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, JSON, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Storage;

use crate::dom;
use kelisim_widget_core::policy::{self, Backoff, Delivery, IdKind};

/// localStorage key of the random per-browser secret. (Until issue 13 it was `kelisim:bid`,
/// signed in clear into every receipt: that value is public, so it is never used again.)
pub const BROWSER_ID_KEY: &str = "kelisim:browser";
/// The key of the published per-browser id of payload v1, removed where found.
const RETIRED_BROWSER_ID_KEY: &str = "kelisim:bid";
/// localStorage key of the current cookie choice's withdrawal secret: `<reference>.<secret>`.
pub const HELD_KEY: &str = "kelisim:held";
pub use kelisim_widget_core::storage::{ACKED_KEY, QUEUE_KEY};
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
    /// The receipt's withdrawal secret: 32 lower-case hex digits, never the key.
    #[cfg_attr(test, serde(default, skip_serializing_if = "Option::is_none"))]
    pub secret: Option<String>,
    pub policy_version: String,
    pub lang: String,
    /// `kind: form`: the purposes.
    #[cfg_attr(test, serde(default, skip_serializing_if = "Option::is_none"))]
    pub purposes: Option<Vec<Grant>>,
    /// `kind: cookies`: the choice for every category.
    #[cfg_attr(test, serde(default, skip_serializing_if = "Option::is_none"))]
    pub categories: Option<Vec<Grant>>,
    pub subject: Subject,
    pub context: Context,
}

#[derive(Debug, Clone, Copy)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize, PartialEq))]
#[cfg_attr(test, serde(rename_all = "lowercase"))]
pub enum Kind {
    Form,
    /// The cookie banner's receipts.
    Cookies,
}

#[derive(Debug, Clone, Copy)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize, PartialEq))]
#[cfg_attr(test, serde(rename_all = "lowercase"))]
pub enum ConsentEvent {
    Given,
    Refused,
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
        if let Some(secret) = &self.secret {
            put(&request, "secret", secret);
        }
        put(&request, "policy_version", &self.policy_version);
        put(&request, "lang", &self.lang);
        for (key, list) in [
            ("purposes", &self.purposes),
            ("categories", &self.categories),
        ] {
            if let Some(list) = list {
                let grants = Array::new();
                for item in list {
                    let grant = Object::new();
                    put(&grant, "id", &item.id);
                    put(&grant, "granted", item.granted);
                    grants.push(&grant);
                }
                put(&request, key, grants);
            }
        }
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

pub use kelisim_widget_core::policy::is_key;

#[wasm_bindgen]
extern "C" {
    /// The loader's transport (js/loader.js): `post(url, body, key)` sends `body` with
    /// `fetch(url, {method: 'POST', keepalive: true, credentials: 'omit', headers:
    /// {'content-type': 'application/json'}})` and reports the HTTP status (0 for a network
    /// error) to `Widget::ack(key, status)`. `consent(granted, update)`: the cookie categories
    /// now granted (ids), whose gated scripts and iframes the loader runs, and the Google
    /// Consent Mode update (`null` before any choice), which it pushes first as
    /// `gtag('consent', 'update', update)`.
    #[derive(Clone)]
    pub type Host;
    #[wasm_bindgen(method)]
    fn post(this: &Host, url: &str, body: &str, key: &str);
    #[wasm_bindgen(method)]
    pub fn consent(this: &Host, granted: &Array, update: &JsValue);

    /// `crypto.getRandomValues`: throws (and we get `Err`) where there is no Web Crypto.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(bytes: &mut [u8]) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn now() -> f64;
}

/// A fresh 32-hex key from `crypto.getRandomValues`; `None` only if the browser has no crypto.
pub fn random_key() -> Option<String> {
    let mut bytes = [0u8; 16];
    get_random_values(&mut bytes).ok()?;
    Some(hex(&bytes))
}

/// localStorage key of the backoff (`[next, delay]`, ms) after failed deliveries.
pub const RETRY_KEY: &str = "kelisim:retry";
/// The acknowledged references kept for the notice.
const ACKED_LIMIT: u32 = 8;

/// Where receipts go and where they wait. Storage is optional: when a browser refuses
/// localStorage the receipt is still sent, just not retried.
pub struct Outbox {
    endpoint: String,
    storage: Option<Storage>,
    host: Host,
}

impl Outbox {
    pub fn new(collector: &str, host: Host) -> Self {
        let mut endpoint = policy::collector_base(collector).to_owned();
        endpoint.push_str("/v1/receipts");
        Self {
            endpoint,
            storage: dom::local_storage(),
            host,
        }
    }

    /// The browser's random secret, created on first use. Without storage it lives for this
    /// page.
    pub fn browser_id(&self) -> Option<String> {
        if let Some(id) = self.get(BROWSER_ID_KEY).filter(|id| is_key(id)) {
            return Some(id);
        }
        self.remove_item(RETIRED_BROWSER_ID_KEY);
        let id = random_key()?;
        // Failing to persist only means a new id next time.
        self.set(BROWSER_ID_KEY, &id);
        Some(id)
    }

    /// Keeps `secret`, the withdrawal secret of the receipt `reference` that recorded the
    /// current cookie choice (replacing the previous choice's).
    pub fn hold(&self, reference: &str, secret: &str) {
        self.set(HELD_KEY, &[reference, ".", secret].concat());
    }

    /// The withdrawal secret of `reference`, if it is the held one.
    pub fn held_secret(&self, reference: &str) -> Option<String> {
        let held = self.get(HELD_KEY)?;
        let (held_ref, secret) = held.split_once('.')?;
        (held_ref == reference && is_key(secret)).then(|| secret.to_owned())
    }

    /// Queues the request, then sends it. Never waits: the form goes on at once. A new consent
    /// is sent at once even while earlier ones back off.
    pub fn submit(&self, request: &ReceiptRequest) {
        self.enqueue(&request.key, &request.to_js());
    }

    /// Queues the withdrawal of `site`'s receipt `reference` with its `secret`
    /// (`POST /v1/receipts/{ref}/withdraw?site=…` with `{key, secret}`). While that receipt
    /// still waits in the queue the withdrawal waits too: the collector can only withdraw what
    /// it has stored.
    pub fn withdraw(&self, site: &str, reference: &str, key: &str, secret: &str) {
        let item = Object::new();
        put(&item, WITHDRAWS, reference);
        put(&item, "site", site);
        put(&item, "key", key);
        put(&item, "secret", secret);
        self.enqueue(key, &item);
    }

    fn enqueue(&self, key: &str, item: &JsValue) {
        // When it was queued, so a raw phone or e-mail in it does not stay for long. Not part
        // of the wire body (`send` leaves it out).
        put(item.unchecked_ref(), QUEUED_AT, now());
        let queue = self.load(QUEUE_KEY);
        while queue.length() >= QUEUE_LIMIT {
            queue.shift();
        }
        queue.push(item);
        self.save(QUEUE_KEY, &queue);
        if !held(&queue, item) {
            self.send(key, item);
        }
    }

    /// Sends every queued request again, unless the last attempt failed too recently; called at
    /// page start. Replays are safe: the collector answers an identical body under the same key
    /// with the same receipt.
    pub fn flush(&self) {
        let queue = self.load(QUEUE_KEY);
        // A raw phone or e-mail waits no longer than it may, even while the collector is down.
        let mut stripped = false;
        for item in queue.iter() {
            let queued_at = crate::config::get(&item, QUEUED_AT).as_f64();
            let subject = crate::config::get(&item, "subject");
            if !policy::keeps_identifiers(queued_at, now())
                && !crate::config::get(&subject, "identifiers").is_undefined()
            {
                // JSON.stringify leaves out a property set to undefined.
                put(subject.unchecked_ref(), "identifiers", JsValue::UNDEFINED);
                stripped = true;
            }
        }
        if stripped {
            self.save(QUEUE_KEY, &queue);
        }
        if !policy::may_retry(now(), self.backoff()) {
            return;
        }
        for item in queue.iter() {
            if let Some(key) = key_of(&item)
                && !held(&queue, &item)
            {
                self.send(&key, &item);
            }
        }
    }

    /// Posts a queued item: a receipt request as it is (less its queue time), a withdrawal to
    /// its receipt's address on its site.
    fn send(&self, key: &str, item: &JsValue) {
        let target = crate::config::get(item, WITHDRAWS).as_string();
        // A shallow copy whose own fields are undefined, which JSON.stringify leaves out.
        let body = Object::assign(&Object::new(), item.unchecked_ref());
        put(&body, QUEUED_AT, JsValue::UNDEFINED);
        if target.is_some() {
            put(&body, WITHDRAWS, JsValue::UNDEFINED);
            put(&body, "site", JsValue::UNDEFINED);
        }
        let Some(text) = JSON::stringify(&body).ok().and_then(|t| t.as_string()) else {
            return;
        };
        match target {
            Some(reference) => {
                let site = crate::config::get(item, "site")
                    .as_string()
                    .unwrap_or_default();
                let url = policy::withdraw_url(&self.endpoint, &reference, &site);
                self.host.post(&url, &text, key);
            }
            None => self.host.post(&self.endpoint, &text, key),
        }
    }

    /// The collector's answer to the request with `key` (0: none). True when it stored the
    /// receipt: its reference is then kept for the receipt notice.
    pub fn delivered(&self, key: &str, status: u16) -> bool {
        let queue = self.load(QUEUE_KEY);
        let item = queue
            .iter()
            .find(|item| key_of(item).as_deref() == Some(key));
        let subject = item
            .as_ref()
            .map(|item| crate::config::get(item, "subject"))
            .unwrap_or_default();
        let has_identifiers = !crate::config::get(&subject, "identifiers").is_undefined();
        match policy::delivery(status, has_identifiers) {
            Delivery::Done => {
                self.remove(key);
                self.remove_item(RETRY_KEY);
                // Withdrawals that waited for this receipt to be stored.
                for waiting in self.load(QUEUE_KEY).iter() {
                    if crate::config::get(&waiting, WITHDRAWS)
                        .as_string()
                        .as_deref()
                        == Some(key)
                        && let Some(own) = key_of(&waiting)
                    {
                        self.send(&own, &waiting);
                    }
                }
                // The notice links form receipts; the banner's settings link cookie receipts.
                let kind = item.as_ref().map(|i| crate::config::get(i, "kind"));
                if kind.and_then(|k| k.as_string()).as_deref() != Some("form") {
                    return true;
                }
                let acked = self.load(ACKED_KEY);
                if !acked.iter().any(|r| r.as_string().as_deref() == Some(key)) {
                    acked.push(&JsValue::from_str(key));
                }
                while acked.length() > ACKED_LIMIT {
                    acked.shift();
                }
                self.save(ACKED_KEY, &acked);
                return true;
            }
            Delivery::Retry => {
                let backoff = policy::backoff_after_failure(now(), self.backoff());
                let pair = Array::of2(&backoff.next.into(), &backoff.delay.into());
                self.save(RETRY_KEY, &pair);
            }
            Delivery::Refused => {
                self.remove(key);
                dom::warn("kelisim: the collector refused receipt", key);
            }
            Delivery::RetryWithoutIdentifiers => {
                // The collector stored nothing, so the same key may be sent without them
                // (JSON.stringify leaves out a property set to undefined).
                let _ = Reflect::set(&subject, &"identifiers".into(), &JsValue::UNDEFINED);
                if let Some(item) = item {
                    self.save(QUEUE_KEY, &queue);
                    dom::warn(
                        "kelisim: phone/e-mail not accepted; receipt sent without it",
                        key,
                    );
                    self.send(key, &item);
                }
            }
        }
        false
    }

    /// The latest acknowledged reference the visitor has not dismissed.
    pub fn last_acked(&self) -> Option<String> {
        let acked = self.load(ACKED_KEY);
        acked.get(acked.length().checked_sub(1)?).as_string()
    }

    /// The visitor closed the receipt notice.
    pub fn dismiss(&self) {
        self.remove_item(ACKED_KEY);
    }

    fn backoff(&self) -> Option<Backoff> {
        let pair = self.load(RETRY_KEY);
        Some(Backoff {
            next: pair.get(0).as_f64()?,
            delay: pair.get(1).as_f64()?,
        })
    }

    fn get(&self, key: &str) -> Option<String> {
        self.storage.as_ref()?.get_item(key).ok()?
    }

    fn set(&self, key: &str, value: &str) -> bool {
        self.storage
            .as_ref()
            .is_some_and(|s| s.set_item(key, value).is_ok())
    }

    fn remove_item(&self, key: &str) {
        if let Some(storage) = &self.storage {
            let _ = storage.remove_item(key);
        }
    }

    /// A stored JSON array, or an empty one when there is none or it is unreadable (then it is
    /// replaced on the next save).
    fn load(&self, key: &str) -> Array {
        self.get(key)
            .and_then(|text| JSON::parse(&text).ok())
            .filter(Array::is_array)
            .map(JsCast::unchecked_into)
            .unwrap_or_default()
    }

    fn save(&self, key: &str, value: &Array) {
        let text = JSON::stringify(value).ok().and_then(|t| t.as_string());
        if !text.is_some_and(|text| self.set(key, &text)) && self.storage.is_some() {
            dom::warn(
                "kelisim: could not store the receipt queue (storage full or blocked)",
                key,
            );
        }
    }

    /// Drops the queued request with `key`.
    fn remove(&self, key: &str) {
        let kept = Array::new();
        for item in self.load(QUEUE_KEY).iter() {
            if key_of(&item).as_deref() != Some(key) {
                kept.push(&item);
            }
        }
        self.save(QUEUE_KEY, &kept);
    }
}

fn key_of(item: &JsValue) -> Option<String> {
    crate::config::get(item, "key").as_string()
}

/// The queue item's field naming the receipt a withdrawal withdraws.
const WITHDRAWS: &str = "withdraws";
/// The queue item's field with the time (ms since the epoch) it was queued.
const QUEUED_AT: &str = "queued_at";

/// Whether `item` is a withdrawal whose receipt still waits in `queue`.
fn held(queue: &Array, item: &JsValue) -> bool {
    let Some(target) = crate::config::get(item, WITHDRAWS).as_string() else {
        return false;
    };
    queue
        .iter()
        .any(|other| key_of(&other).as_deref() == Some(target.as_str()))
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
}

/// A recording stand-in for the loader's transport, for the browser tests.
#[cfg(all(test, target_arch = "wasm32"))]
pub mod test_host {
    use std::cell::RefCell;
    use std::rc::Rc;

    use js_sys::{Object, Reflect};
    use wasm_bindgen::prelude::*;

    use super::Host;

    /// One `post(url, body, key)` call.
    #[derive(Debug, Clone)]
    pub struct Post {
        pub url: String,
        pub body: String,
        pub key: String,
    }

    pub type Posts = Rc<RefCell<Vec<Post>>>;

    /// One `consent(granted, update)` call: the ids, and `update` as JSON (`null` before any
    /// choice).
    pub type Consents = Rc<RefCell<Vec<(Vec<String>, String)>>>;

    /// A host whose `post` only records what it was asked to send.
    pub fn recording() -> (Host, Posts) {
        let (host, posts, _) = recording_all();
        (host, posts)
    }

    /// A host that records what it was asked to send and every consent it was told.
    pub fn recording_all() -> (Host, Posts, Consents) {
        let posts: Posts = Rc::default();
        let seen = Rc::clone(&posts);
        let post = Closure::<dyn FnMut(String, String, String)>::new(move |url, body, key| {
            seen.borrow_mut().push(Post { url, body, key });
        });
        let consents: Consents = Rc::default();
        let told = Rc::clone(&consents);
        let consent = Closure::<dyn FnMut(js_sys::Array, JsValue)>::new(
            move |granted: js_sys::Array, update| {
                let ids = granted.iter().filter_map(|id| id.as_string()).collect();
                let update = js_sys::JSON::stringify(&update)
                    .ok()
                    .and_then(|s| s.as_string())
                    .unwrap_or_default();
                told.borrow_mut().push((ids, update));
            },
        );
        let host = Object::new();
        Reflect::set(&host, &"post".into(), post.as_ref()).expect("set post");
        Reflect::set(&host, &"consent".into(), consent.as_ref()).expect("set consent");
        // The test host lives as long as the test page: leaking its closures is harmless here.
        post.forget();
        consent.forget();
        (host.unchecked_into(), posts, consents)
    }
}

/// The outbox's decisions on the collector's answers, in a real browser with real localStorage.
#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests {
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
            include_str!("../../tests/fixtures/wire/receipt_request_form_given.json"),
            include_str!("../../tests/fixtures/wire/receipt_request_minimal.json"),
            include_str!("../../tests/fixtures/wire/receipt_request_cookies_updated.json"),
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
            "../../tests/fixtures/wire/withdraw_request.json"
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
}
