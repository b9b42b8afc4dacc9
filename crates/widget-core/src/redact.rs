//! Pure redaction for the analytics shield: finds, in what a page is about to hand to analytics,
//! any value the visitor typed into a guarded field, and any e-mail address, phone number
//! (Kazakhstan/CIS and E.164 spellings) or Kazakhstan IIN/BIN, and replaces each with
//! [`TOKEN`]. No DOM here: `shield` feeds it what the visitor types and asks it about each string
//! and number the loader's wrappers meet, so every decision is unit-tested natively.
//!
//! Every function is total: any input, however malformed, gives an answer without panicking,
//! and redacting a redacted string changes nothing (both checked by a property test below).
//! No `format!`, no `core::fmt`, no Unicode tables from core (`to_lowercase`, `is_alphabetic`):
//! the widget's wasm has a tight size budget, so case folding covers the scripts of the
//! widget's market (Latin, Latin-1, Cyrillic with Kazakh letters) with a few ranges.

use alloc::string::String;
use alloc::vec::Vec;

mod detect;

use detect::{Text, email_spans, is_space, number_spans};
pub use detect::{fold, is_iin};

/// What a redacted piece becomes. No digit, `@` or `%`, so no detector matches it again.
pub const TOKEN: &str = "[kelisim:redacted]";

/// Typed values shorter than this (in characters, after trimming) are not looked for: `да`,
/// `no` or a single digit would redact half of every payload.
pub const MIN_TYPED_CHARS: usize = 3;

/// Typed values shorter than this must stand as a whole word to match (`Ali` must not redact
/// `Alibaba`); longer ones match anywhere (a message quoted inside a longer string).
pub const WHOLE_WORD_BELOW: usize = 6;

/// At most this many typed values are remembered; the oldest go first. Bounds the cost of a
/// redaction on a page where a visitor types a lot.
const MAX_TYPED: usize = 32;

/// The values a visitor typed into guarded fields, kept in the compared form (case-folded,
/// whitespace collapsed), each with the spellings a URL gives it.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Values typed earlier (a field's value when it was committed), oldest first.
    typed: Vec<Typed>,
    /// What each field holds right now, by the caller's slot number: updated as the visitor
    /// types, so a value is protected before it is committed.
    live: Vec<(u32, Typed)>,
}

#[derive(Debug, Clone)]
struct Typed {
    /// Spellings to look for, each as folded characters: as typed, form-urlencoded (`+` for a
    /// space), percent-encoded (`%20`). Duplicates removed.
    needles: Vec<Vec<char>>,
    whole_word: bool,
}

impl Typed {
    /// The spellings of `value` to look for, or `None` when it is too short to look for.
    #[inline]
    fn new(value: &str) -> Option<Self> {
        let folded = normalise(value);
        if folded.len() < MIN_TYPED_CHARS {
            return None;
        }
        let form = url_encode(&folded, true);
        let percent = url_encode(&folded, false);
        let whole_word = folded.len() < WHOLE_WORD_BELOW;
        let mut needles = Vec::with_capacity(3);
        needles.push(folded);
        for n in [form, percent] {
            if !needles.contains(&n) {
                needles.push(n);
            }
        }
        Some(Self {
            needles,
            whole_word,
        })
    }
}

impl Redactor {
    /// Remembers a value typed into a guarded field. Values too short to look for are ignored;
    /// a value remembered before is not added twice.
    #[inline]
    pub fn remember(&mut self, value: &str) {
        let Some(typed) = Typed::new(value) else {
            return;
        };
        if self.typed.iter().any(|t| t.needles[0] == typed.needles[0]) {
            return;
        }
        if self.typed.len() == MAX_TYPED {
            self.typed.remove(0);
        }
        self.typed.push(typed);
    }

    /// What field `slot` holds now (as the visitor types), replacing what it held before.
    #[inline]
    pub fn set_live(&mut self, slot: u32, value: &str) {
        self.live.retain(|(s, _)| *s != slot);
        if let Some(typed) = Typed::new(value) {
            if self.live.len() == MAX_TYPED {
                self.live.remove(0);
            }
            self.live.push((slot, typed));
        }
    }

    /// `s` with every typed value, e-mail, phone and IIN/BIN replaced by [`TOKEN`], or `None`
    /// when nothing was found: the caller then passes the original through unchanged.
    #[inline]
    pub fn redact(&self, s: &str) -> Option<String> {
        let mut current: Option<String> = None;
        // Each pass replaces at least one character outside tokens, so this ends; it loops
        // because a replacement can expose a new boundary (`ivanov87011234567` → the phone
        // after the name becomes whole only once the name is a token), and one more call
        // must find nothing.
        loop {
            let input = current.as_deref().unwrap_or(s);
            match self.pass(input) {
                Some(next) => current = Some(next),
                None => return current,
            }
        }
    }

    /// One round of detection over `s`: the spans found, merged, replaced.
    #[inline]
    fn pass(&self, s: &str) -> Option<String> {
        let text = Text::new(s);
        if text.chars.is_empty() {
            return None;
        }
        let protected = text.token_spans();
        let mut spans = Vec::new();
        self.typed_spans(&text, &mut spans);
        email_spans(&text, &mut spans);
        number_spans(&text, &mut spans);
        spans.retain(|&(a, b)| a < b && !protected.iter().any(|&(p, q)| a < q && p < b));
        if spans.is_empty() {
            return None;
        }
        sort(&mut spans);
        let mut out = String::with_capacity(s.len());
        let mut at = 0; // char index in `text`
        let mut i = 0;
        while i < spans.len() {
            let (start, mut end) = spans[i];
            i += 1;
            while i < spans.len() && spans[i].0 <= end {
                end = end.max(spans[i].1);
                i += 1;
            }
            if start < at {
                // Cannot happen after the merge above; kept total anyway.
                continue;
            }
            out.push_str(text.slice(at, start));
            out.push_str(TOKEN);
            at = end;
        }
        out.push_str(text.slice(at, text.chars.len()));
        Some(out)
    }

    #[inline]
    fn typed_spans(&self, text: &Text, spans: &mut Vec<(usize, usize)>) {
        if self.typed.is_empty() && self.live.is_empty() {
            return;
        }
        let (folded, map) = text.collapsed();
        for typed in self.typed.iter().chain(self.live.iter().map(|(_, t)| t)) {
            for needle in &typed.needles {
                let n = needle.len();
                if n == 0 || n > folded.len() {
                    continue;
                }
                for start in 0..=folded.len() - n {
                    if folded[start..start + n] != needle[..] {
                        continue;
                    }
                    let (a, b) = (map[start].0, map[start + n - 1].1);
                    if typed.whole_word && !text.whole(a, b) {
                        continue;
                    }
                    spans.push((a, b));
                }
            }
        }
    }

    /// Whether a number is personal data: an integer written out as a phone (11 digits from
    /// 7 or 8), a valid IIN/BIN (12 digits, or 11 when a leading zero was lost), or equal to a
    /// typed value.
    #[inline]
    pub fn redact_number(&self, n: f64) -> bool {
        // Only exact non-negative integers below 2^53 have one decimal spelling.
        if !(0.0..9_007_199_254_740_992.0).contains(&n) || n % 1.0 != 0.0 {
            return false;
        }
        // In range and integral (checked above): the cast is exact.
        let digits = decimal(n as u64);
        if self.redact(&digits).is_some() {
            return true;
        }
        digits.len() == 11 && {
            let mut padded = String::from("0");
            padded.push_str(&digits);
            is_iin(padded.as_bytes())
        }
    }
}

/// Sorts the few spans one pass finds. Insertion sort: `sort_unstable`'s quicksort costs
/// about 3.5 KB of the shipped wasm, and a string rarely holds more than a handful of spans.
#[inline]
fn sort(spans: &mut [(usize, usize)]) {
    for i in 1..spans.len() {
        let mut j = i;
        while j > 0 && spans[j - 1] > spans[j] {
            spans.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// A typed value in compared form: trimmed, whitespace runs as one space, case-folded.
#[inline]
fn normalise(value: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(value.len());
    for c in value.chars() {
        if is_space(c) {
            if !out.is_empty() && out.last() != Some(&' ') {
                out.push(' ');
            }
        } else {
            out.push(fold(c));
        }
    }
    if out.last() == Some(&' ') {
        out.pop();
    }
    out
}

/// How `encodeURIComponent` (or a GET form, with `+` for spaces) spells the folded value, with
/// hex digits in lower case so that it compares with folded text.
#[inline]
fn url_encode(value: &[char], plus_for_space: bool) -> Vec<char> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(value.len() * 3);
    let mut buf = [0u8; 4];
    for &c in value {
        // A form's urlencoding keeps fewer characters than encodeURIComponent.
        let kept = c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.' | '*')
            || !plus_for_space && matches!(c, '!' | '~' | '\'' | '(' | ')');
        if kept {
            out.push(c);
        } else if c == ' ' && plus_for_space {
            out.push('+');
        } else {
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    out
}

/// `n` in decimal without `format!`.
#[inline]
fn decimal(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // n % 10 < 10: lossless.
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[i..].iter().map(|&d| char::from(d)).collect()
}

#[cfg(test)]
mod tests;
