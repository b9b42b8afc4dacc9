//! Native tests of `config`: the checks on the example config of docs/wire.md and its
//! fixtures, every refusal with its message.

use super::*;

/// The example of docs/wire.md, with real texts.
const WIRE_EXAMPLE: &str = r#"{
  "site": "demo",
  "revision": "9f2c61d0a3b4e5f6",
  "operator": { "name": "ТОО «Алтын Жол Логистика»", "bin": "180940012348" },
  "policy": { "version": "2026-03", "url": "http://127.0.0.1:8080/v1/sites/demo/policies/2026-03" },
  "languages": ["ru", "kk", "en"],
  "default_language": "ru",
  "texts": {
    "ru": { "label": "Я согласен(на) на обработку персональных данных", "link": "Текст согласия", "error": "Отметьте согласие", "receipt": "Квитанция о согласии" },
    "kk": { "label": "Дербес деректерді жинауға және өңдеуге келісемін", "link": "Келісім мәтіні", "error": "Келісімді белгілеңіз", "receipt": "Түбіртек" },
    "en": { "label": "I agree to the processing of my personal data", "link": "Consent text", "error": "Please tick the box", "receipt": "Receipt" }
  },
  "purposes": [ { "id": "feedback", "required": true }, { "id": "newsletter", "required": false } ]
}"#;

fn wire(json: &str) -> WireConfig {
    serde_json::from_str(json).expect("test config is valid JSON")
}

#[test]
fn wire_example_checks_out() {
    let site = SiteConfig::checked(wire(WIRE_EXAMPLE), "demo").expect("valid config");
    assert_eq!(site.policy_version, "2026-03");
    assert_eq!(site.default.lang, "ru");
    assert_eq!(
        site.others
            .iter()
            .map(|n| n.lang.as_str())
            .collect::<Vec<_>>(),
        ["kk", "en"]
    );
    assert!(site.supports("kk") && site.supports("ru") && !site.supports("de"));
    assert_eq!(
        site.notice(Some("en")).texts.label,
        "I agree to the processing of my personal data"
    );
    assert_eq!(site.notice(Some("de")).lang, "ru");
    assert_eq!(site.notice(None).lang, "ru");
    assert_eq!(site.granted_purposes().collect::<Vec<_>>(), ["feedback"]);
    assert_eq!(
        site.notice(Some("ru")).texts.receipt,
        "Квитанция о согласии"
    );
}

const COOKIE_FIXTURE: &str = include_str!("../../../tests/fixtures/wire/config_cookies.json");

#[test]
fn cookie_fixture_checks_out() {
    let site = SiteConfig::checked(wire(COOKIE_FIXTURE), "demo").expect("valid config");
    let cookies = site.cookies.as_ref().expect("cookies");
    assert_eq!(cookies.expiry_days, 182);
    assert_eq!(cookies.gpc_denies, ["marketing"]);
    assert_eq!(
        cookies
            .categories
            .iter()
            .map(|c| (c.id.as_str(), c.required))
            .collect::<Vec<_>>(),
        [
            ("necessary", true),
            ("analytics", false),
            ("marketing", false),
            ("session_recording", false)
        ]
    );
    // Without cookies the form guard's config is unchanged.
    assert!(
        SiteConfig::checked(wire(WIRE_EXAMPLE), "demo")
            .expect("valid")
            .cookies
            .is_none()
    );
}

#[test]
fn cookie_categories_need_safe_unique_ids() {
    for (id, bad) in [
        ("Mar keting", "Mar keting"),
        ("analytics", "analytics"),
        ("", ""),
    ] {
        let json = COOKIE_FIXTURE.replace(
            r#""id": "marketing", "required""#,
            &[r#""id": ""#, id, r#"", "required""#].concat(),
        );
        let err = SiteConfig::checked(wire(&json), "demo").expect_err("bad id");
        assert_eq!(
            err.message(),
            [
                "invalid site config: cookies: category ids must be unique a-z, 0-9, '-', '_': \"",
                bad,
                "\"; check GET /v1/sites/{site}/config on the collector"
            ]
            .concat()
        );
    }
}

#[test]
fn config_for_another_site_is_refused() {
    let err = SiteConfig::checked(wire(WIRE_EXAMPLE), "shop").expect_err("wrong site");
    assert_eq!(
        err.message(),
        "site config is for site \"demo\", not \"shop\"; check the script tag's data-site"
    );
}

#[test]
fn a_language_without_texts_is_refused() {
    let json = WIRE_EXAMPLE.replace(r#"["ru", "kk", "en"]"#, r#"["ru", "kk", "en", "uz"]"#);
    let err = SiteConfig::checked(wire(&json), "demo").expect_err("uz has no texts");
    assert!(
        matches!(err, ConfigError::MissingTexts(ref l) if l == "uz"),
        "{err:?}"
    );
    let json = WIRE_EXAMPLE.replace(r#""default_language": "ru""#, r#""default_language": "de""#);
    let err = SiteConfig::checked(wire(&json), "demo").expect_err("de has no texts");
    assert!(
        matches!(err, ConfigError::MissingTexts(ref l) if l == "de"),
        "{err:?}"
    );
}

#[test]
fn empty_policy_is_refused() {
    let json = WIRE_EXAMPLE.replace(r#""version": "2026-03""#, r#""version": """#);
    let err = SiteConfig::checked(wire(&json), "demo").expect_err("empty version");
    assert!(
        matches!(err, ConfigError::Empty("policy.version")),
        "{err:?}"
    );
}

#[test]
fn texts_without_a_label_do_not_parse() {
    let json = WIRE_EXAMPLE.replace(r#""label": "I agree"#, r#""labl": "I agree"#);
    assert!(serde_json::from_str::<WireConfig>(&json).is_err());
}

#[test]
fn options_treat_empty_attributes_as_unset() {
    let options = Options {
        site: "demo".into(),
        collector: "http://127.0.0.1:8080".into(),
        lang: Some(" ".into()),
        forms: Some("".into()),
        withdrawn: None,
    }
    .checked()
    .expect("valid options");
    assert_eq!((options.lang, options.forms), (None, None));
    let err = Options {
        site: "".into(),
        collector: "x".into(),
        lang: None,
        forms: None,
        withdrawn: None,
    }
    .checked()
    .expect_err("no site");
    assert!(err.message().contains("data-site is empty"), "{err:?}");
}
