//! Admin bearer tokens: `kls_<id>_<secret>`. The id (16 hex) finds the stored record; only
//! the SHA-256 of the secret (32 random bytes, hex) is stored, and it is compared in
//! constant time. Pure logic plus randomness; the store keeps the records.

use subtle::ConstantTimeEq;

use crate::hash::{hex, is_lower_hex, sha256_hex};
use crate::store::{Scope, TokenRecord};

const PREFIX: &str = "kls_";

/// A freshly made token: the text to print once, and the record to store.
#[derive(Debug)]
pub struct NewToken {
    pub text: String,
    pub record: TokenRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot get random bytes for a token: {0}")]
    Random(getrandom::Error),
    #[error("a token needs at least one site; pass --site SITE")]
    NoSites,
    #[error("site id `{0}` is not valid; use the id from the config's [[site]] table")]
    BadSite(String),
}

/// Makes a token for `sites` with `scope`, expiring at `expires_at` (RFC 3339) if given.
pub fn generate(
    sites: Vec<String>,
    scope: Scope,
    label: Option<String>,
    created_at: String,
    expires_at: Option<String>,
) -> Result<NewToken, TokenError> {
    if sites.is_empty() {
        return Err(TokenError::NoSites);
    }
    if let Some(bad) = sites
        .iter()
        .find(|s| s.is_empty() || s.contains(',') || s.chars().any(char::is_whitespace))
    {
        return Err(TokenError::BadSite(bad.clone()));
    }
    let mut bytes = [0u8; 40];
    getrandom::fill(&mut bytes).map_err(TokenError::Random)?;
    let id = hex(&bytes[..8]);
    let secret = hex(&bytes[8..]);
    Ok(NewToken {
        text: format!("{PREFIX}{id}_{secret}"),
        record: TokenRecord {
            id,
            secret_sha256: sha256_hex(secret.as_bytes()),
            sites,
            scope,
            label,
            created_at,
            expires_at,
            revoked_at: None,
        },
    })
}

/// Splits a presented token into (id, secret), or `None` if it is not shaped like one.
pub fn parse(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (is_lower_hex(id, 16) && is_lower_hex(secret, 64)).then_some((id, secret))
}

/// Why a well-formed token is not accepted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    WrongSecret,
    Revoked,
    Expired,
}

/// Checks `secret` against `record` (constant time) and its validity at `now` (RFC 3339).
pub fn check(record: &TokenRecord, secret: &str, now: &str) -> Result<(), Rejection> {
    let presented = sha256_hex(secret.as_bytes());
    if !bool::from(presented.as_bytes().ct_eq(record.secret_sha256.as_bytes())) {
        return Err(Rejection::WrongSecret);
    }
    if record.revoked_at.is_some() {
        return Err(Rejection::Revoked);
    }
    // RFC 3339 UTC timestamps of the same shape sort chronologically.
    if record.expires_at.as_deref().is_some_and(|e| e <= now) {
        return Err(Rejection::Expired);
    }
    Ok(())
}

impl TokenRecord {
    /// May this token see `site`?
    pub fn covers(&self, site: &str) -> bool {
        self.sites.iter().any(|s| s == site)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(expires: Option<&str>) -> NewToken {
        generate(
            vec!["demo".into()],
            Scope::Read,
            None,
            "2026-01-01T00:00:00Z".into(),
            expires.map(str::to_owned),
        )
        .expect("token")
    }

    #[test]
    fn a_token_round_trips_and_only_its_hash_is_kept() {
        let t = make(None);
        let (id, secret) = parse(&t.text).expect("parses");
        assert_eq!(id, t.record.id);
        assert!(!t.record.secret_sha256.contains(secret));
        assert_eq!(check(&t.record, secret, "2026-06-01T00:00:00Z"), Ok(()));
        let other = make(None);
        let (_, other_secret) = parse(&other.text).expect("parses");
        assert_eq!(
            check(&t.record, other_secret, "2026-06-01T00:00:00Z"),
            Err(Rejection::WrongSecret)
        );
    }

    #[test]
    fn expired_and_revoked_tokens_are_refused() {
        let t = make(Some("2026-02-01T00:00:00Z"));
        let (_, secret) = parse(&t.text).expect("parses");
        assert_eq!(check(&t.record, secret, "2026-01-31T23:59:59Z"), Ok(()));
        assert_eq!(
            check(&t.record, secret, "2026-02-01T00:00:00Z"),
            Err(Rejection::Expired)
        );
        let mut revoked = t.record.clone();
        revoked.revoked_at = Some("2026-01-02T00:00:00Z".into());
        assert_eq!(
            check(&revoked, secret, "2026-01-03T00:00:00Z"),
            Err(Rejection::Revoked)
        );
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        for bad in [
            "",
            "kls_",
            "Bearer x",
            "kls_00_11",
            &format!("kls_{}_{}", "A".repeat(16), "0".repeat(64)),
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert!(generate(vec![], Scope::Read, None, String::new(), None).is_err());
        assert!(generate(vec!["a,b".into()], Scope::Read, None, String::new(), None).is_err());
    }
}
