//! Content negotiation helpers: `Accept`, `Accept-Encoding`, `Accept-Language`,
//! `If-None-Match`. Pure functions over header text.

/// Parses a `token;q=0.5, other` list into (lower-cased token, q) pairs.
fn qlist(header: &str) -> Vec<(String, f32)> {
    header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let token = parts.next()?.trim().to_ascii_lowercase();
            if token.is_empty() {
                return None;
            }
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((token, q))
        })
        .collect()
}

/// A precompressed variant the client may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// Picks the best of the available encodings for `accept` (None: identity only).
/// Brotli is preferred over gzip on equal q; q=0 excludes.
pub fn pick_encoding(accept: Option<&str>, has_br: bool, has_gzip: bool) -> Encoding {
    let Some(accept) = accept else {
        return Encoding::Identity;
    };
    let list = qlist(accept);
    let q_of = |name: &str| {
        list.iter()
            .find(|(t, _)| t == name)
            .or_else(|| list.iter().find(|(t, _)| t == "*"))
            .map_or(0.0, |(_, q)| *q)
    };
    let mut best = (Encoding::Identity, 0.0f32);
    if has_gzip {
        let q = q_of("gzip");
        if q > best.1 {
            best = (Encoding::Gzip, q);
        }
    }
    if has_br {
        let q = q_of("br");
        if q > 0.0 && q >= best.1 {
            best = (Encoding::Brotli, q);
        }
    }
    best.0
}

/// The best of `available` languages for an `Accept-Language` header, matching on the
/// primary subtag (`kk-KZ` → `kk`).
pub fn pick_language<'a>(accept: Option<&str>, available: &'a [String]) -> Option<&'a str> {
    let mut list = qlist(accept?);
    list.retain(|(_, q)| *q > 0.0);
    // Stable sort keeps header order among equal q.
    list.sort_by(|a, b| b.1.total_cmp(&a.1));
    list.iter().find_map(|(tag, _)| {
        let primary = tag.split('-').next().unwrap_or(tag);
        available
            .iter()
            .find(|l| l.as_str() == primary)
            .map(String::as_str)
    })
}

/// True if `accept` asks for HTML rather than JSON: `text/html` is listed by name with a
/// higher q than `application/json`. Wildcards do not count, so `fetch()` (`*/*`) and curl
/// get JSON while a browser navigating to the URL gets the page.
pub fn prefers_html(accept: Option<&str>) -> bool {
    prefers_html_over(accept, &["application/json"])
}

/// True if `accept` names `text/html` with a higher q than every one of `others` (wildcards
/// do not count).
pub fn prefers_html_over(accept: Option<&str>, others: &[&str]) -> bool {
    let Some(accept) = accept else { return false };
    let list = qlist(accept);
    let q = |name: &str| {
        list.iter()
            .find(|(t, _)| t == name)
            .map_or(0.0, |(_, q)| *q)
    };
    let html = q("text/html");
    others.iter().all(|other| html > q(other))
}

/// True if an `If-None-Match` header matches `etag` (a quoted strong tag); weak
/// comparison, as RFC 9110 prescribes for If-None-Match.
pub fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(header) = if_none_match else {
        return false;
    };
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_negotiation() {
        use Encoding::*;
        let cases = [
            (Some("gzip, deflate, br, zstd"), Brotli),
            (Some("gzip"), Gzip),
            (Some("br;q=0, gzip"), Gzip),
            (Some("gzip;q=1.0, br;q=0.5"), Gzip),
            (Some("*"), Brotli),
            (Some("identity"), Identity),
            (Some(""), Identity),
            (None, Identity),
        ];
        for (header, want) in cases {
            assert_eq!(pick_encoding(header, true, true), want, "{header:?}");
        }
        assert_eq!(pick_encoding(Some("br, gzip"), false, true), Gzip);
        assert_eq!(pick_encoding(Some("br"), false, false), Identity);
    }

    #[test]
    fn language_negotiation() {
        let available = ["ru".to_owned(), "kk".to_owned(), "en".to_owned()];
        let pick = |h| pick_language(Some(h), &available);
        assert_eq!(pick("kk-KZ,kk;q=0.9,ru;q=0.8"), Some("kk"));
        assert_eq!(pick("de-DE, en;q=0.5, ru;q=0.7"), Some("ru"));
        assert_eq!(pick("de, fr"), None);
        assert_eq!(pick("kk;q=0, en"), Some("en"));
        assert_eq!(pick_language(None, &available), None);
    }

    #[test]
    fn html_is_chosen_only_when_named() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(prefers_html(Some(browser)));
        assert!(!prefers_html(Some("*/*")));
        assert!(!prefers_html(Some("application/json")));
        assert!(!prefers_html(Some("application/json, text/html")));
        assert!(prefers_html(Some("application/json;q=0.5, text/html")));
        assert!(!prefers_html(Some("text/html;q=0")));
        assert!(!prefers_html(None));
    }

    #[test]
    fn etags() {
        assert!(etag_matches(Some("\"abc\""), "\"abc\""));
        assert!(etag_matches(Some("W/\"abc\", \"x\""), "\"abc\""));
        assert!(etag_matches(Some("*"), "\"abc\""));
        assert!(!etag_matches(Some("\"abd\""), "\"abc\""));
        assert!(!etag_matches(None, "\"abc\""));
    }
}
