//! The detectors of `redact`: e-mail addresses, phone numbers (Kazakhstan/CIS and E.164
//! spellings) and Kazakhstan IINs/BINs found in a string as spans of chars, over `Text` (the
//! string as chars with their byte offsets), and the case folding they and the typed values
//! share. Total on any input, like the rest of `redact`.

use alloc::vec::Vec;

use super::TOKEN;

/// Whether a 12-digit IIN/BIN has a valid check digit, by the official algorithm: the first 11
/// digits weighted 1..=11, sum mod 11; if that is 10, weighted 3..=11,1,2 instead; a second 10
/// means no valid number has these digits. Anything but 12 ASCII digits is not an IIN.
#[inline]
pub fn is_iin(digits: &[u8]) -> bool {
    if digits.len() != 12 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d = |i: usize| u32::from(digits[i] - b'0');
    let sum = |weight: &dyn Fn(usize) -> u32| (0..11).map(|i| d(i) * weight(i)).sum::<u32>() % 11;
    let mut check = sum(&|i| i as u32 + 1);
    if check == 10 {
        check = sum(&|i| (i as u32 + 2) % 11 + 1);
        if check == 10 {
            return false;
        }
    }
    check == d(11)
}

/// The input as characters with their byte offsets, and the helpers the detectors share.
pub(super) struct Text<'a> {
    pub(super) s: &'a str,
    pub(super) chars: Vec<char>,
    /// Byte offset of each char, plus `s.len()` at the end.
    pub(super) offsets: Vec<usize>,
}

impl<'a> Text<'a> {
    #[inline]
    pub(super) fn new(s: &'a str) -> Self {
        let mut chars = Vec::with_capacity(s.len());
        let mut offsets = Vec::with_capacity(s.len() + 1);
        for (i, c) in s.char_indices() {
            chars.push(c);
            offsets.push(i);
        }
        offsets.push(s.len());
        Self { s, chars, offsets }
    }

    #[inline]
    pub(super) fn slice(&self, from: usize, to: usize) -> &'a str {
        self.s
            .get(self.offsets[from]..self.offsets[to])
            .unwrap_or("")
    }

    #[inline]
    pub(super) fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// Whether the chars `a..b` are not glued to a letter or digit on either side.
    #[inline]
    pub(super) fn whole(&self, a: usize, b: usize) -> bool {
        let before = a.checked_sub(1).and_then(|i| self.at(i));
        !before.is_some_and(is_word) && !self.at(b).is_some_and(is_word)
    }

    /// Where [`TOKEN`] already stands: nothing inside it is redacted again.
    #[inline]
    pub(super) fn token_spans(&self) -> Vec<(usize, usize)> {
        // TOKEN is ASCII: its length in chars is its length in bytes.
        let n = TOKEN.len();
        let mut out = Vec::new();
        let mut i = 0;
        while i + n <= self.chars.len() {
            if self.chars[i..i + n].iter().copied().eq(TOKEN.chars()) {
                out.push((i, i + n));
                i += n;
            } else {
                i += 1;
            }
        }
        out
    }

    /// Case-folded chars with every whitespace run as one space, and for each the span of
    /// original chars it stands for.
    #[inline]
    pub(super) fn collapsed(&self) -> (Vec<char>, Vec<(usize, usize)>) {
        let mut folded = Vec::with_capacity(self.chars.len());
        let mut map: Vec<(usize, usize)> = Vec::with_capacity(self.chars.len());
        for (i, &c) in self.chars.iter().enumerate() {
            if is_space(c) {
                if folded.last() == Some(&' ') {
                    if let Some(last) = map.last_mut() {
                        last.1 = i + 1;
                    }
                    continue;
                }
                folded.push(' ');
            } else {
                folded.push(fold(c));
            }
            map.push((i, i + 1));
        }
        (folded, map)
    }
}

/// Simple case folding for Latin (Basic, Latin-1, Extended-A: the Kazakh Latin alphabet),
/// Cyrillic and its Kazakh letters (ә і ң ғ ү ұ қ ө һ);
/// other characters compare as written. One char to one char, so spans map back exactly.
#[inline]
pub fn fold(c: char) -> char {
    let u = u32::from(c);
    let lower = match u {
        0x41..=0x5A => u + 0x20,
        0xC0..=0xDE if u != 0xD7 => u + 0x20,
        // Latin Extended-A (Kazakh Latin ğ ş ū, Turkish): pairs upper even / lower odd, then
        // upper odd / lower even; the dotted and dotless i (İ ı) stay as written.
        0x0100..=0x012F | 0x0132..=0x0137 | 0x014A..=0x0177 if u % 2 == 0 => u + 1,
        0x0139..=0x0148 | 0x0179..=0x017E if u % 2 == 1 => u + 1,
        0x0400..=0x040F => u + 0x50,
        0x0410..=0x042F => u + 0x20,
        // Pairs upper (even) / lower (odd): Ѡ..ҁ, Ҋ..ҿ (ғ қ ң ү ұ һ), Ӑ..ӿ (ә ө).
        0x0460..=0x0481 | 0x048A..=0x04BF | 0x04D0..=0x04FF if u % 2 == 0 => u + 1,
        0x04C0 => 0x04CF,
        // Ӂ..ӎ: upper odd, lower even.
        0x04C1..=0x04CE if u % 2 == 1 => u + 1,
        _ => u,
    };
    char::from_u32(lower).unwrap_or(c)
}

/// Letters and digits of the scripts folded above, and `_`: what glues a word together.
#[inline]
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '_'
        || matches!(c, '\u{00C0}'..='\u{024F}' | '\u{0400}'..='\u{04FF}')
            && c != '\u{00D7}'
            && c != '\u{00F7}'
}

#[inline]
pub(super) fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{A0}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// `%40` at `i` (an `@` in a URL), as its length in chars, or 1 for `@`, 0 otherwise.
#[inline]
fn at_sign(text: &Text, i: usize) -> usize {
    match text.at(i) {
        Some('@') => 1,
        Some('%') if text.at(i + 1) == Some('4') && text.at(i + 2) == Some('0') => 3,
        _ => 0,
    }
}

#[inline]
fn email_local(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '.' | '_' | '%' | '+' | '-' | '\'' | '\u{0400}'..='\u{04FF}'
        )
}

#[inline]
fn email_domain(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || matches!(c, '\u{0400}'..='\u{04FF}')
}

/// E-mail addresses: a local part, `@` (or `%40`), and a domain of at least two labels whose
/// last has two or more letters.
#[inline]
pub(super) fn email_spans(text: &Text, spans: &mut Vec<(usize, usize)>) {
    let n = text.chars.len();
    let mut i = 0;
    while i < n {
        let at = at_sign(text, i);
        if at == 0 {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > 0 && email_local(text.chars[start - 1]) {
            start -= 1;
        }
        // A local part never starts with a dot (`a.@` is glued punctuation, not an address).
        while start < i && text.chars[start] == '.' {
            start += 1;
        }
        let domain_start = i + at;
        let mut end = domain_start;
        let mut last_dot = None;
        while end < n {
            let c = text.chars[end];
            if email_domain(c) {
                end += 1;
            } else if c == '.' && end > domain_start && text.at(end + 1).is_some_and(email_domain) {
                last_dot = Some(end);
                end += 1;
            } else {
                break;
            }
        }
        let tld_letters = last_dot.map_or(0, |d| {
            text.chars[d + 1..end]
                .iter()
                .filter(|c| !c.is_ascii_digit() && **c != '-')
                .count()
        });
        if start < i && tld_letters >= 2 {
            spans.push((start, end));
            i = end;
        } else {
            i += at;
        }
    }
}

/// Phone numbers and IINs/BINs: runs of digits with the separators people write between them.
#[inline]
pub(super) fn number_spans(text: &Text, spans: &mut Vec<(usize, usize)>) {
    let n = text.chars.len();
    let mut i = 0;
    while i < n {
        let c = text.chars[i];
        let starts = c.is_ascii_digit()
            || (c == '+' || c == '(') && text.at(i + 1).is_some_and(|d| d.is_ascii_digit())
            || c == '%' && encoded_plus(text, i);
        let before = i.checked_sub(1).and_then(|p| text.at(p));
        if !starts || before.is_some_and(|p| p.is_ascii_digit() || p == '+') {
            i += 1;
            continue;
        }
        // After a letter only an IIN counts (`iin900101300126`): its check digit makes a
        // chance match rare, while a phone-like run glued to a word is an identifier.
        let phone = if before.is_some_and(is_word) {
            None
        } else {
            phone_at(text, i)
        };
        match phone {
            Some(end) => {
                spans.push((i, end));
                i = end;
            }
            None => {
                if let Some(end) = iin_at(text, i) {
                    spans.push((i, end));
                    i = end;
                } else {
                    // Skip the rest of this digit run: its inner digits are glued.
                    i += 1;
                    while text.at(i).is_some_and(|d| d.is_ascii_digit()) {
                        i += 1;
                    }
                }
            }
        }
    }
}

/// `%2B` (a `+` in a URL) at `i`, followed by a digit.
#[inline]
fn encoded_plus(text: &Text, i: usize) -> bool {
    text.at(i + 1) == Some('2')
        && matches!(text.at(i + 2), Some('B' | 'b'))
        && text.at(i + 3).is_some_and(|d| d.is_ascii_digit())
}

#[inline]
fn phone_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{A0}' | '\u{2011}')
}

/// A phone number starting at `i`, as its end: `+` and 10 to 15 digits (E.164), or without
/// `+` 11 digits from 7 or 8 (`8 (701) 123-45-67`, `87011234567`), or 10 digits from 7
/// written in groups (`(701) 123-45-67`). Groups of three after the first (`80 000 000 000`)
/// are an amount, not a phone.
#[inline]
fn phone_at(text: &Text, i: usize) -> Option<usize> {
    let mut j = i;
    let plus = match text.at(j) {
        Some('+') => {
            j += 1;
            true
        }
        Some('%') => {
            j += 3;
            true
        }
        _ => false,
    };
    let mut digits: Vec<u8> = Vec::with_capacity(16);
    let mut groups: Vec<usize> = Vec::with_capacity(8);
    let mut separated = false;
    let mut end = j;
    loop {
        // A group of digits.
        let mut len = 0;
        while let Some(d) = text.at(j).filter(char::is_ascii_digit) {
            if digits.len() == 15 {
                return None;
            }
            digits.push(d as u8);
            len += 1;
            j += 1;
        }
        if len > 0 {
            groups.push(len);
            end = j;
        }
        // Up to three separators, then a digit must follow, or the number ended at `end`.
        let mut k = j;
        while k - j < 3 && text.at(k).is_some_and(phone_separator) {
            k += 1;
        }
        if k > j && text.at(k).is_some_and(|d| d.is_ascii_digit()) {
            separated |= len > 0;
            j = k;
        } else {
            break;
        }
    }
    // A closing parenthesis right after the digits belongs to the number: `(701) 123-45-67`
    // is not cut before it. Anything glued after is a longer token.
    if text.at(end) == Some(')') && text.at(i) == Some('(') {
        end += 1;
    }
    if text.at(end).is_some_and(|c| is_word(c) || c == '@') {
        return None;
    }
    let count = digits.len();
    let amount = groups.len() >= 3 && groups[1..].iter().all(|&g| g == 3);
    let phone = if plus {
        (10..=15).contains(&count)
    } else {
        !amount
            && (count == 11 && matches!(digits[0], b'7' | b'8')
                || count == 10 && digits[0] == b'7' && separated)
    };
    phone.then_some(end)
}

/// An IIN/BIN at `i`: exactly 12 digits in a row, not part of a longer run, with a valid check
/// digit.
#[inline]
fn iin_at(text: &Text, i: usize) -> Option<usize> {
    let mut digits = Vec::with_capacity(12);
    let mut j = i;
    while let Some(d) = text.at(j).filter(char::is_ascii_digit) {
        if digits.len() == 12 {
            return None;
        }
        digits.push(d as u8);
        j += 1;
    }
    is_iin(&digits).then_some(j)
}
