//! The `Reflect` readers on real JS values (what the loader passes).

use js_sys::JSON;
use wasm_bindgen_test::wasm_bindgen_test;

use super::*;

fn js(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON")
}

const CONFIG: &str = r#"{"site":"demo","revision":"x","operator":{"name":"o","bin":"1"},
  "policy":{"version":"2026-03","url":"http://h/p"},"languages":["ru","kk","en"],
  "default_language":"ru","texts":{
    "ru":{"label":"Я согласен(на)","link":"Текст","error":"Отметьте","receipt":"r"},
    "kk":{"label":"Келісемін","link":"Мәтін","error":"Белгілеңіз","receipt":"r"},
    "en":{"label":"I agree","link":"Text","error":"Tick it","receipt":"r"}},
  "purposes":[{"id":"feedback","required":true},{"id":"news"}]}"#;

#[wasm_bindgen_test]
fn reads_the_wire_config() {
    let site = SiteConfig::from_js(&js(CONFIG), "demo").expect("valid");
    assert_eq!(site.policy_url, "http://h/p");
    assert_eq!(site.default.texts.label, "Я согласен(на)");
    assert_eq!(site.notice(Some("kk")).texts.error, "Белгілеңіз");
    assert_eq!(site.granted_purposes().collect::<Vec<_>>(), ["feedback"]);
}

const COOKIE_FIXTURE: &str = include_str!("../../../tests/fixtures/wire/config_cookies.json");

#[wasm_bindgen_test]
fn reads_the_cookie_texts_and_names_what_is_missing() {
    let site = SiteConfig::from_js(&js(COOKIE_FIXTURE), "demo").expect("valid");
    let kk = site
        .notice(Some("kk"))
        .texts
        .cookies
        .clone()
        .expect("kk texts");
    assert_eq!(
        kk.get(Text::AcceptAll).as_string().as_deref(),
        Some("Барлығын қабылдау")
    );
    assert_eq!(
        kk.get(Text::Open).as_string().as_deref(),
        Some("Cookie баптаулары")
    );
    assert_eq!(
        kk.category("session_recording", "name")
            .as_string()
            .as_deref(),
        Some("Сеанстарды жазу (Вебвизор)")
    );
    assert_eq!(
        site.cookies
            .as_ref()
            .map(|c| c.categories[1].services.clone()),
        Some(vec![
            "Яндекс Метрика".to_owned(),
            "Google Analytics 4".to_owned()
        ])
    );

    let no_title = COOKIE_FIXTURE.replace(r#""title": "We use cookies","#, "");
    let err = SiteConfig::from_js(&js(&no_title), "demo").expect_err("no en title");
    assert!(
        err.message()
            .contains("texts.en.cookies.title: expected a string"),
        "{err:?}"
    );
    let unnamed = COOKIE_FIXTURE.replace(
        r#""session_recording": { "name": "Session recording"#,
        r#""recording": { "name": "Session recording"#,
    );
    let err = SiteConfig::from_js(&js(&unnamed), "demo").expect_err("no en category");
    assert!(
        err.message()
            .contains("texts.en.cookies.categories.session_recording.name: expected a string"),
        "{err:?}"
    );
    // No `cookies`: no banner texts, and the form guard's config as before.
    let site = SiteConfig::from_js(&js(CONFIG), "demo").expect("valid");
    assert!(site.cookies.is_none() && site.default.texts.cookies.is_none());
}

#[wasm_bindgen_test]
fn wrong_types_are_named() {
    let bad = CONFIG.replace(r#""label":"Келісемін""#, r#""label":7"#);
    let err = SiteConfig::from_js(&js(&bad), "demo").expect_err("label is a number");
    assert_eq!(
        err.message(),
        "invalid site config: texts.kk.label: expected a string; \
         check GET /v1/sites/{site}/config on the collector"
    );
    let err = SiteConfig::from_js(&js(r#"{"site":"demo"}"#), "demo").expect_err("no policy");
    assert!(
        err.message().contains("policy: expected an object"),
        "{err:?}"
    );
    let err = SiteConfig::from_js(&JsValue::NULL, "demo").expect_err("null");
    assert!(err.message().contains("expected an object"), "{err:?}");
    let no_kk = CONFIG.replace(r#""kk":{"#, r#""xx":{"#);
    let err = SiteConfig::from_js(&js(&no_kk), "demo").expect_err("kk missing");
    assert!(
        matches!(err, ConfigError::MissingTexts(ref l) if l == "kk"),
        "{err:?}"
    );
}

#[wasm_bindgen_test]
fn reads_loader_options() {
    let options = Options::from_js(&js(
        r##"{"site":"demo","collector":"http://c","lang":null,"forms":"#f"}"##,
    ))
    .expect("valid");
    assert_eq!(options.lang, None);
    assert_eq!(options.forms.as_deref(), Some("#f"));
    let err = Options::from_js(&js(r#"{"collector":"http://c"}"#)).expect_err("no site");
    assert!(
        err.message()
            .starts_with("invalid loader options: site: expected a string")
    );
    let err = Options::from_js(&js(r#"{"site":"d","collector":"c","lang":5}"#))
        .expect_err("lang is a number");
    assert!(
        err.message().contains("lang: expected a string or nothing"),
        "{err:?}"
    );
}
