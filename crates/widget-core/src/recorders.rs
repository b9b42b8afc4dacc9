//! The masking and exclusion markers of the common session recorders, in one table, and the
//! pure decision of which of them a guarded form and each of its fields get. The loader applies
//! them to the DOM, from its first moment (before the wasm, and without it), and keeps them
//! through a site's re-renders: `loader_rules` generates its copy of this table, and the
//! decision is bound to the loader's by one table of cases. So the wasm itself uses only
//! [`role`] (which fields' typing the shield learns); this file never touches the DOM.
//!
//! Each recorder honours its own marker without any configuration on the site's side, so with
//! these on the fields a recorder that keeps its defaults records no value typed there. Every
//! name below was checked against the vendor's documentation or code (source beside each).

// The table and its helpers are read by the generator of the loader's rules (tests), not by
// the shipped wasm.

use crate::policy::{self, Field, OWN_FIELD_PREFIX};

/// Who reads a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    YandexMetrika,
    Rrweb,
    PostHog,
    SentryReplay,
    Clarity,
    Hotjar,
    FullStory,
    LogRocket,
    Smartlook,
    Matomo,
}

/// How a marker is written on the element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A class added to the element's `class` list.
    Class,
    /// An attribute set to [`Marker::value`].
    Attribute,
}

/// What a marker is put on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The guarded `<form>` itself.
    Form,
    /// A field that collects personal data (`policy::is_personal_field`, textareas aside).
    PersonalData,
    /// A field where the visitor writes freely: a textarea, or a text-like input.
    FreeText,
}

impl Role {
    #[inline]
    const fn bit(self) -> u8 {
        match self {
            Self::Form => FORM,
            Self::PersonalData => PERSONAL,
            Self::FreeText => FREE_TEXT,
        }
    }
}

const FORM: u8 = 1;
const PERSONAL: u8 = 2;
const FREE_TEXT: u8 = 4;
const FIELDS: u8 = PERSONAL | FREE_TEXT;

/// One marker of one recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub vendor: Vendor,
    pub kind: Kind,
    pub name: &'static str,
    /// The attribute's value (empty for a class, and for a presence-only attribute).
    pub value: &'static str,
    /// The roles it is put on (bits of [`Role`]).
    on: u8,
}

#[inline]
const fn class(vendor: Vendor, name: &'static str, on: u8) -> Marker {
    Marker {
        vendor,
        kind: Kind::Class,
        name,
        value: "",
        on,
    }
}

#[inline]
const fn attribute(vendor: Vendor, name: &'static str, value: &'static str, on: u8) -> Marker {
    Marker {
        vendor,
        kind: Kind::Attribute,
        name,
        value,
        on,
    }
}

/// The table. Sources, read on 2026-11-21 (where a vendor's own page was not available to
/// read in full, the note says what the name was checked against instead):
pub const MARKERS: [Marker; 16] = [
    // Yandex.Metrika, https://yandex.com/support/metrica/en/code/html-markup.html (classes):
    // `ym-disable-keys` "disables recording the data entered in fields" (input, textarea),
    // `ym-hide-content` disables recording of the element in Session Replay (Webvisor),
    // `ym-disable-submit` "disables tracking form data submission events" (put on the form).
    class(Vendor::YandexMetrika, "ym-disable-keys", FIELDS),
    class(Vendor::YandexMetrika, "ym-hide-content", FIELDS),
    class(Vendor::YandexMetrika, "ym-disable-submit", FORM),
    // rrweb, rrweb-io/rrweb guide.md ("Privacy": `.rr-block` "will not be recorded", replayed
    // as a placeholder; `.rr-ignore` "will not record its input events") and the defaults of
    // `record()` in packages/rrweb/src/record/index.ts (`blockClass = 'rr-block'`,
    // `ignoreClass = 'rr-ignore'`, `maskTextClass = 'rr-mask'`). Tools built on rrweb keep
    // these defaults unless they set their own (PostHog below does).
    class(Vendor::Rrweb, "rr-block", FIELDS),
    class(Vendor::Rrweb, "rr-ignore", FIELDS),
    class(Vendor::Rrweb, "rr-mask", FIELDS),
    // PostHog, PostHog/posthog-js src/extensions/replay/sessionrecording.ts: the rrweb options
    // it records with default to `blockClass: 'ph-no-capture'` (and autocapture skips the
    // class too); privacy page https://posthog.com/docs/session-replay/privacy.
    class(Vendor::PostHog, "ph-no-capture", FIELDS),
    // Sentry Session Replay, https://docs.sentry.io/platforms/javascript/session-replay/privacy/:
    // "Elements with class name sentry-mask or the attribute data-sentry-mask" are masked;
    // getsentry/sentry-javascript commit 368e29e added `maskInputSelector = '.sentry-mask'`.
    class(Vendor::SentryReplay, "sentry-mask", FIELDS),
    attribute(Vendor::SentryReplay, "data-sentry-mask", "", FIELDS),
    // Microsoft Clarity, https://learn.microsoft.com/en-us/clarity/setup-and-installation/clarity-masking
    // ("Masking Content"; its code section was not in the readable excerpt). The attribute
    // `data-clarity-mask="true"` and its counterpart `data-clarity-unmask` (microsoft/clarity
    // issue #309) were checked against their use in public site code.
    attribute(Vendor::Clarity, "data-clarity-mask", "true", FIELDS),
    // Hotjar: its help article on suppression was not in the searchable index. Its counterpart
    // `data-hj-allow` is documented ("can be appended as either an attribute or a class",
    // https://help.hotjar.com/hc/en-us/articles/36820034730641); `data-hj-suppress` was
    // checked against its use in public code (e.g. Open edX admin portal tables).
    attribute(Vendor::Hotjar, "data-hj-suppress", "", FIELDS),
    // FullStory, https://help.fullstory.com/hc/en-us/articles/360020623574 ("Add the
    // .fs-exclude class name to any element you want to exclude"; excluded data "never leaves
    // the user's browser").
    class(Vendor::FullStory, "fs-exclude", FIELDS),
    // LogRocket, https://docs.logrocket.com/docs/privacy: "Add the data-private attribute to any
    // input or textarea DOM element to prevent recording its input".
    attribute(Vendor::LogRocket, "data-private", "", FIELDS),
    // Smartlook: the web recorder's serializer (its published bundle) checks
    // `hasAttribute("data-recording-sensitive")` and treats the element and its children as
    // sensitive, recording no value (`isIgnored` answers "all"); WebView section of
    // https://mobile.developer.smartlook.com/docs/handling-sensitive-data.
    attribute(Vendor::Smartlook, "data-recording-sensitive", "", FIELDS),
    // Matomo, matomo-org/developer-documentation: heatmap-session-recording setup ("Masking
    // keystrokes in form fields": a `data-matomo-mask` attribute on any element, from version
    // 3.1.9) and docs/5.x/form-analytics/setup.md ("Ignoring forms": `data-matomo-ignore` on
    // the form; "it will not even send any tracking requests for this form").
    attribute(Vendor::Matomo, "data-matomo-mask", "", FIELDS),
    attribute(Vendor::Matomo, "data-matomo-ignore", "", FORM),
];

/// Input types where the visitor writes freely (absent `type` is text).
pub const FREE_TEXT_TYPES: [&str; 4] = ["", "text", "search", "url"];

/// What a form control is, for the recorders: `None` for controls that hold nothing typed
/// (buttons, checkboxes, hidden fields) and for the widget's own fields.
#[inline]
pub fn role(field: &Field) -> Option<Role> {
    if field.name.starts_with(OWN_FIELD_PREFIX) {
        return None;
    }
    if field.tag == "textarea" {
        return Some(Role::FreeText);
    }
    if policy::is_personal_field(field) {
        return Some(Role::PersonalData);
    }
    let kind = field.kind.trim();
    (field.tag == "input" && FREE_TEXT_TYPES.iter().any(|t| kind.eq_ignore_ascii_case(t)))
        .then_some(Role::FreeText)
}

/// The markers an element in `role` gets, in table order.
#[inline]
pub fn markers(role: Role) -> impl Iterator<Item = &'static Marker> {
    MARKERS.iter().filter(move |m| m.on & role.bit() != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(tag: &str, kind: &str, name: &str) -> Field {
        Field {
            tag: tag.into(),
            kind: kind.into(),
            name: name.into(),
            ..Field::default()
        }
    }

    fn names(role: Role) -> Vec<&'static str> {
        markers(role).map(|m| m.name).collect()
    }

    #[test]
    fn every_vendor_of_the_issue_is_in_the_table() {
        let want: [(Vendor, Kind, &str); 16] = [
            (Vendor::YandexMetrika, Kind::Class, "ym-disable-keys"),
            (Vendor::YandexMetrika, Kind::Class, "ym-hide-content"),
            (Vendor::YandexMetrika, Kind::Class, "ym-disable-submit"),
            (Vendor::Rrweb, Kind::Class, "rr-block"),
            (Vendor::Rrweb, Kind::Class, "rr-ignore"),
            (Vendor::Rrweb, Kind::Class, "rr-mask"),
            (Vendor::PostHog, Kind::Class, "ph-no-capture"),
            (Vendor::SentryReplay, Kind::Class, "sentry-mask"),
            (Vendor::SentryReplay, Kind::Attribute, "data-sentry-mask"),
            (Vendor::Clarity, Kind::Attribute, "data-clarity-mask"),
            (Vendor::Hotjar, Kind::Attribute, "data-hj-suppress"),
            (Vendor::FullStory, Kind::Class, "fs-exclude"),
            (Vendor::LogRocket, Kind::Attribute, "data-private"),
            (
                Vendor::Smartlook,
                Kind::Attribute,
                "data-recording-sensitive",
            ),
            (Vendor::Matomo, Kind::Attribute, "data-matomo-mask"),
            (Vendor::Matomo, Kind::Attribute, "data-matomo-ignore"),
        ];
        for (vendor, kind, name) in want {
            assert!(
                MARKERS
                    .iter()
                    .any(|m| m.vendor == vendor && m.kind == kind && m.name == name),
                "{name}"
            );
        }
        // No name twice, and names are valid as a class token or an attribute name.
        for (i, m) in MARKERS.iter().enumerate() {
            assert!(MARKERS[..i].iter().all(|o| o.name != m.name), "{}", m.name);
            assert!(
                m.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                m.name
            );
            assert_eq!(
                m.kind == Kind::Attribute,
                m.name.starts_with("data-"),
                "{}",
                m.name
            );
            assert!(
                m.kind == Kind::Attribute || m.value.is_empty(),
                "{}",
                m.name
            );
            assert!(m.on != 0, "{} applies to nothing", m.name);
        }
    }

    #[test]
    fn form_gets_the_form_level_markers() {
        assert_eq!(
            names(Role::Form),
            ["ym-disable-submit", "data-matomo-ignore"]
        );
    }

    #[test]
    fn fields_get_every_field_marker() {
        let all = [
            "ym-disable-keys",
            "ym-hide-content",
            "rr-block",
            "rr-ignore",
            "rr-mask",
            "ph-no-capture",
            "sentry-mask",
            "data-sentry-mask",
            "data-clarity-mask",
            "data-hj-suppress",
            "fs-exclude",
            "data-private",
            "data-recording-sensitive",
            "data-matomo-mask",
        ];
        assert_eq!(names(Role::PersonalData), all);
        assert_eq!(names(Role::FreeText), all);
        let clarity = markers(Role::FreeText)
            .find(|m| m.vendor == Vendor::Clarity)
            .expect("clarity marker");
        assert_eq!(clarity.value, "true");
    }

    #[test]
    fn roles_of_form_controls() {
        let cases = [
            (field("input", "text", "name"), Some(Role::PersonalData)),
            (field("input", "tel", "x"), Some(Role::PersonalData)),
            (field("input", "EMAIL", "x"), Some(Role::PersonalData)),
            (
                field("select", "", "city_address"),
                Some(Role::PersonalData),
            ),
            (field("textarea", "", "message"), Some(Role::FreeText)),
            (field("textarea", "", "phone"), Some(Role::FreeText)),
            (field("input", "", "comment"), Some(Role::FreeText)),
            (field("input", "text", "subject"), Some(Role::FreeText)),
            (field("input", " Search ", "q"), Some(Role::FreeText)),
            (field("input", "url", "site"), Some(Role::FreeText)),
            (field("input", "hidden", "lang"), None),
            (field("input", "checkbox", "agree"), None),
            (field("input", "radio", "plan"), None),
            (field("input", "submit", ""), None),
            (field("input", "number", "qty"), None),
            (field("select", "", "topic"), None),
            (field("button", "submit", ""), None),
            (field("fieldset", "", ""), None),
            (field("input", "checkbox", "kelisim_consent"), None),
            (field("input", "text", "kelisim_receipt"), None),
        ];
        for (f, want) in cases {
            assert_eq!(role(&f), want, "{f:?}");
        }
    }
}
