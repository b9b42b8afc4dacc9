//! Subject identifiers: phone/e-mail normalisation, the keyed hashes of the server-side subject
//! index, the per-receipt commitments signed in receipts, and the browser pseudonym.
//!
//! A raw phone number or e-mail address is used for exactly two things, then dropped:
//!
//! - the **index** entry, HMAC-SHA-256 under a key of its site, so an admin can find every
//!   receipt of "+7 701 123 45 67" however it was typed. It is stored, never served. Each site
//!   has its own key ([`SiteKeys`], derived with HKDF from the one secret `DIR/subject.key`),
//!   so one person's entries on two sites differ;
//! - the **commitment** signed in the receipt (payload v2), HMAC-SHA-256 under a random salt
//!   of that receipt alone, kept server-side and destroyed by erasure. Without the salt the
//!   commitment tests nothing and links nothing; with it the operator can show a regulator
//!   whose receipt it is, until the subject asks for erasure.
//!
//! Payload v1 signed the index hash itself under the secret's one key (`legacy_index_hex`), so
//! anyone could compare receipts, and `POST /v1/receipts` computed it for any guessed phone
//! (issue 13). Those receipts keep verifying; their index entries are still found.
//! Normalisation is pure and table-tested; the key file is the only IO here.

use std::fmt;
use std::path::Path;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use kelisim_receipt::payload::IdentifierKind;

use crate::hash::{hex, unhex};
use crate::ops::datadir;

/// Why a value is not a usable identifier. Messages never repeat the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("the phone number is empty")]
    EmptyPhone,
    #[error("the phone number contains `{0}`; use digits, spaces, '+', '-', '(' and ')' only")]
    PhoneCharacter(char),
    #[error(
        "cannot tell the country of the phone number; write it with its country code, \
         e.g. +7 701 123 45 67"
    )]
    PhoneCountry,
    #[error("the phone number has {got} digits, but numbers with country code +{cc} have {want}")]
    PhoneLength {
        cc: &'static str,
        got: usize,
        want: usize,
    },
    #[error(
        "the phone number is not a valid international number (8 to 15 digits, not starting with 0)"
    )]
    PhoneInvalid,
    #[error("the e-mail address {0}; write it like name@example.kz")]
    Email(&'static str),
}

/// Country codes of the CIS region with the length of their national numbers, so numbers
/// written without `+` (`998 90 123 45 67`) are understood and typos are caught.
const CIS_CODES: &[(&str, usize)] = &[
    ("373", 8), // Moldova
    ("374", 8), // Armenia
    ("375", 9), // Belarus
    ("380", 9), // Ukraine
    ("992", 9), // Tajikistan
    ("993", 8), // Turkmenistan
    ("994", 9), // Azerbaijan
    ("995", 9), // Georgia
    ("996", 9), // Kyrgyzstan
    ("998", 9), // Uzbekistan
];

/// Normalises a phone number to E.164 (`+` and digits).
///
/// Understands the spellings common in Kazakhstan and Russia: `8 (701) 123-45-67` (trunk
/// prefix 8), `+7 701 1234567`, `7 701 …`, `701 123 45 67` (ten national digits), `00…` and
/// the old CIS `8 10 …` international prefixes, and CIS numbers written without `+`.
pub fn normalize_phone(raw: &str) -> Result<String, IdentifierError> {
    let raw = raw.trim();
    let mut plus = false;
    let mut digits = String::with_capacity(16);
    for c in raw.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            // Separators people and phone keyboards use, including no-break space and dashes.
            ' '
            | '-'
            | '('
            | ')'
            | '.'
            | '/'
            | '\u{a0}'
            | '\u{2009}'
            | '\u{202f}'
            | '\u{2010}'..='\u{2015}' => {}
            other => return Err(IdentifierError::PhoneCharacter(other)),
        }
    }
    if digits.is_empty() {
        return Err(IdentifierError::EmptyPhone);
    }
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if digits.len() != 11
        && let Some(rest) = digits.strip_prefix("810")
    {
        rest.to_owned()
    } else if digits.len() == 11 && (digits.starts_with('8') || digits.starts_with('7')) {
        format!("7{}", &digits[1..])
    } else if digits.len() == 10 {
        format!("7{digits}")
    } else if CIS_CODES
        .iter()
        .any(|(cc, n)| digits.starts_with(cc) && digits.len() == cc.len() + n)
    {
        digits
    } else {
        return Err(IdentifierError::PhoneCountry);
    };
    check_e164(&international)?;
    Ok(format!("+{international}"))
}

/// Length and plausibility checks on the digits after `+`.
fn check_e164(digits: &str) -> Result<(), IdentifierError> {
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(IdentifierError::PhoneInvalid);
    }
    if let Some(national) = digits.strip_prefix('7') {
        // Kazakhstan and Russia share +7 with ten national digits, never starting 0-2.
        if national.len() != 10 {
            return Err(IdentifierError::PhoneLength {
                cc: "7",
                got: digits.len(),
                want: 11,
            });
        }
        if national.starts_with(['0', '1', '2']) {
            return Err(IdentifierError::PhoneInvalid);
        }
    }
    for (cc, national) in CIS_CODES {
        if digits.starts_with(cc) && digits.len() != cc.len() + national {
            return Err(IdentifierError::PhoneLength {
                cc,
                got: digits.len(),
                want: cc.len() + national,
            });
        }
    }
    Ok(())
}

/// Normalises an e-mail address: trimmed and lower-cased (the wire contract's rule).
pub fn normalize_email(raw: &str) -> Result<String, IdentifierError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(IdentifierError::Email("is empty"));
    }
    if email.len() > 254 {
        return Err(IdentifierError::Email("is longer than 254 characters"));
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
    {
        return Err(IdentifierError::Email(
            "contains spaces or characters not allowed in addresses",
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(IdentifierError::Email("has no @"));
    };
    if domain.contains('@') {
        return Err(IdentifierError::Email("has more than one @"));
    }
    if local.is_empty() || local.len() > 64 {
        return Err(IdentifierError::Email(
            "has an empty or too long part before @",
        ));
    }
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if !domain.contains('.') || !labels_ok {
        return Err(IdentifierError::Email("has no valid domain after @"));
    }
    Ok(email)
}

/// Normalises `raw` as an identifier of `kind`.
pub fn normalize(kind: IdentifierKind, raw: &str) -> Result<String, IdentifierError> {
    match kind {
        IdentifierKind::Phone => normalize_phone(raw),
        IdentifierKind::Email => normalize_email(raw),
    }
}

/// The key file could not be created or read.
#[derive(Debug, thiserror::Error)]
pub enum SubjectKeyError {
    #[error("cannot read subject key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create subject key {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "subject key {path} is not 64 hex digits; restore it from backup (receipts' hashes depend on it)"
    )]
    Corrupt { path: String },
    #[error("no randomness available to create the subject key: {0}")]
    Random(getrandom::Error),
}

/// The secret of the keyed subject hashes (`DIR/subject.key`, 32 bytes as hex, mode 0600).
#[derive(Clone)]
pub struct SubjectKey([u8; 32]);

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey(…)")
    }
}

impl SubjectKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads the key at `path`, creating a fresh random one if the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, SubjectKeyError> {
        if path.exists() {
            return Self::load(path);
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(SubjectKeyError::Random)?;
        let text = format!("{}\n", hex(&bytes));
        match datadir::create_private_file(path, text.as_bytes()) {
            Ok(()) => Ok(Self(bytes)),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(source) => Err(SubjectKeyError::Create {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    pub fn load(path: &Path) -> Result<Self, SubjectKeyError> {
        let shown = || path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SubjectKeyError::Read {
            path: shown(),
            source,
        })?;
        let bytes = unhex(text.trim()).ok_or_else(|| SubjectKeyError::Corrupt { path: shown() })?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SubjectKeyError::Corrupt { path: shown() })?;
        datadir::warn_if_not_private(path);
        Ok(Self(bytes))
    }

    /// The keys of `site`, derived from this secret with HKDF-SHA-256 (RFC 5869): the
    /// secret is the input key material, the info names the use and the site.
    pub fn site(&self, site: &str) -> SiteKeys {
        let hkdf = Hkdf::<Sha256>::new(None, &self.0);
        let derive = |use_: &[u8]| {
            let mut key = [0u8; 32];
            // 32 bytes is far below HKDF-SHA-256's limit of 8160.
            hkdf.expand_multi_info(&[b"kelisim/v2/", use_, b"/", site.as_bytes()], &mut key)
                .expect("32 bytes of HKDF output");
            key
        };
        SiteKeys {
            index: derive(b"subject-index"),
            browser: derive(b"browser"),
        }
    }

    /// Hex HMAC-SHA-256 of an already normalised identifier under the secret itself: the index
    /// entries (and the signed `hmac`) of receipts with payload v1, which are still looked up.
    pub fn legacy_index_hex(&self, normalised: &str) -> String {
        hmac_hex(&self.0, normalised.as_bytes())
    }
}

/// The keys one site's receipts use, derived from [`SubjectKey`].
#[derive(Clone)]
pub struct SiteKeys {
    index: [u8; 32],
    browser: [u8; 32],
}

impl fmt::Debug for SiteKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SiteKeys(…)")
    }
}

impl SiteKeys {
    /// The subject index entry of a normalised identifier on this site.
    pub fn index_hex(&self, normalised: &str) -> String {
        hmac_hex(&self.index, normalised.as_bytes())
    }

    /// The browser's pseudonym on this site: a keyed hash of the random per-browser secret the
    /// widget sends, so it cannot be claimed without that secret, and is never served.
    pub fn browser_hex(&self, browser_secret: &str) -> String {
        hmac_hex(&self.browser, browser_secret.as_bytes())
    }
}

/// A fresh per-receipt salt for subject commitments (32 random bytes).
pub fn new_salt() -> Result<[u8; 32], getrandom::Error> {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt)?;
    Ok(salt)
}

/// The commitment a payload v2 signs for a normalised identifier: hex HMAC-SHA-256 keyed with
/// the receipt's salt. Whoever holds the salt and the identifier can recompute it.
pub fn commitment_hex(salt: &[u8], normalised: &str) -> String {
    hmac_hex(salt, normalised.as_bytes())
}

fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac takes any key length");
    mac.update(message);
    hex(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_spellings_normalise_to_e164() {
        let cases = [
            ("8 (701) 123-45-67", "+77011234567"),
            ("+7 701 1234567", "+77011234567"),
            ("+7 (701) 123 45 67", "+77011234567"),
            ("87011234567", "+77011234567"),
            ("7 701 123 45 67", "+77011234567"),
            ("701 123 45 67", "+77011234567"),
            ("  8-701-123-45-67 ", "+77011234567"),
            ("8\u{a0}701\u{a0}123\u{2011}45\u{2011}67", "+77011234567"),
            ("+7 727 250-00-00", "+77272500000"),
            ("8 (7172) 55-44-33", "+77172554433"),
            ("8 916 123-45-67", "+79161234567"),
            ("+998 90 123 45 67", "+998901234567"),
            ("998901234567", "+998901234567"),
            ("00 996 555 123 456", "+996555123456"),
            ("8 10 996 555 123456", "+996555123456"),
            ("+375 (29) 123-45-67", "+375291234567"),
            ("+374 10 123456", "+37410123456"),
            ("+49 30 1234567", "+49301234567"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_phone(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn bad_phones_are_refused_with_a_reason() {
        use IdentifierError as E;
        let cases = [
            ("", E::EmptyPhone),
            ("   ", E::EmptyPhone),
            ("8 701 123 45 67 доб. 12", E::PhoneCharacter('д')),
            ("+7 701 123 45 6a", E::PhoneCharacter('a')),
            ("701 123+4567", E::PhoneCharacter('+')),
            ("123 45 67", E::PhoneCountry),
            (
                "+7 701 123 45 678",
                E::PhoneLength {
                    cc: "7",
                    got: 12,
                    want: 11,
                },
            ),
            (
                "+998 90 123 45 6",
                E::PhoneLength {
                    cc: "998",
                    got: 11,
                    want: 12,
                },
            ),
            ("+7 101 123 45 67", E::PhoneInvalid),
            ("+0 701 123 45 67", E::PhoneInvalid),
            ("+1234567", E::PhoneInvalid),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_phone(raw), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn error_messages_never_echo_the_number() {
        let err = normalize_phone("+7 701 123 45 678").expect_err("too long");
        assert!(!err.to_string().contains("701"), "{err}");
    }

    #[test]
    fn emails_normalise_and_bad_ones_are_refused() {
        assert_eq!(
            normalize_email("  Aigerim.N@Example.KZ ").as_deref(),
            Ok("aigerim.n@example.kz")
        );
        assert_eq!(
            normalize_email("Иван@Пример.РФ").as_deref(),
            Ok("иван@пример.рф")
        );
        for bad in [
            "",
            "no-at.example.kz",
            "a@b@example.kz",
            "@example.kz",
            "a@localhost",
            "a b@example.kz",
            "a@-x.kz",
            "a@x..kz",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn hmac_matches_rfc4231_case_2_and_is_keyed() {
        // HMAC zero-pads short keys to the block size, so "Jefe" padded to 32 bytes is the
        // RFC 4231 test case 2 key.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let jefe = SubjectKey::from_bytes(key);
        assert_eq!(
            jefe.legacy_index_hex("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let other = SubjectKey::from_bytes([8; 32]);
        assert_ne!(
            jefe.legacy_index_hex("+77011234567"),
            other.legacy_index_hex("+77011234567")
        );
    }

    #[test]
    fn each_site_and_each_use_has_its_own_key() {
        let key = SubjectKey::from_bytes([5; 32]);
        let (demo, other) = (key.site("demo"), key.site("other"));
        let phone = "+77011234567";
        assert_eq!(
            demo.index_hex(phone),
            key.site("demo").index_hex(phone),
            "stable"
        );
        assert_ne!(demo.index_hex(phone), other.index_hex(phone), "per site");
        assert_ne!(
            demo.index_hex(phone),
            key.legacy_index_hex(phone),
            "not v1's"
        );
        assert_ne!(demo.index_hex(phone), demo.browser_hex(phone), "per use");
        // HKDF-SHA-256 (RFC 5869) as an independent computation gives the same key.
        let prk = hmac_raw(&[0u8; 32], &[5; 32]);
        let okm = hmac_raw(&prk, b"kelisim/v2/subject-index/demo\x01");
        assert_eq!(demo.index_hex(phone), hmac_hex(&okm, phone.as_bytes()));
    }

    fn hmac_raw(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key");
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn commitments_depend_on_the_salt() {
        let a = new_salt().expect("random");
        let b = new_salt().expect("random");
        assert_ne!(a, b);
        let phone = "+77011234567";
        assert_eq!(commitment_hex(&a, phone), commitment_hex(&a, phone));
        assert_ne!(commitment_hex(&a, phone), commitment_hex(&b, phone));
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("subject.key");
        let first = SubjectKey::load_or_create(&path).expect("create");
        let again = SubjectKey::load_or_create(&path).expect("reuse");
        assert_eq!(first.legacy_index_hex("x"), again.legacy_index_hex("x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::write(&path, "not hex\n").expect("write");
        assert!(matches!(
            SubjectKey::load(&path),
            Err(SubjectKeyError::Corrupt { .. })
        ));
    }
}
