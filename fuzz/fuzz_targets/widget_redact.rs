//! Fuzzes the analytics shield's redaction (`kelisim_widget_core::redact`) natively: on any
//! string and any typed values it answers without panicking, `Some` means changed, redacting
//! what it returned finds nothing more, a typed value standing as a word is never left in what
//! goes to analytics, and any number gets an answer.
//!
//! Input: parts separated by `\u{1}`; the last is the string to redact, the others are the
//! values the visitor typed (remembered, or live in a field slot when they start with `\u{2}`).
#![no_main]

use kelisim_widget_core::redact::{self, Redactor, TOKEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts: Vec<&str> = text.split('\u{1}').collect();
    let s = parts.pop().unwrap_or_default();
    let mut r = Redactor::default();
    for (slot, typed) in parts.iter().enumerate() {
        match typed.strip_prefix('\u{2}') {
            Some(live) => r.set_live(slot as u32, live),
            None => r.remember(typed),
        }
    }

    if let Some(out) = r.redact(s) {
        assert_ne!(out, s, "Some must mean changed");
        assert_eq!(r.redact(&out), None, "{s:?} -> {out:?} is not final");
    }

    // A remembered value that stands as a word, in plain ASCII letters and digits (so that case
    // folding and URL spellings cannot make it match elsewhere), never survives.
    if let Some(typed) = parts.first().filter(|t| {
        t.len() >= redact::MIN_TYPED_CHARS && t.bytes().all(|b| b.is_ascii_alphanumeric())
    }) {
        let mut alone = Redactor::default();
        alone.remember(typed);
        let sentence = ["sent: ", typed, " to analytics"].concat();
        let out = alone.redact(&sentence).expect("a typed value is redacted");
        assert!(out.contains(TOKEN), "{out:?}");
        // The value may occur inside the placeholder itself ("sim" in "[kelisim:redacted]") or
        // inside the sentence's own words ("ana" in "analytics"); what is asked is that the
        // typed word is gone: no more occurrences than the frame has without it.
        let count = |hay: &str| hay.to_ascii_lowercase().matches(&typed.to_ascii_lowercase()).count();
        assert!(
            count(&out.replace(TOKEN, " ")) <= count("sent:  to analytics"),
            "{typed:?} left in {out:?}"
        );
    }

    // Numbers: any f64 gets an answer; a valid IIN is redacted.
    let n = f64::from_le_bytes(std::array::from_fn(|i| data.get(i).copied().unwrap_or(0)));
    let _ = r.redact_number(n);
    let digits: Vec<u8> = data.iter().take(12).map(|b| b'0' + b % 10).collect();
    if redact::is_iin(&digits) {
        let iin = std::str::from_utf8(&digits).expect("ASCII digits");
        let out = Redactor::default()
            .redact(&["bin=", iin].concat())
            .expect("a valid IIN/BIN is redacted");
        assert!(!out.contains(iin), "{out:?}");
    }
    for c in s.chars().take(64) {
        let folded = redact::fold(c);
        assert_eq!(
            redact::fold(folded),
            folded,
            "folding {c:?} twice changes it"
        );
    }
});
