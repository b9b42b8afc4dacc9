//! Table tests of `policy`: every rule with the cases that made it, and the wire fixtures
//! (`tests/fixtures/wire/names.json`) the collector checks too.

use super::*;

fn input(kind: &str, name: &str) -> Field {
    Field {
        tag: "input".into(),
        kind: kind.into(),
        name: name.into(),
        ..Field::default()
    }
}

fn tag(tag: &str, name: &str) -> Field {
    Field {
        tag: tag.into(),
        name: name.into(),
        ..Field::default()
    }
}

fn form(fields: Vec<Field>) -> FormInfo {
    FormInfo {
        fields,
        ..FormInfo::default()
    }
}

#[test]
fn get_note_names_the_typed_fields_of_the_action() {
    let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        get_note(
            "http://127.0.0.1:8080/track?old=1#x",
            &names(&["phone", "name"])
        ),
        "http://127.0.0.1:8080/track\nphone\nname"
    );
    assert_eq!(
        get_note("https://example.kz/s", &names(&["", "a\nb", "q"])),
        "https://example.kz/s\nq"
    );
}

#[test]
fn demo_feedback_form_is_personal_data() {
    let f = form(vec![
        input("text", "name"),
        input("tel", "phone"),
        tag("textarea", "message"),
        input("hidden", "lang"),
        tag("button", ""),
    ]);
    assert!(is_personal_data_form(&f));
}

#[test]
fn search_and_plain_forms_are_not_personal_data() {
    assert!(!is_personal_data_form(&form(vec![input("search", "q")])));
    assert!(!is_personal_data_form(&form(vec![input("text", "q")])));
    assert!(!is_personal_data_form(&form(vec![
        input("text", "city"),
        tag("select", "cargo_type"),
        input("number", "weight"),
    ])));
    assert!(!is_personal_data_form(&form(vec![])));
    // A hidden or button control named like personal data is the site's, not the visitor's.
    assert!(!is_personal_data_form(&form(vec![
        input("hidden", "name"),
        input("submit", "phone"),
        input("checkbox", "email_updates"),
    ])));
}

#[test]
fn each_signal_alone_makes_a_form_personal() {
    for field in [
        input("tel", "x1"),
        input("EMAIL", "x2"),
        tag("textarea", "comment"),
        input("", "fio"),
        input("text", "iin"),
        input("text", "user_tel"),
        input("text", "userTel"),
        input("text", "phoneNumber"),
        input("text", "contact[phone]"),
        input("text", "your-name"),
        input("text", "firstname"),
        input("text", "e-mail"),
        input("text", "Telefon"),
        tag("select", "birth_year"),
    ] {
        assert!(
            is_personal_data_form(&form(vec![field.clone()])),
            "{field:?}"
        );
    }
    let by_id = Field {
        id: "client-email".into(),
        ..input("text", "f1")
    };
    assert!(is_personal_field(&by_id));
    for token in ["tel-national", "shipping given-name", "EMAIL", "bday-year"] {
        let f = Field {
            autocomplete: token.into(),
            ..input("text", "f1")
        };
        assert!(is_personal_field(&f), "{token}");
    }
}

#[test]
fn short_words_only_match_whole_words() {
    for name in ["hotel", "title", "mobility_zone", "mailbox_size", "smsc"] {
        // "mobility" contains no PART and "mob" is a whole-word match only.
        assert!(!reads_personal(name), "{name}");
    }
    assert!(reads_personal("sms_number"));
    assert!(reads_personal("mob"));
}

#[test]
fn site_attributes_override_the_heuristic() {
    let forced = FormInfo {
        forced: true,
        ..form(vec![input("text", "q")])
    };
    assert!(is_personal_data_form(&forced));
    let ignored = FormInfo {
        ignored: true,
        ..form(vec![input("tel", "phone")])
    };
    assert!(!is_personal_data_form(&ignored));
    let both = FormInfo {
        forced: true,
        ignored: true,
        ..form(vec![])
    };
    assert!(
        is_personal_data_form(&both),
        "fail closed when a site says both"
    );
}

#[test]
fn only_a_tick_allows_a_submission() {
    assert_eq!(submit_decision(true), Decision::Allow);
    assert_eq!(submit_decision(false), Decision::Block);
}

#[test]
fn identifier_kind_comes_from_type_or_autocomplete_only() {
    assert_eq!(identifier_kind(&input("tel", "x")), Some(IdKind::Phone));
    assert_eq!(identifier_kind(&input("email", "x")), Some(IdKind::Email));
    let ac = Field {
        autocomplete: "work tel".into(),
        ..input("text", "x")
    };
    assert_eq!(identifier_kind(&ac), Some(IdKind::Phone));
    // A text field merely *named* phone is not sent: guessing could leak free text.
    assert_eq!(identifier_kind(&input("text", "phone")), None);
    assert_eq!(identifier_kind(&tag("textarea", "email")), None);
}

#[test]
fn identifiers_keep_the_first_plausible_value_of_each_kind() {
    let got = identifiers(&[
        (IdKind::Phone, "".into()),
        (IdKind::Phone, "  8 (701) 123-45-67 ".into()),
        (IdKind::Phone, "+7 777 000 00 00".into()),
        (IdKind::Email, "not an email".into()),
        (IdKind::Email, "Aigerim@Example.kz".into()),
    ]);
    assert_eq!(
        got,
        vec![
            (IdKind::Phone, "8 (701) 123-45-67".to_owned()),
            (IdKind::Email, "Aigerim@Example.kz".to_owned()),
        ]
    );
}

#[test]
fn implausible_identifiers_are_not_sent() {
    for phone in [
        "12345",
        "call me at 87011234567",
        "+7 701 123 45 67 890 12 34",
    ] {
        assert!(!plausible_phone(phone), "{phone}");
    }
    assert!(plausible_phone("+77011234567"));
    for email in ["a@b", "@b.kz", "a@.kz", "a@b.kz.", "a b@c.kz", "a@b@c.kz"] {
        assert!(!plausible_email(email), "{email}");
    }
    assert!(plausible_email("info@altynzhol.kz"));
}

#[test]
fn field_names_are_names_of_fillable_fields_once() {
    let fields = vec![
        input("text", "name"),
        input("tel", "phone"),
        tag("textarea", "message"),
        input("hidden", "lang"),
        input("checkbox", "kelisim_consent"),
        input("hidden", "kelisim_receipt"),
        input("radio", "contact_by"),
        input("radio", "contact_by"),
        input("text", ""),
        tag("button", "send"),
        tag("fieldset", "group"),
    ];
    assert_eq!(
        field_names(&fields),
        ["name", "phone", "message", "contact_by"]
    );
}

#[test]
fn language_prefers_data_lang_then_page_then_default() {
    let site = |l: &str| ["ru", "kk", "en"].contains(&l);
    assert_eq!(
        choose_language(Some("en"), Some("ru"), site).as_deref(),
        Some("en")
    );
    assert_eq!(
        choose_language(None, Some("ru-RU"), site).as_deref(),
        Some("ru")
    );
    assert_eq!(
        choose_language(Some("de"), Some("KZ"), site).as_deref(),
        Some("kk")
    );
    assert_eq!(
        choose_language(Some("kk_KZ"), None, site).as_deref(),
        Some("kk")
    );
    assert_eq!(choose_language(Some("de"), Some("fr-CA"), site), None);
    assert_eq!(choose_language(None, Some(""), site), None);
    assert_eq!(choose_language(None, None, site), None);
}

#[test]
fn page_url_loses_query_fragment_and_credentials() {
    assert_eq!(
        clean_page_url("http://127.0.0.1:8080/contact.html?name=Aigerim#form"),
        "http://127.0.0.1:8080/contact.html"
    );
    assert_eq!(
        clean_page_url("https://example.kz/a#x?y"),
        "https://example.kz/a"
    );
    assert_eq!(
        clean_page_url("https://user:secret@example.kz/p?q=1"),
        "https://example.kz/p"
    );
    assert_eq!(
        clean_page_url("https://example.kz/mail@me"),
        "https://example.kz/mail@me"
    );
    assert_eq!(clean_page_url("about:blank"), "about:blank");
}

#[test]
fn policy_link_adds_the_language() {
    assert_eq!(
        policy_link("http://h/v1/sites/demo/policies/2026-03", "kk"),
        "http://h/v1/sites/demo/policies/2026-03?lang=kk"
    );
    assert_eq!(
        policy_link("http://h/p?v=1", "en"),
        "http://h/p?v=1&lang=en"
    );
}

#[test]
fn collector_base_drops_trailing_slashes() {
    assert_eq!(collector_base(" https://c.kz// "), "https://c.kz");
    assert_eq!(
        collector_base("http://127.0.0.1:8080"),
        "http://127.0.0.1:8080"
    );
}

#[test]
fn receipt_link_names_the_site_and_the_visitors_language() {
    assert_eq!(
        receipt_link(
            "http://127.0.0.1:8080/",
            "demo",
            "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3",
            "kk"
        ),
        "http://127.0.0.1:8080/v1/receipts/0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3?site=demo&lang=kk"
    );
    assert_eq!(
        withdraw_url("http://c.kz/v1/receipts", "ab", "demo"),
        "http://c.kz/v1/receipts/ab/withdraw?site=demo"
    );
    assert_eq!(
        withdraw_url("http://c.kz/v1/receipts", "ab", ""),
        "http://c.kz/v1/receipts/ab/withdraw"
    );
}

#[test]
fn raw_identifiers_wait_at_most_a_day() {
    assert!(keeps_identifiers(Some(0.0), IDENTIFIER_TTL_MS - 1.0));
    assert!(!keeps_identifiers(Some(0.0), IDENTIFIER_TTL_MS));
    assert!(
        keeps_identifiers(None, 1e15),
        "queued by an older widget: from now"
    );
}

#[test]
fn names_follow_the_table_both_sides_test() {
    let table: serde_json::Value =
        serde_json::from_str(include_str!("../../../../tests/fixtures/wire/names.json"))
            .expect("names.json");
    for (list, safe) in [("accepted", true), ("refused", false)] {
        for name in table[list].as_array().expect(list) {
            let name = name.as_str().expect("string");
            assert_eq!(is_safe_name(name), safe, "{name:?}");
        }
    }
}

#[test]
fn retries_back_off_exponentially_up_to_an_hour() {
    assert!(may_retry(0.0, None), "nothing failed yet");
    let first = backoff_after_failure(1_000.0, None);
    assert_eq!(
        first,
        Backoff {
            next: 3_000.0,
            delay: 2_000.0
        }
    );
    assert!(!may_retry(2_999.0, Some(first)));
    assert!(may_retry(3_000.0, Some(first)));
    // Another failure inside the wait (the next item of the same flush) changes nothing.
    assert_eq!(backoff_after_failure(1_500.0, Some(first)), first);
    let second = backoff_after_failure(10_000.0, Some(first));
    assert_eq!(
        second,
        Backoff {
            next: 14_000.0,
            delay: 4_000.0
        }
    );
    let mut b = second;
    for _ in 0..20 {
        b = backoff_after_failure(b.next, Some(b));
    }
    assert_eq!(b.delay, RETRY_MAX_MS, "capped at an hour");
}

#[test]
fn decimals() {
    for n in [0, 7, 10, 42, 1000, u32::MAX] {
        let mut s = String::from("id-");
        push_decimal(&mut s, n);
        assert_eq!(s, ["id-".to_owned(), n.to_string()].concat());
    }
}

#[test]
fn delivery_outcome_by_status() {
    for ids in [false, true] {
        for s in [200, 201, 204] {
            assert_eq!(delivery(s, ids), Delivery::Done);
        }
        for s in [400, 404, 409, 413, 415] {
            assert_eq!(delivery(s, ids), Delivery::Refused, "{s}");
        }
        for s in [0, 301, 408, 429, 500, 502, 503] {
            assert_eq!(delivery(s, ids), Delivery::Retry, "{s}");
        }
    }
    assert_eq!(delivery(422, true), Delivery::RetryWithoutIdentifiers);
    // Without identifiers a 422 is the policy version: retrying cannot help.
    assert_eq!(delivery(422, false), Delivery::Refused);
}
