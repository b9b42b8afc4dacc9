//! Fuzzes the cookie banner's choice (`kelisim_widget_core::choice`) natively: a stored cookie
//! is read back only when it answers the configured categories (every required one granted),
//! every choice the widget writes reads back as itself, and what a new choice records, what
//! Consent Mode is told and what "Accept all" grants follow the rules of docs/wire.md.
//!
//! Input: parts separated by `\u{1}`: the cookie header, the revision, then one part per
//! category (its id; required when it starts with `!`). The bytes also pick the grants.
#![no_main]

use kelisim_widget_core::choice::{self, Category, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parts: Vec<&str> = text.split('\u{1}').collect();
    let header = parts.first().copied().unwrap_or_default();
    let revision = parts.get(1).copied().unwrap_or_default();
    let categories: Vec<Category> = parts
        .iter()
        .skip(2)
        .map(|p| Category {
            id: p.trim_start_matches('!').to_owned(),
            required: p.starts_with('!'),
            services: Vec::new(),
        })
        .collect();
    let bits = |i: usize| data.get(i % data.len().max(1)).is_some_and(|b| b & 1 == 1);

    // Whatever the cookie holds: an answer, and only a complete, valid one is taken.
    if let Some(value) = choice::cookie_value(header, choice::COOKIE) {
        assert!(header.contains(value));
        if let Some((grants, reference)) = choice::stored(value, revision, &categories) {
            assert_eq!(grants.len(), categories.len());
            for (c, g) in categories.iter().zip(&grants) {
                assert!(*g || !c.required, "a required category refused: {value:?}");
            }
            assert!(reference.is_none_or(kelisim_widget_core::policy::is_key));
        }
    }

    // What the widget writes reads back as itself, when the config is one the collector
    // accepts: a cookie-safe revision, distinct cookie-safe ids, at least one category.
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    let mut ids: Vec<&str> = categories.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let valid = !categories.is_empty()
        && ids.len() == categories.len()
        && ids.iter().all(|id| safe(id))
        && safe(revision);
    let grants: Vec<bool> = categories
        .iter()
        .enumerate()
        .map(|(i, c)| c.required || bits(i))
        .collect();
    let key: String = data
        .iter()
        .take(32)
        .map(|b| b"0123456789abcdef"[usize::from(b % 16)] as char)
        .collect();
    let reference = (key.len() == 32).then_some(key.as_str());
    if valid {
        let value = choice::cookie(revision, reference, &categories, &grants);
        assert_eq!(
            choice::stored(&value, revision, &categories),
            Some((grants.clone(), reference)),
            "{value:?} does not read back"
        );
    }

    // "Reject all" and "Accept all".
    let required = choice::required_only(&categories);
    let gpc = bits(0);
    let all = choice::accept_all(
        &categories,
        gpc,
        &ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
    );
    for (c, (r, a)) in categories.iter().zip(required.iter().zip(&all)) {
        assert_eq!(*r, c.required);
        assert!(*a || (!c.required && gpc), "accept all refused {:?}", c.id);
    }

    // What a new choice records.
    let previous = Some((all.as_slice(), reference));
    match choice::record(previous, &grants, &categories) {
        Record::Unchanged => assert_eq!(all, grants),
        Record::Given => assert!(grants.iter().all(|g| *g)),
        Record::Refused | Record::Withdraw(_) => assert_eq!(grants, required),
        Record::Updated => assert_ne!(grants, required),
    }
    assert!(!choice::revoked(None, &grants));
    assert!(!choice::revoked(Some(&grants), &grants));

    // Consent Mode: granted only through a granted category of that name.
    for (kind, granted) in choice::consent_mode(&categories, &grants) {
        let (_, category) = choice::CONSENT_MODE
            .iter()
            .find(|(k, _)| *k == kind)
            .expect("a Consent Mode type");
        let any = categories
            .iter()
            .zip(&grants)
            .any(|(c, g)| *g && c.id == *category);
        assert_eq!(granted, any, "{kind}");
    }
    for id in choice::granted_ids(&categories, &grants) {
        assert!(
            categories
                .iter()
                .zip(&grants)
                .any(|(c, g)| *g && c.id == id)
        );
    }
});
