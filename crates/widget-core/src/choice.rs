//! Pure decisions of the cookie banner: what a stored choice means, what "Accept all" and
//! "Reject all" grant (Global Privacy Control included), which receipt a new choice makes,
//! what Google Consent Mode is told, and the first-party cookie that remembers the choice. No
//! DOM here: `banner` reads the page into plain values and asks, so every rule is unit-tested
//! natively.
//!
//! The cookie (`kelisim_cookies`, docs/wire.md) holds `1.<revision>.<reference>.<choices>`:
//! the format version, the config's `cookies.revision` it was given under, the reference of the
//! receipt that recorded it (`-` when none could be sent) and `id:1` / `id:0` per category,
//! joined by `+`. Every part is made of cookie-safe characters (category ids are `a-z0-9-_`).

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

/// A cookie category (`cookies.categories[]` of the site config, read by the widget's `config`);
/// a `required` one is always granted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
pub struct Category {
    pub id: String,
    #[cfg_attr(feature = "serde", serde(default))]
    pub required: bool,
    /// Names of the services (third parties) the category covers.
    #[cfg_attr(feature = "serde", serde(default))]
    pub services: Vec<String>,
}

/// Name of the first-party cookie that keeps the choice.
pub const COOKIE: &str = "kelisim_cookies";

/// A choice: granted or not, per configured category, in the config's order.
pub type Grants = Vec<bool>;

/// The value of cookie `name` in a `document.cookie` string.
#[inline]
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n.trim() == name).then(|| v.trim())
    })
}

/// The choice a cookie value holds, with the reference of its receipt, if it still answers the
/// banner of `revision`: written by [`cookie`] under that revision, with a choice for every
/// category now configured and every required one granted. Otherwise (a new revision, a new or
/// renamed category, a value that is not ours) the visitor is asked again.
#[inline]
pub fn stored<'a>(
    value: &'a str,
    revision: &str,
    categories: &[Category],
) -> Option<(Grants, Option<&'a str>)> {
    let mut parts = value.split('.');
    if parts.next()? != "1" || parts.next()? != revision {
        return None;
    }
    let reference = match parts.next()? {
        "-" => None,
        r if crate::policy::is_key(r) => Some(r),
        _ => return None,
    };
    let items = parts.next()?;
    if parts.next().is_some() || items.split('+').count() != categories.len() {
        return None;
    }
    let grants = categories
        .iter()
        .map(|c| {
            let flag = items.split('+').find_map(|item| {
                let (id, flag) = item.split_once(':')?;
                (id == c.id).then_some(flag)
            })?;
            let granted = match flag {
                "1" => true,
                "0" => false,
                _ => return None,
            };
            (granted || !c.required).then_some(granted)
        })
        .collect::<Option<Grants>>()?;
    Some((grants, reference))
}

/// Whether a stored choice recorded by `reference` still stands, given the reference the
/// collector reports withdrawn (`withdrawn`): a choice without a receipt cannot have been.
#[inline]
pub fn still_given(reference: Option<&str>, withdrawn: Option<&str>) -> bool {
    reference.is_none() || reference != withdrawn
}

/// The cookie's value for `grants` given under `revision`, recorded by `reference`.
#[inline]
pub fn cookie(
    revision: &str,
    reference: Option<&str>,
    categories: &[Category],
    grants: &[bool],
) -> String {
    let mut value = String::from("1.");
    value.push_str(revision);
    value.push('.');
    value.push_str(reference.unwrap_or("-"));
    value.push('.');
    for (i, (category, granted)) in categories.iter().zip(grants).enumerate() {
        if i > 0 {
            value.push('+');
        }
        value.push_str(&category.id);
        value.push_str(if *granted { ":1" } else { ":0" });
    }
    value
}

/// The cookie's attributes: the whole site, first-party only on cross-site requests (`Lax`),
/// `Secure` on https, kept `expiry_days`.
#[inline]
pub fn cookie_attributes(expiry_days: u32, https: bool) -> String {
    let mut attributes = String::from("; Path=/; SameSite=Lax; Max-Age=");
    crate::policy::push_decimal(&mut attributes, expiry_days.saturating_mul(86_400));
    if https {
        attributes.push_str("; Secure");
    }
    attributes
}

/// Before any choice (and for "Reject all"): only the required categories.
#[inline]
pub fn required_only(categories: &[Category]) -> Grants {
    categories.iter().map(|c| c.required).collect()
}

/// "Accept all": every category, except that with Global Privacy Control on, the categories
/// the site lists in `gpc_denies` stay refused (the browser already said no to them; the
/// banner says so, and the visitor can still turn them on one by one in the settings).
#[inline]
pub fn accept_all(categories: &[Category], gpc: bool, gpc_denies: &[String]) -> Grants {
    categories
        .iter()
        .map(|c| c.required || !(gpc && gpc_denies.contains(&c.id)))
        .collect()
}

/// What a new choice records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The same choice as the stored one: nothing new to prove.
    Unchanged,
    /// Every category granted.
    Given,
    /// Only the required categories granted, with no earlier consent to withdraw.
    Refused,
    /// Any other choice.
    Updated,
    /// Only the required categories granted after a consent with reference `.0`: that
    /// consent is withdrawn (`POST /v1/receipts/{ref}/withdraw`).
    Withdraw(String),
}

/// The receipt for `grants`, given the current stored choice and its reference.
#[inline]
pub fn record(
    previous: Option<(&[bool], Option<&str>)>,
    grants: &[bool],
    categories: &[Category],
) -> Record {
    if previous.is_some_and(|(p, _)| p == grants) {
        return Record::Unchanged;
    }
    if grants.iter().all(|g| *g) {
        return Record::Given;
    }
    if grants != required_only(categories).as_slice() {
        return Record::Updated;
    }
    match previous {
        Some((p, Some(reference))) if optional_granted(p, categories) => {
            Record::Withdraw(reference.to_owned())
        }
        _ => Record::Refused,
    }
}

#[inline]
fn optional_granted(grants: &[bool], categories: &[Category]) -> bool {
    grants
        .iter()
        .zip(categories)
        .any(|(g, c)| *g && !c.required)
}

/// Whether a category granted before is refused now: scripts already running keep running
/// until the page is reloaded, and the visitor is told so.
#[inline]
pub fn revoked(previous: Option<&[bool]>, grants: &[bool]) -> bool {
    previous.is_some_and(|p| p.iter().zip(grants).any(|(was, now)| *was && !*now))
}

/// Google Consent Mode v2 types and the category that grants each: analytics storage with
/// `analytics`, the three advertising types with `marketing`. A site without such a category
/// leaves its types denied.
pub const CONSENT_MODE: [(&str, &str); 4] = [
    ("ad_storage", "marketing"),
    ("ad_user_data", "marketing"),
    ("ad_personalization", "marketing"),
    ("analytics_storage", "analytics"),
];

/// The Consent Mode update for `grants`: `(type, granted)` for every type of [`CONSENT_MODE`].
#[inline]
pub fn consent_mode(categories: &[Category], grants: &[bool]) -> [(&'static str, bool); 4] {
    CONSENT_MODE.map(|(kind, category)| {
        let granted = categories
            .iter()
            .zip(grants)
            .any(|(c, g)| *g && c.id == category);
        (kind, granted)
    })
}

/// The ids granted, in the config's order: what the loader activates.
#[inline]
pub fn granted_ids<'a>(categories: &'a [Category], grants: &'a [bool]) -> Vec<&'a str> {
    categories
        .iter()
        .zip(grants)
        .filter(|(_, g)| **g)
        .map(|(c, _)| c.id.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn categories() -> Vec<Category> {
        [
            ("necessary", true),
            ("analytics", false),
            ("marketing", false),
        ]
        .into_iter()
        .map(|(id, required)| Category {
            id: id.into(),
            required,
            services: Vec::new(),
        })
        .collect()
    }

    const REF: &str = "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3";

    #[test]
    fn a_choice_withdrawn_at_the_collector_no_longer_stands() {
        let a = "0123456789abcdef0123456789abcdef";
        let b = "fedcba9876543210fedcba9876543210";
        assert!(still_given(Some(a), None));
        assert!(still_given(Some(a), Some(b)));
        assert!(!still_given(Some(a), Some(a)));
        assert!(still_given(None, None));
        assert!(still_given(None, Some(a)));
    }

    #[test]
    fn the_cookie_round_trips() {
        let cats = categories();
        let value = cookie("9f2c61d0a3b4e5f6", Some(REF), &cats, &[true, true, false]);
        assert_eq!(
            value,
            "1.9f2c61d0a3b4e5f6.0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3.necessary:1+analytics:1+marketing:0"
        );
        assert_eq!(
            stored(&value, "9f2c61d0a3b4e5f6", &cats),
            Some((vec![true, true, false], Some(REF)))
        );
        let none = cookie("r", None, &cats, &[true, false, false]);
        assert_eq!(
            stored(&none, "r", &cats),
            Some((vec![true, false, false], None))
        );
        // Only cookie-safe characters (RFC 6265 cookie-octet): no space, comma, semicolon, quote.
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b",;\"\\".contains(&b))
        );
        // The order of the categories in the value does not matter.
        assert_eq!(
            stored("1.r.-.marketing:1+necessary:1+analytics:0", "r", &cats),
            Some((vec![true, false, true], None))
        );
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let header = "_ga=GA1.1.5; kelisim_cookies=1.r.-.necessary:1; other=x";
        assert_eq!(cookie_value(header, COOKIE), Some("1.r.-.necessary:1"));
        assert_eq!(cookie_value("kelisim_cookiesX=1", COOKIE), None);
        assert_eq!(cookie_value("", COOKIE), None);
    }

    #[test]
    fn foreign_broken_or_outdated_values_ask_again() {
        let cats = categories();
        for bad in [
            "",
            "2.r.-.necessary:1+analytics:1+marketing:0",
            "1.r.-",
            "1.r.-.necessary:yes+analytics:1+marketing:0",
            "1.r.-.necessary+analytics:1+marketing:0",
            "1.r.-.necessary:1+analytics:1+marketing:0.x",
            "1.r.not-a-ref.necessary:1+analytics:1+marketing:0",
            // a new revision
            "1.r0.-.necessary:1+analytics:1+marketing:0",
            // a category missing, renamed or doubled
            "1.r.-.necessary:1+analytics:1",
            "1.r.-.necessary:1+analytics:1+ads:0",
            "1.r.-.necessary:1+analytics:1+analytics:0",
            // a required category refused
            "1.r.-.necessary:0+analytics:1+marketing:0",
        ] {
            assert_eq!(stored(bad, "r", &cats), None, "{bad:?}");
        }
        let mut more = cats.clone();
        more.push(Category {
            id: "session_recording".into(),
            required: false,
            services: Vec::new(),
        });
        assert_eq!(
            stored("1.r.-.necessary:1+analytics:1+marketing:0", "r", &more),
            None,
            "a new category"
        );
    }

    #[test]
    fn accept_all_respects_global_privacy_control() {
        let cats = categories();
        let denies = vec!["marketing".to_owned()];
        assert_eq!(accept_all(&cats, false, &denies), [true, true, true]);
        assert_eq!(accept_all(&cats, true, &denies), [true, true, false]);
        let both = vec!["marketing".to_owned(), "analytics".to_owned()];
        assert_eq!(accept_all(&cats, true, &both), [true, false, false]);
        assert_eq!(required_only(&cats), [true, false, false]);
    }

    #[test]
    fn each_choice_records_the_right_event() {
        let cats = categories();
        let all = [true, true, true];
        let none = [true, false, false];
        let some = [true, true, false];
        assert_eq!(record(None, &all, &cats), Record::Given);
        assert_eq!(record(None, &none, &cats), Record::Refused);
        assert_eq!(record(None, &some, &cats), Record::Updated);
        assert_eq!(
            record(Some((&some, Some(REF))), &some, &cats),
            Record::Unchanged
        );
        assert_eq!(record(Some((&none, Some(REF))), &all, &cats), Record::Given);
        assert_eq!(
            record(Some((&all, Some(REF))), &some, &cats),
            Record::Updated
        );
        // Everything optional turned off after a consent: that consent is withdrawn.
        assert_eq!(
            record(Some((&all, Some(REF))), &none, &cats),
            Record::Withdraw(REF.into())
        );
        // Nothing to withdraw: an earlier refusal, or a consent whose receipt was never sent.
        assert_eq!(record(Some((&all, None)), &none, &cats), Record::Refused);
    }

    #[test]
    fn revoking_is_any_category_turned_off() {
        assert!(revoked(Some(&[true, true, false]), &[true, false, false]));
        assert!(!revoked(Some(&[true, false, false]), &[true, true, true]));
        assert!(!revoked(None, &[true, false, false]));
    }

    #[test]
    fn consent_mode_follows_analytics_and_marketing() {
        let cats = categories();
        assert_eq!(
            consent_mode(&cats, &[true, true, false]),
            [
                ("ad_storage", false),
                ("ad_user_data", false),
                ("ad_personalization", false),
                ("analytics_storage", true)
            ]
        );
        assert!(
            consent_mode(&cats, &[true, true, true])
                .iter()
                .all(|(_, g)| *g)
        );
        assert!(consent_mode(&cats[..1], &[true]).iter().all(|(_, g)| !*g));
        assert_eq!(
            granted_ids(&cats, &[true, false, true]),
            ["necessary", "marketing"]
        );
    }

    #[test]
    fn cookie_attributes_are_first_party_and_expire() {
        assert_eq!(
            cookie_attributes(182, true),
            "; Path=/; SameSite=Lax; Max-Age=15724800; Secure"
        );
        assert_eq!(
            cookie_attributes(1, false),
            "; Path=/; SameSite=Lax; Max-Age=86400"
        );
    }
}
