//! Pure decisions of the widget: which forms collect personal data, whether a form may submit,
//! which language to speak, what the receipt may carry, when to retry a delivery. No DOM here:
//! `guard` and `receipt` describe the page in plain values and ask, so every rule is unit-tested
//! natively.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

/// One form control as the guard sees it: attributes only, never its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Field {
    /// Lower-case tag name: `input`, `textarea`, `select`, `button`, `fieldset`, …
    pub tag: String,
    /// The `type` attribute as written (any case); empty when absent.
    pub kind: String,
    pub name: String,
    pub id: String,
    /// The `autocomplete` attribute as written; empty when absent.
    pub autocomplete: String,
}

/// A form as the guard sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormInfo {
    /// `data-kelisim-form` is present: the site says this form collects personal data.
    pub forced: bool,
    /// `data-kelisim-ignore` is present: the site says leave this form alone.
    pub ignored: bool,
    pub fields: Vec<Field>,
}

/// What happens to a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let it through (and record a receipt).
    Allow,
    /// Stop it and tell the visitor why.
    Block,
}

/// Kinds of subject identifier the collector turns into keyed hashes (docs/wire.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum IdKind {
    Phone,
    Email,
}

impl IdKind {
    /// The wire name (`type` in docs/wire.md).
    #[inline]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Email => "email",
        }
    }
}

/// What to do with a queued receipt after the collector answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Stored (2xx): drop it from the queue.
    Done,
    /// Refused for good (4xx other than 408/429): drop it and say so on the console.
    Refused,
    /// Network error, 408, 429 or 5xx: keep it for the next page start.
    Retry,
    /// 422 for a request with identifiers: most likely a phone or e-mail the collector cannot
    /// normalise (`invalid_identifier`). It stored nothing, so the same key may be sent again
    /// without them: the consent is kept, only the search by phone/e-mail is lost.
    RetryWithoutIdentifiers,
}

/// Prefix of the widget's own field names; they are not the site's fields.
pub const OWN_FIELD_PREFIX: &str = "kelisim_";

// Which forms and fields carry personal data: the items marked `allow(dead_code)` below are the
// reference the loader's generated copy is made from and tested against (`loader_rules`). The
// loader needs the rule before the wasm has loaded, so the shipped wasm asks the loader
// (`guard::Page`) rather than carry a second copy: outside tests they are not called.

/// Input types that are personal data whatever their name.
pub const PERSONAL_TYPES: [&str; 2] = ["tel", "email"];

/// Input types that never carry something the visitor typed about themselves.
pub const NOT_TYPED: [&str; 8] = [
    "hidden", "submit", "button", "reset", "image", "checkbox", "radio", "search",
];

/// Name/id words that mean personal data when they are a whole word (`user_tel`, `userTel`).
pub const WORDS: [&str; 10] = [
    "tel",
    "fio",
    "iin",
    "mail",
    "mob",
    "sms",
    "imya",
    "familiya",
    "otchestvo",
    "pochta",
];

/// Name/id parts that mean personal data anywhere in a word (`phoneNumber`, `firstname`).
pub const PARTS: [&str; 9] = [
    "phone", "email", "name", "telefon", "mobile", "whatsapp", "passport", "address", "birth",
];

/// Whether a submission may go ahead. The only thing that blocks is a missing tick: failures of
/// the receipt machinery (no storage, no crypto, collector down) never block a consented form —
/// the visitor did consent, and the queue retries the evidence later.
#[inline]
pub fn submit_decision(ticked: bool) -> Decision {
    if ticked {
        Decision::Allow
    } else {
        Decision::Block
    }
}

/// Whether the form collects personal data and so needs a consent box. `data-kelisim-form`
/// wins over `data-kelisim-ignore`: when a site says both, failing closed is the safe reading.
#[inline]
pub fn is_personal_data_form(form: &FormInfo) -> bool {
    if form.forced {
        return true;
    }
    !form.ignored && form.fields.iter().any(is_personal_field)
}

/// Whether one control collects personal data: free text, a phone or e-mail input, an
/// `autocomplete` token naming personal data, or a name/id that reads like one.
#[inline]
pub fn is_personal_field(field: &Field) -> bool {
    match field.tag.as_str() {
        "textarea" => true,
        "select" => names_personal_data(field),
        "input" => {
            let kind = field.kind.trim();
            if PERSONAL_TYPES.iter().any(|t| kind.eq_ignore_ascii_case(t)) {
                return true;
            }
            !NOT_TYPED.iter().any(|t| kind.eq_ignore_ascii_case(t)) && names_personal_data(field)
        }
        _ => false,
    }
}

#[inline]
fn names_personal_data(field: &Field) -> bool {
    autocomplete_tokens(&field.autocomplete).any(|t| personal_autocomplete(&t))
        || reads_personal(&field.name)
        || reads_personal(&field.id)
}

#[inline]
fn autocomplete_tokens(value: &str) -> impl Iterator<Item = String> + '_ {
    value.split_ascii_whitespace().map(str::to_ascii_lowercase)
}

/// HTML autofill field names (WHATWG "autofill detail tokens") that name personal data: these
/// whole tokens, tokens starting with [`AUTOFILL_PREFIXES`] or ending with [`AUTOFILL_SUFFIXES`].
pub const AUTOFILL_TOKENS: [&str; 5] =
    ["name", "nickname", "email", "street-address", "postal-code"];
pub const AUTOFILL_PREFIXES: [&str; 3] = ["tel", "address-", "bday"];
pub const AUTOFILL_SUFFIXES: [&str; 1] = ["-name"];

#[inline]
fn personal_autocomplete(token: &str) -> bool {
    AUTOFILL_TOKENS.contains(&token)
        || AUTOFILL_PREFIXES.iter().any(|p| token.starts_with(p))
        || AUTOFILL_SUFFIXES.iter().any(|s| token.ends_with(s))
}

/// Splits a name or id into lower-case words at non-letters and camelCase humps, then checks
/// the words against the personal-data vocabulary (English and transliterated Russian/Kazakh).
#[inline]
fn reads_personal(name: &str) -> bool {
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars().chain(core::iter::once(' ')) {
        let boundary = !c.is_ascii_alphabetic() || (prev_lower && c.is_ascii_uppercase());
        if boundary && !word.is_empty() {
            if WORDS.contains(&word.as_str()) || PARTS.iter().any(|p| has(&word, p)) {
                return true;
            }
            word.clear();
        }
        if c.is_ascii_alphabetic() {
            word.push(c.to_ascii_lowercase());
        }
        prev_lower = c.is_ascii_lowercase();
    }
    false
}

/// `haystack.contains(needle)` for ASCII words, without the two-way string searcher (2 KB).
#[inline]
fn has(haystack: &str, needle: &str) -> bool {
    needle.is_empty()
        || haystack
            .as_bytes()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
}

/// Which identifier a control holds, if any: its value is sent to the collector only to be
/// turned into a keyed hash there. Decided by type or autocomplete, never by a guessed name.
#[inline]
pub fn identifier_kind(field: &Field) -> Option<IdKind> {
    if field.tag != "input" {
        return None;
    }
    let kind = field.kind.trim();
    let tokens = || autocomplete_tokens(&field.autocomplete);
    if kind.eq_ignore_ascii_case("tel") || tokens().any(|t| t == "tel") {
        Some(IdKind::Phone)
    } else if kind.eq_ignore_ascii_case("email") || tokens().any(|t| t == "email") {
        Some(IdKind::Email)
    } else {
        None
    }
}

/// The identifiers to send: the first plausible value of each kind, trimmed. Implausible values
/// are left out rather than sent: the collector refuses a receipt whose identifier it cannot
/// normalise (422), and a receipt without the identifier is better than none.
#[inline]
pub fn identifiers(candidates: &[(IdKind, String)]) -> Vec<(IdKind, String)> {
    let mut out: Vec<(IdKind, String)> = Vec::new();
    for (kind, value) in candidates {
        let value = value.trim();
        let plausible = match kind {
            IdKind::Phone => plausible_phone(value),
            IdKind::Email => plausible_email(value),
        };
        if plausible && !out.iter().any(|(k, _)| k == kind) {
            out.push((*kind, value.to_owned()));
        }
    }
    out
}

/// 10 to 15 digits (E.164 allows 15), written with the usual separators only.
#[inline]
fn plausible_phone(value: &str) -> bool {
    let digits = value.bytes().filter(u8::is_ascii_digit).count();
    (10..=15).contains(&digits)
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || b" +()-.".contains(&b))
}

/// One `@` with something before it and a dotted domain after it, no spaces.
#[inline]
fn plausible_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    value.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(char::is_whitespace)
}

/// The names of the fields the visitor fills in, in order, each once: the receipt records
/// *which* data was collected, never the values. Hidden inputs, buttons and the widget's own
/// fields are left out.
#[inline]
pub fn field_names(fields: &[Field]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for field in fields {
        let fillable = match field.tag.as_str() {
            "textarea" | "select" => true,
            "input" => !["hidden", "submit", "button", "reset", "image"]
                .iter()
                .any(|t| field.kind.trim().eq_ignore_ascii_case(t)),
            _ => false,
        };
        let name = field.name.as_str();
        if fillable
            && is_safe_name(name)
            && !name.starts_with(OWN_FIELD_PREFIX)
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_owned());
        }
    }
    names
}

/// The language code a `lang` attribute or `data-lang` means: its primary subtag, lower-case
/// (`ru-RU` → `ru`); `kz`, a common mistake for Kazakh, is read as `kk`.
#[inline]
pub fn primary_language(tag: &str) -> String {
    let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
    let primary = primary.to_ascii_lowercase();
    if primary == "kz" {
        "kk".to_owned()
    } else {
        primary
    }
}

/// The language to show: the script tag's `data-lang`, else the form's own `lang` (inherited
/// from `<html lang>`), whichever the site supports; `None` means the site's default.
#[inline]
pub fn choose_language(
    requested: Option<&str>,
    page: Option<&str>,
    supported: impl Fn(&str) -> bool,
) -> Option<String> {
    [requested, page]
        .into_iter()
        .flatten()
        .map(primary_language)
        .find(|lang| supported(lang))
}

/// The note a guarded GET form leaves for the page it lands on (`shield::GET_NOTE`): the
/// address it goes to (the action without query or fragment, which a GET submission replaces)
/// and the names of its typed fields, one per line. Names with a line break cannot be told
/// apart from the next one, so they are left out (and stay in the address).
#[inline]
pub fn get_note(action: &str, names: &[String]) -> String {
    let end = action.find(['?', '#']).unwrap_or(action.len());
    let mut note = String::from(&action[..end]);
    for name in names {
        if !name.is_empty() && !name.bytes().any(|b| b == b'\n' || b == b'\r') {
            note.push('\n');
            note.push_str(name);
        }
    }
    note
}

/// The page address a receipt may carry: no query or fragment (they can hold what a visitor
/// typed into a search or a GET form) and no user name or password.
#[inline]
pub fn clean_page_url(href: &str) -> String {
    let end = href.find(['?', '#']).unwrap_or(href.len());
    let url = &href[..end];
    let Some(scheme_end) = url
        .as_bytes()
        .windows(3)
        .position(|w| w == b"://")
        .map(|i| i + 3)
    else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let mut clean = String::with_capacity(url.len());
            clean.push_str(&url[..scheme_end]);
            clean.push_str(&rest[at + 1..]);
            clean
        }
        None => url.to_owned(),
    }
}

/// The consent text's address in the visitor's language.
#[inline]
pub fn policy_link(url: &str, lang: &str) -> String {
    let mut link = String::with_capacity(url.len() + 10);
    link.push_str(url);
    link.push(if url.contains('?') { '&' } else { '?' });
    link.push_str("lang=");
    link.push_str(lang);
    link
}

/// The collector base URL without trailing slashes, so paths can be appended.
#[inline]
pub fn collector_base(url: &str) -> &str {
    url.trim().trim_end_matches('/')
}

/// The address of `site`'s receipt `reference` for the visitor: the collector renders it as a
/// page in `lang` (with the signed JWS to download) when a browser asks for HTML. It names the
/// site: a reference is unique per site only, and the same one recorded on another site (by
/// chance, or copied by a stranger) must not make the visitor's link ambiguous. Site ids are
/// `a-z 0-9 - _` (the collector's config says so), safe in a query as they are.
#[inline]
pub fn receipt_link(collector: &str, site: &str, reference: &str, lang: &str) -> String {
    [
        collector_base(collector),
        "/v1/receipts/",
        reference,
        "?site=",
        site,
        "&lang=",
        lang,
    ]
    .concat()
}

/// Where the withdrawal of `site`'s receipt `reference` goes, under the receipts endpoint
/// `endpoint` (`…/v1/receipts`). Items queued before withdrawals named their site have none.
#[inline]
pub fn withdraw_url(endpoint: &str, reference: &str, site: &str) -> String {
    let mut url = [endpoint, "/", reference, "/withdraw"].concat();
    if !site.is_empty() {
        url.push_str("?site=");
        url.push_str(site);
    }
    url
}

/// How long a queued receipt request may keep the raw phone or e-mail the form held (one day,
/// in ms): long enough to ride out a collector restart or an evening's outage; afterwards it
/// is sent without them (recorded, but not found by the subject's phone or e-mail).
pub const IDENTIFIER_TTL_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;

/// Whether a request queued at `queued_at` (ms; unknown for requests queued by an older widget,
/// which are treated as queued now) may still hold raw identifiers at `now`.
#[inline]
pub fn keeps_identifiers(queued_at: Option<f64>, now: f64) -> bool {
    queued_at.is_none_or(|at| now - at < IDENTIFIER_TTL_MS)
}

/// Whether a form id or field name may go into a receipt: the collector refuses the receipt
/// otherwise, so the widget leaves such a name out (a form id becomes `null`). The rule is the
/// collector's `receipt::name_problem`; both sides test the table in
/// `tests/fixtures/wire/names.json`. At most 128 characters, no control or invisible
/// formatting characters (bidirectional overrides would show a name as another), and no
/// leading character a spreadsheet reads as a formula.
#[inline]
pub fn is_safe_name(name: &str) -> bool {
    const FORMULA_LEADS: &[char] = &['=', '+', '-', '@', '＝', '＋', '－', '＠'];
    let invisible = |c: char| {
        matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
    };
    !name.is_empty()
        && name.chars().count() <= 128
        && !name.chars().any(|c| c.is_control() || invisible(c))
        && !name.starts_with(FORMULA_LEADS)
}

/// The first wait after a failed delivery, in milliseconds; it doubles with each failed page
/// start up to [`RETRY_MAX_MS`], so a collector that is down is not hammered by every page view
/// of every visitor, and one that is back is reached again soon.
pub const RETRY_FIRST_MS: f64 = 2_000.0;
/// The longest wait between delivery attempts (one hour).
pub const RETRY_MAX_MS: f64 = 3_600_000.0;

/// When the queue may be sent again: `(not before, last wait)`, both in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub next: f64,
    pub delay: f64,
}

/// Whether a page starting at `now` may send the queue again.
#[inline]
pub fn may_retry(now: f64, backoff: Option<Backoff>) -> bool {
    backoff.is_none_or(|b| now >= b.next)
}

/// The backoff after a failed delivery at `now`. Failures inside the current wait (the other
/// items of the same flush, a submission meanwhile) do not lengthen it again.
#[inline]
pub fn backoff_after_failure(now: f64, previous: Option<Backoff>) -> Backoff {
    match previous {
        Some(b) if now < b.next => b,
        Some(b) => {
            let delay = (b.delay * 2.0).clamp(RETRY_FIRST_MS, RETRY_MAX_MS);
            Backoff {
                next: now + delay,
                delay,
            }
        }
        None => Backoff {
            next: now + RETRY_FIRST_MS,
            delay: RETRY_FIRST_MS,
        },
    }
}

/// What to do with a queued receipt given the collector's HTTP status (0: no answer).
#[inline]
pub fn delivery(status: u16, has_identifiers: bool) -> Delivery {
    match status {
        200..=299 => Delivery::Done,
        408 | 429 => Delivery::Retry,
        422 if has_identifiers => Delivery::RetryWithoutIdentifiers,
        400..=499 => Delivery::Refused,
        _ => Delivery::Retry,
    }
}

/// Whether `s` is a key in the wire format: 32 lower-case hex digits.
#[inline]
pub fn is_key(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `n` in decimal, appended without `format!` (core::fmt is not shipped).
#[inline]
pub fn push_decimal(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        // n % 10 < 10, so the cast is lossless.
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests;
