//! The rules the loader (`js/loader.js`) needs before the wasm has loaded, and when it cannot
//! load, kept in one place: here in Rust. The loader must decide on its own which forms carry
//! personal data (to hold and guard them) and put the session recorders' markers on their
//! fields (so nothing typed before the wasm arrives is recorded). Its word lists, input types,
//! autofill tokens, typed-value limits and the markers table are generated from `policy`,
//! `recorders` and `redact` into the region between `// generated: begin` and `// generated:
//! end` of the loader; the few lines of logic around them (camelCase splitting, the order of
//! the checks) are bound to the wasm's by one table of cases, `tests/fixtures/rules/fields.json`,
//! which `the_wasm_rules_answer_every_case` runs here and `widget/js/rules.test.js` runs (under
//! node, from `cargo xtask test`) against the loader's own code.
//!
//! Test-only: `the_loader_holds_the_generated_rules` rewrites the region when the Rust rules
//! changed and fails, asking for a second run (rust-analyzer's "sourcegen" habit), so a stale
//! loader cannot pass CI.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::choice::{self, Category};
use crate::policy::{self, Field};
use crate::recorders::{self, Kind, Role};
use crate::{redact, storage};

const BEGIN: &str = "  // generated: begin\n";
const END: &str = "  // generated: end\n";

/// The repository's root (this crate is `crates/widget-core`).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `^(a|b|c)$`, case-insensitive, for names that need no escaping.
fn alternation(words: &[&str]) -> String {
    for w in words {
        assert!(
            w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{w:?} would need escaping in a regular expression"
        );
    }
    words.join("|")
}

/// `[[classes, [[attribute, value], …]], …]` for the form, a personal-data field, a free-text
/// field, in that order (the loader's `role()` answers 1 or 2 for the fields).
fn markers() -> String {
    let mut out = String::from("[");
    for (i, role) in [Role::Form, Role::PersonalData, Role::FreeText]
        .into_iter()
        .enumerate()
    {
        let classes: Vec<&str> = recorders::markers(role)
            .filter(|m| m.kind == Kind::Class)
            .map(|m| m.name)
            .collect();
        let attributes: Vec<String> = recorders::markers(role)
            .filter(|m| m.kind == Kind::Attribute)
            .map(|m| format!("['{}', '{}']", m.name, m.value))
            .collect();
        if i > 0 {
            out.push_str(",\n    ");
        }
        let _ = write!(
            out,
            "['{}', [{}]]",
            classes.join(" "),
            attributes.join(", ")
        );
    }
    out.push(']');
    out
}

/// Every attribute a marker is written in (`class` for the class markers): the loader watches
/// them on marked elements.
fn marked_attributes() -> String {
    let mut names = vec!["'class'".to_owned()];
    for m in recorders::MARKERS
        .iter()
        .filter(|m| m.kind == Kind::Attribute)
    {
        let quoted = format!("'{}'", m.name);
        if !names.contains(&quoted) {
            names.push(quoted);
        }
    }
    names.join(", ")
}

/// The generated region of the loader, markers included.
fn generate() -> String {
    let autofill = format!(
        "{}|({}).*|.*({})",
        alternation(&policy::AUTOFILL_TOKENS),
        alternation(&policy::AUTOFILL_PREFIXES),
        alternation(&policy::AUTOFILL_SUFFIXES),
    );
    let mut out = String::from(BEGIN);
    let lines = [
        "  // From crates/widget-core/src/policy.rs, recorders.rs, redact.rs, choice.rs and"
            .to_owned(),
        "  // storage.rs by `cargo test -p".to_owned(),
        "  // kelisim-widget-core loader_rules`, which rewrites this region when they change."
            .to_owned(),
        format!("  var WORDS = /^({})$/i;", alternation(&policy::WORDS)),
        format!("  var PARTS = /{}/i;", alternation(&policy::PARTS)),
        format!("  var AUTOFILL = /^({autofill})$/i;"),
        format!(
            "  var PERSONAL_TYPES = /^({})$/i;",
            alternation(&policy::PERSONAL_TYPES)
        ),
        format!(
            "  var NOT_TYPED = /^({})$/i;",
            alternation(&policy::NOT_TYPED)
        ),
        format!(
            "  var FREE_TEXT = /^({})$/i;",
            alternation(&recorders::FREE_TEXT_TYPES)
        ),
        format!("  var OWN = '{}';", policy::OWN_FIELD_PREFIX),
        format!(
            "  var MIN_TYPED = {}, WHOLE_WORD_BELOW = {};",
            redact::MIN_TYPED_CHARS,
            redact::WHOLE_WORD_BELOW
        ),
        format!("  var MARKS = {};", markers()),
        format!("  var MARKED = [{}];", marked_attributes()),
        format!("  var COOKIE = '{}';", choice::COOKIE),
        format!(
            "  var CONSENT_MODE = [{}];",
            choice::CONSENT_MODE
                .iter()
                .map(|(kind, category)| format!("['{kind}', '{category}']"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "  var PENDING = [{}];",
            storage::PENDING
                .iter()
                .map(|key| format!("'{key}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ];
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(END);
    out
}

#[test]
fn the_loader_holds_the_generated_rules() {
    let path = root().join("widget/js/loader.js");
    let loader = std::fs::read_to_string(&path).expect("widget/js/loader.js is readable");
    let start = loader
        .find(BEGIN)
        .expect("the loader has a `// generated: begin` line");
    let end = loader[start..]
        .find(END)
        .map(|i| start + i + END.len())
        .expect("the loader has a `// generated: end` line after it");
    let want = generate();
    if loader[start..end] != want {
        let updated = [&loader[..start], want.as_str(), &loader[end..]].concat();
        std::fs::write(&path, updated).expect("widget/js/loader.js is writable");
        panic!(
            "widget/js/loader.js did not hold the rules of policy.rs/recorders.rs and has been \
             updated: review the change and run the tests again"
        );
    }
}

/// One case of `tests/fixtures/rules/fields.json`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    tag: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    autocomplete: String,
    /// `policy::is_personal_field`.
    personal: bool,
    /// `recorders::role`: `"personal"`, `"free_text"` or `null`.
    role: Option<String>,
}

#[test]
fn the_wasm_rules_answer_every_case() {
    let path = root().join("tests/fixtures/rules/fields.json");
    let text = std::fs::read_to_string(&path).expect("the shared table of cases is readable");
    let cases: Vec<Case> = serde_json::from_str(&text).expect("the table is valid JSON");
    assert!(cases.len() > 40, "a table worth the name");
    for case in &cases {
        let field = Field {
            tag: case.tag.clone(),
            kind: case.kind.clone(),
            name: case.name.clone(),
            id: case.id.clone(),
            autocomplete: case.autocomplete.clone(),
        };
        assert_eq!(
            policy::is_personal_field(&field),
            case.personal,
            "personal: {case:?}"
        );
        let role = recorders::role(&field).map(|r| match r {
            Role::PersonalData => "personal",
            Role::FreeText => "free_text",
            Role::Form => "form",
        });
        assert_eq!(role, case.role.as_deref(), "role: {case:?}");
    }
}

#[test]
fn markers_are_generated_per_role() {
    let m = markers();
    assert!(
        m.starts_with("[['ym-disable-submit', [['data-matomo-ignore', '']]],"),
        "{m}"
    );
    assert!(m.contains("rr-block"), "{m}");
    assert!(m.contains("['data-clarity-mask', 'true']"), "{m}");
    assert!(marked_attributes().starts_with("'class', 'data-sentry-mask'"));
}

/// One case of `tests/fixtures/rules/choices.json`: a `document.cookie` string, the config's
/// cookie revision and categories, and what the widget makes of them.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceCase {
    cookie: String,
    revision: String,
    categories: Vec<(String, bool)>,
    /// `choice::stored`'s grants, `null` when the visitor is asked again.
    grants: Option<Vec<bool>>,
    /// `choice::consent_mode` for those grants (absent when `grants` is null).
    #[serde(default)]
    consent_mode: Option<std::collections::BTreeMap<String, String>>,
}

#[test]
fn the_wasm_choice_rules_answer_every_case() {
    let path = root().join("tests/fixtures/rules/choices.json");
    let text = std::fs::read_to_string(&path).expect("the table of choices is readable");
    let cases: Vec<ChoiceCase> = serde_json::from_str(&text).expect("the table is valid JSON");
    assert!(cases.len() >= 15, "a table worth the name");
    for case in &cases {
        let categories: Vec<Category> = case
            .categories
            .iter()
            .map(|(id, required)| Category {
                id: id.clone(),
                required: *required,
                services: Vec::new(),
            })
            .collect();
        let stored = choice::cookie_value(&case.cookie, choice::COOKIE)
            .and_then(|value| choice::stored(value, &case.revision, &categories));
        let grants = stored.as_ref().map(|(g, _)| g.clone());
        assert_eq!(grants, case.grants, "stored: {case:?}");
        let mode = grants.map(|g| {
            choice::consent_mode(&categories, &g)
                .into_iter()
                .map(|(k, granted)| {
                    (
                        k.to_owned(),
                        if granted { "granted" } else { "denied" }.to_owned(),
                    )
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        });
        assert_eq!(mode, case.consent_mode, "consent mode: {case:?}");
    }
}

/// One case of `tests/fixtures/rules/languages.json`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageCase {
    requested: Option<String>,
    page: Option<String>,
    supported: Vec<String>,
    /// `policy::choose_language`: `null` for the site's default.
    chosen: Option<String>,
}

#[test]
fn the_wasm_language_rule_answers_every_case() {
    let path = root().join("tests/fixtures/rules/languages.json");
    let text = std::fs::read_to_string(&path).expect("the table of languages is readable");
    let cases: Vec<LanguageCase> = serde_json::from_str(&text).expect("the table is valid JSON");
    assert!(cases.len() >= 8, "a table worth the name");
    for case in &cases {
        let chosen =
            policy::choose_language(case.requested.as_deref(), case.page.as_deref(), |l| {
                case.supported.iter().any(|s| s == l)
            });
        assert_eq!(chosen, case.chosen, "{case:?}");
    }
}
