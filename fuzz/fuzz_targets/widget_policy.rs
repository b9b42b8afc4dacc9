//! Fuzzes the widget's pure decisions natively: URL redaction, language tags, which fields are
//! personal data and which names a receipt may carry, delivery and retry rules.
//!
//! The rules are `kelisim-widget-core`'s, the crate the widget links. The widget's config
//! parsing reads JS objects through `Reflect` and can only run in a browser; the same JSON is
//! fuzzed on the collector side (`site_config` renders it, `receipt_request` parses what the
//! widget sends). `widget_redact` and `widget_choice` fuzz the shield and the cookie choice.
#![no_main]

use kelisim_widget_core::policy::{self, Delivery, Field, FormInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parts: Vec<&str> = text.split('\u{1}').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();

    // Redaction: no query, no fragment, no credentials; cleaning twice changes nothing.
    let clean = policy::clean_page_url(&text);
    assert!(!clean.contains(['?', '#']), "{clean:?}");
    if let Some(scheme) = clean.find("://") {
        let rest = &clean[scheme + 3..];
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        assert!(!authority.contains('@'), "credentials kept: {clean:?}");
    }
    assert_eq!(policy::clean_page_url(&clean), clean);

    let lang = policy::primary_language(part(0));
    assert!(
        !lang.contains(['-', '_']) && lang == lang.to_ascii_lowercase(),
        "{lang:?}"
    );
    let chosen = policy::choose_language(Some(part(0)), Some(part(1)), |l| l == "ru" || l == "kk");
    assert!(chosen.as_deref().is_none_or(|l| l == "ru" || l == "kk"));

    // Fields: each group of five parts is one control's attributes.
    let fields: Vec<Field> = parts
        .chunks(5)
        .map(|c| Field {
            tag: c.first().copied().unwrap_or_default().to_owned(),
            kind: c.get(1).copied().unwrap_or_default().to_owned(),
            name: c.get(2).copied().unwrap_or_default().to_owned(),
            id: c.get(3).copied().unwrap_or_default().to_owned(),
            autocomplete: c.get(4).copied().unwrap_or_default().to_owned(),
        })
        .collect();
    let names = policy::field_names(&fields);
    for (i, name) in names.iter().enumerate() {
        assert!(
            !name.is_empty() && !name.starts_with("kelisim_"),
            "{name:?}"
        );
        assert!(fields.iter().any(|f| &f.name == name));
        assert!(!names[..i].contains(name), "duplicate {name:?}");
    }
    let personal = fields.iter().any(policy::is_personal_field);
    let form = |forced, ignored| FormInfo {
        forced,
        ignored,
        fields: fields.clone(),
    };
    assert!(
        policy::is_personal_data_form(&form(true, true)),
        "forced wins"
    );
    assert_eq!(policy::is_personal_data_form(&form(false, false)), personal);
    assert!(!policy::is_personal_data_form(&form(false, true)));
    for field in &fields {
        if policy::identifier_kind(field).is_some() {
            assert!(
                policy::is_personal_field(field),
                "an identifier is personal data"
            );
        }
    }

    // Numbers and keys.
    let n = u32::from_le_bytes(std::array::from_fn(|i| data.get(i).copied().unwrap_or(0)));
    let mut decimal = String::new();
    policy::push_decimal(&mut decimal, n);
    assert_eq!(decimal, n.to_string());
    let is_key = part(0).len() == 32
        && part(0)
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    assert_eq!(policy::is_key(part(0)), is_key);

    // Delivery: 2xx is done, no answer and 5xx are retried, nothing else loops forever.
    let status = u16::try_from(n % 1000).unwrap_or(0);
    let delivery = policy::delivery(status, n % 2 == 0);
    match status {
        200..=299 => assert_eq!(delivery, Delivery::Done),
        0 | 408 | 429 | 500..=599 => assert_eq!(delivery, Delivery::Retry),
        _ => {}
    }
    let now = f64::from(n);
    let first = policy::backoff_after_failure(now, None);
    let later = policy::backoff_after_failure(first.next, Some(first));
    for b in [first, later] {
        assert!(
            b.next > now && b.delay >= policy::RETRY_FIRST_MS && b.delay <= policy::RETRY_MAX_MS
        );
    }
    assert!(!policy::may_retry(now, Some(first)) && policy::may_retry(first.next, Some(first)));
});
