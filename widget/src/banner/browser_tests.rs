//! The banner in a real browser (`cargo xtask wasm-test`): clicks are forwarded as the loader
//! forwards them; the loader's own gating is covered by the end-to-end tests.

use std::rc::Rc;

use js_sys::{JSON, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{Element, HtmlInputElement};

use super::Banner;
use crate::config::{Options, SiteConfig};
use crate::receipt::{self, Outbox, test_host};

const CONFIG: &str = include_str!("../../../tests/fixtures/wire/config_cookies.json");
const ALL: [&str; 4] = ["necessary", "analytics", "marketing", "session_recording"];

fn document() -> web_sys::Document {
    crate::dom::document()
}

/// A fresh browser: no cookie, no queue, no GPC signal.
fn clear() {
    let _ = Reflect::set(
        &document(),
        &"cookie".into(),
        &"kelisim_cookies=; Max-Age=0; Path=/".into(),
    );
    let storage = crate::dom::local_storage().expect("localStorage");
    for key in [
        receipt::QUEUE_KEY,
        receipt::ACKED_KEY,
        receipt::RETRY_KEY,
        receipt::HELD_KEY,
    ] {
        storage.remove_item(key).expect("removable");
    }
    gpc(None);
}

/// Sets (or removes) `navigator.globalPrivacyControl`.
fn gpc(on: Option<bool>) {
    let navigator = crate::dom::global("navigator");
    let descriptor = js_sys::Object::new();
    let _ = Reflect::set(&descriptor, &"configurable".into(), &true.into());
    let _ = Reflect::set(
        &descriptor,
        &"value".into(),
        &on.map_or(JsValue::UNDEFINED, JsValue::from),
    );
    let target: js_sys::Object = navigator.unchecked_into();
    let key = JsValue::from_str("globalPrivacyControl");
    Reflect::define_property(&target, &key, &descriptor).expect("navigator accepts the property");
}

fn start(config: &str) -> (Banner, test_host::Posts, test_host::Consents) {
    let options = Options::from_js(
        &JSON::parse(r#"{"site":"demo","collector":"http://127.0.0.1:9","lang":"en"}"#)
            .expect("JSON"),
    )
    .expect("options");
    let site =
        Rc::new(SiteConfig::from_js(&JSON::parse(config).expect("JSON"), "demo").expect("config"));
    let (host, posts, consents) = test_host::recording_all();
    let outbox = Rc::new(Outbox::new(&options.collector, host.clone()));
    let banner = Banner::start(&options, site, outbox, host).expect("a banner");
    (banner, posts, consents)
}

fn find(selector: &str) -> Option<Element> {
    document().query_selector(selector).expect("valid selector")
}

fn click(banner: &Banner, selector: &str) {
    let target = find(selector).unwrap_or_else(|| panic!("no {selector}"));
    assert!(banner.click(&target), "{selector} is one of ours");
}

fn cookie() -> String {
    let all = Reflect::get(&document(), &"cookie".into())
        .expect("cookie")
        .as_string()
        .unwrap_or_default();
    kelisim_widget_core::choice::cookie_value(&all, kelisim_widget_core::choice::COOKIE)
        .unwrap_or_default()
        .to_owned()
}

fn queue() -> Vec<serde_json::Value> {
    let text = crate::dom::local_storage()
        .and_then(|s| s.get_item(receipt::QUEUE_KEY).ok().flatten())
        .unwrap_or_else(|| "[]".into());
    serde_json::from_str(&text).expect("queue JSON")
}

fn granted(consents: &test_host::Consents) -> (Vec<String>, serde_json::Value) {
    let last = consents.borrow().last().cloned().expect("told");
    (last.0, serde_json::from_str(&last.1).expect("update JSON"))
}

fn toggle(id: &str) -> HtmlInputElement {
    find(&["#kelisim-cat-", id].concat())
        .expect("toggle")
        .unchecked_into()
}

#[wasm_bindgen_test]
fn first_visit_shows_the_banner_and_runs_only_necessary() {
    clear();
    let (banner, posts, consents) = start(CONFIG);
    let section = find("section.kelisim-banner").expect("banner shown");
    let body = document().body().expect("body");
    assert_eq!(
        body.first_element_child().map(|e| e == section),
        Some(true),
        "first in the body"
    );
    assert_eq!(section.get_attribute("lang").as_deref(), Some("en"));
    let heading = find("#kelisim-banner-title").expect("title");
    assert_eq!(heading.text_content().as_deref(), Some("We use cookies"));
    // Accept, reject and settings: the same element and class, in this order.
    let buttons = section
        .query_selector_all(".kelisim-banner__actions > *")
        .expect("ok");
    let mut seen = Vec::new();
    for i in 0..buttons.length() {
        let b: Element = buttons.item(i).expect("item").unchecked_into();
        seen.push((
            b.local_name(),
            b.class_name(),
            b.get_attribute("data-kelisim-action").unwrap_or_default(),
            b.text_content().unwrap_or_default(),
        ));
    }
    assert_eq!(
        seen,
        [
            ("button", "kelisim-button", "accept", "Accept all"),
            ("button", "kelisim-button", "reject", "Reject all"),
            ("button", "kelisim-button", "settings", "Settings")
        ]
        .map(|(a, b, c, d)| (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned()))
    );
    assert!(find(".kelisim-banner__gpc").is_none(), "no GPC signal");
    assert!(find(".kelisim-open").is_none(), "no floating control yet");
    assert_eq!(
        granted(&consents),
        (vec!["necessary".to_owned()], serde_json::Value::Null),
        "only the required category; Consent Mode keeps its default"
    );
    assert!(posts.borrow().is_empty(), "no choice, no receipt");
    assert_eq!(cookie(), "");
    drop(banner);
    assert!(find(".kelisim-banner").is_none(), "dropping removes it");
}

#[wasm_bindgen_test]
fn accept_all_grants_everything_records_given_and_is_remembered() {
    clear();
    let (banner, posts, consents) = start(CONFIG);
    click(&banner, "[data-kelisim-action=accept]");
    assert!(find(".kelisim-banner").is_none(), "the banner is gone");
    assert!(find("button.kelisim-open[data-kelisim-open]").is_some());
    let (ids, update) = granted(&consents);
    assert_eq!(ids, ALL);
    assert_eq!(
        update,
        serde_json::json!({"ad_storage":"granted","ad_user_data":"granted",
            "ad_personalization":"granted","analytics_storage":"granted"})
    );
    let items = queue();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["kind"], "cookies");
    assert_eq!(item["event"], "given");
    assert_eq!(item["lang"], "en");
    assert_eq!(item["policy_version"], "2026-03");
    assert_eq!(
        item["categories"],
        serde_json::json!([{"id":"necessary","granted":true},{"id":"analytics","granted":true},
            {"id":"marketing","granted":true},{"id":"session_recording","granted":true}])
    );
    assert!(item.get("purposes").is_none());
    assert_eq!(item["context"]["form_id"], serde_json::Value::Null);
    assert_eq!(item["context"]["gpc"], false);
    let key = item["key"].as_str().expect("key").to_owned();
    assert_eq!(posts.borrow().len(), 1, "sent at once");
    assert_eq!(
        cookie(),
        [
            "1.3c5e0d1f2a4b6c7d.",
            &key,
            ".necessary:1+analytics:1+marketing:1+session_recording:1"
        ]
        .concat()
    );
    drop(banner);

    // The next page: no banner, the choice applied at once, nothing sent again.
    let (banner, posts, consents) = start(CONFIG);
    assert!(find(".kelisim-banner").is_none());
    assert!(find(".kelisim-open").is_some());
    assert_eq!(granted(&consents).0, ALL);
    assert!(posts.borrow().is_empty());
    drop(banner);

    // A new revision of the cookie part asks again.
    let (banner, _, consents) = start(&CONFIG.replace("3c5e0d1f2a4b6c7d", "0000000000000001"));
    assert!(find(".kelisim-banner").is_some(), "asked again");
    assert_eq!(granted(&consents).0, ["necessary"]);
    drop(banner);
    clear();
}

#[wasm_bindgen_test]
fn settings_start_unticked_and_a_partial_choice_is_an_update() {
    clear();
    let (banner, _, consents) = start(CONFIG);
    click(&banner, "[data-kelisim-action=settings]");
    let dialog = find("dialog.kelisim-prefs").expect("settings shown");
    assert!(dialog.has_attribute("open"), "shown modally");
    assert_eq!(
        dialog.get_attribute("aria-labelledby").as_deref(),
        Some("kelisim-prefs-title")
    );
    assert!(toggle("necessary").checked() && toggle("necessary").disabled());
    for id in &ALL[1..] {
        assert!(!toggle(id).checked(), "{id} is not pre-ticked");
        assert!(!toggle(id).disabled());
    }
    let services = dialog
        .query_selector_all(".kelisim-prefs__services")
        .expect("ok");
    assert_eq!(
        services.item(1).and_then(|s| s.text_content()).as_deref(),
        Some("Services: Яндекс Метрика, Google Analytics 4")
    );
    let described = toggle("analytics")
        .get_attribute("aria-describedby")
        .expect("described");
    assert_eq!(
        find(&["#", &described].concat())
            .and_then(|d| d.text_content())
            .as_deref(),
        Some("Help us understand how the site is used.")
    );
    // Closing changes nothing.
    click(&banner, "[data-kelisim-action=close]");
    assert!(find("dialog.kelisim-prefs").is_none());
    assert!(find(".kelisim-banner").is_some(), "still to be answered");

    click(&banner, "[data-kelisim-action=settings]");
    toggle("analytics").set_checked(true);
    click(&banner, "dialog [data-kelisim-action=save]");
    assert!(find("dialog.kelisim-prefs").is_none() && find(".kelisim-banner").is_none());
    assert_eq!(granted(&consents).0, ["necessary", "analytics"]);
    assert_eq!(
        granted(&consents).1["analytics_storage"],
        "granted",
        "{:?}",
        granted(&consents)
    );
    assert_eq!(granted(&consents).1["ad_storage"], "denied");
    let items = queue();
    assert_eq!(
        items.last().map(|i| i["event"].clone()),
        Some("updated".into())
    );
    assert!(find(".kelisim-notice").is_none(), "nothing revoked");
    drop(banner);
    clear();
}

#[wasm_bindgen_test]
fn revoking_says_a_reload_is_needed_and_rejecting_all_withdraws() {
    clear();
    let (banner, posts, _) = start(CONFIG);
    click(&banner, "[data-kelisim-action=accept]");
    let given = queue()[0]["key"].as_str().expect("key").to_owned();
    // The floating control reopens the settings with the current choice.
    click(&banner, ".kelisim-open");
    assert!(toggle("marketing").checked());
    toggle("marketing").set_checked(false);
    click(&banner, "dialog [data-kelisim-action=save]");
    let note = find(".kelisim-notice").expect("reload note");
    assert_eq!(note.get_attribute("role").as_deref(), Some("status"));
    assert_eq!(
        note.text_content()
            .as_deref()
            .map(|t| t.trim_end_matches('×')),
        Some("Scripts already running stop when you reload the page.")
    );
    let updated = queue()[1]["key"].as_str().expect("key").to_owned();
    let secret = queue()[1]["secret"].as_str().expect("secret").to_owned();
    assert!(receipt::is_key(&secret) && secret != updated);
    assert!(
        cookie().contains(&updated),
        "the cookie names the latest receipt"
    );
    assert!(
        !cookie().contains(&secret),
        "the cookie holds no capability"
    );

    // Reject all after a consent: that consent is withdrawn (once it is stored).
    click(&banner, ".kelisim-open");
    click(&banner, "dialog [data-kelisim-action=reject]");
    let items = queue();
    assert_eq!(items.len(), 3);
    assert_eq!(items[2]["withdraws"], updated.as_str());
    assert!(
        items[2].get("kind").is_none(),
        "a withdrawal, not a receipt"
    );
    assert!(
        !posts.borrow().iter().any(|p| p.url.ends_with("/withdraw")),
        "held while {updated} is not stored"
    );
    drop(banner);
    let storage = crate::dom::local_storage().expect("storage");
    let (host, posts) = test_host::recording();
    let outbox = Outbox::new("http://127.0.0.1:9", host);
    assert!(outbox.delivered(&given, 201) && outbox.delivered(&updated, 201));
    let sent = posts
        .borrow()
        .iter()
        .find(|p| p.url.contains("/withdraw"))
        .cloned()
        .expect("the withdrawal is sent");
    assert_eq!(
        sent.url,
        [
            "http://127.0.0.1:9/v1/receipts/",
            &updated,
            "/withdraw?site=demo"
        ]
        .concat(),
        "to the receipt on its site"
    );
    let body: serde_json::Value = serde_json::from_str(&sent.body).expect("JSON");
    assert_eq!(
        body["secret"],
        secret.as_str(),
        "with the withdrawn receipt's secret"
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
    storage.remove_item(receipt::QUEUE_KEY).expect("ok");
    clear();
}

#[wasm_bindgen_test]
fn a_choice_whose_secret_this_browser_does_not_hold_is_refused_instead() {
    clear();
    let (banner, _, _) = start(CONFIG);
    click(&banner, "[data-kelisim-action=accept]");
    // As for a choice recorded before withdrawal secrets existed.
    crate::dom::local_storage()
        .expect("storage")
        .remove_item(receipt::HELD_KEY)
        .expect("ok");
    click(&banner, ".kelisim-open");
    click(&banner, "dialog [data-kelisim-action=reject]");
    let items = queue();
    assert_eq!(items.len(), 2);
    assert!(items[1].get("withdraws").is_none(), "{:?}", items[1]);
    assert_eq!(items[1]["event"], "refused");
    drop(banner);
    clear();
}

#[wasm_bindgen_test]
fn global_privacy_control_keeps_marketing_off_and_the_banner_says_why() {
    clear();
    gpc(Some(true));
    let (banner, _, consents) = start(CONFIG);
    let note = find(".kelisim-banner .kelisim-banner__gpc").expect("GPC note");
    assert_eq!(
        note.text_content().as_deref(),
        Some("Your browser sends a Global Privacy Control signal.")
    );
    click(&banner, "[data-kelisim-action=accept]");
    assert_eq!(
        granted(&consents).0,
        ["necessary", "analytics", "session_recording"]
    );
    let update = granted(&consents).1;
    assert_eq!(update["ad_storage"], "denied");
    assert_eq!(update["ad_user_data"], "denied");
    assert_eq!(update["ad_personalization"], "denied");
    assert_eq!(update["analytics_storage"], "granted");
    let item = queue().pop().expect("receipt");
    assert_eq!(item["event"], "updated", "not everything was granted");
    assert_eq!(item["context"]["gpc"], true);
    // An explicit choice in the settings still may turn marketing on.
    click(&banner, ".kelisim-open");
    assert!(find("dialog .kelisim-banner__gpc").is_some());
    toggle("marketing").set_checked(true);
    click(&banner, "dialog [data-kelisim-action=save]");
    assert_eq!(granted(&consents).0, ALL);
    drop(banner);
    clear();
}

#[wasm_bindgen_test]
fn a_site_link_with_data_kelisim_open_opens_the_settings() {
    clear();
    let (banner, _, _) = start(CONFIG);
    let link = crate::dom::element(
        &document(),
        "a",
        "",
        &[("href", "#"), ("data-kelisim-open", "")],
        Some("Cookies"),
    );
    let inner = crate::dom::element(&document(), "span", "", &[], Some("settings"));
    crate::dom::append(&link, &inner);
    crate::dom::append(&document().body().expect("body").into(), &link);
    assert!(banner.click(&inner), "a click inside the link counts");
    assert!(find("dialog.kelisim-prefs[open]").is_some());
    assert!(
        !banner.click(&document().body().expect("body").into()),
        "not ours"
    );
    link.remove();
    drop(banner);
    assert!(find("dialog.kelisim-prefs").is_none());
    clear();
}
