//! Which items of a consent's content (Art. 8 of the Law of the RK "On Personal Data and
//! Their Protection", as `docs/compliance.md` maps them) a site's config carries, and which
//! it leaves empty: the admin page's Art. 8 panel. Pure: from the validated [`Site`].

use serde::Serialize;

use crate::config::Site;

/// How the config covers one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Its key is set.
    Set,
    /// Its optional key is empty: fill it in.
    Empty,
}

/// One item of a consent's content, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Art8Item {
    /// Stable id (the admin page's text key): `operator_name`, `operator_address`, …
    pub item: &'static str,
    /// The row of `docs/compliance.md` that maps it.
    pub row: &'static str,
    /// The config key that carries it, if one does.
    pub key: Option<&'static str>,
    pub coverage: Coverage,
}

fn filled(value: Option<&String>) -> Coverage {
    if value.is_some_and(|v| !v.trim().is_empty()) {
        Coverage::Set
    } else {
        Coverage::Empty
    }
}

/// A `[site.data]` key: set when the config says it (an empty list is an answer: none).
fn given<T>(value: Option<&T>) -> Coverage {
    if value.is_some() {
        Coverage::Set
    } else {
        Coverage::Empty
    }
}

/// Every item, in the order of `docs/compliance.md`.
pub fn items(site: &Site) -> Vec<Art8Item> {
    let op = &site.operator;
    let services = site.categories.iter().any(|c| !c.services.is_empty());
    let item = |item, row, key, coverage| Art8Item {
        item,
        row,
        key,
        coverage,
    };
    vec![
        item(
            "operator_name",
            "L4",
            Some("site.operator.name"),
            filled(Some(&op.name)),
        ),
        item(
            "operator_bin",
            "L5",
            Some("site.operator.bin"),
            filled(Some(&op.bin)),
        ),
        item(
            "operator_address",
            "L6",
            Some("site.operator.address"),
            filled(op.address.as_ref()),
        ),
        item(
            "withdrawal_contact",
            "L14",
            Some("site.operator.contact"),
            filled(op.contact.as_ref()),
        ),
        item("consent_text", "L3", Some("site.policy"), Coverage::Set),
        item("term", "L10", Some("site.retention_days"), Coverage::Set),
        item(
            "cookie_third_parties",
            "L11",
            Some("site.category.services"),
            if site.categories.is_empty() || services {
                Coverage::Set
            } else {
                Coverage::Empty
            },
        ),
        item(
            "data_collected",
            "L8",
            Some("site.data.collected"),
            given(site.data.collected.as_ref().filter(|c| !c.is_empty())),
        ),
        item(
            "form_third_parties",
            "L11",
            Some("site.data.recipients"),
            given(site.data.recipients.as_ref()),
        ),
        item(
            "cross_border",
            "L12",
            Some("site.data.cross_border"),
            given(site.data.cross_border.as_ref()),
        ),
        item(
            "public_sources",
            "L13",
            Some("site.data.public"),
            given(site.data.public.as_ref()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn demo(edit: impl FnOnce(String) -> String) -> Site {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo");
        let text = std::fs::read_to_string(dir.join("kelisim.toml")).expect("demo config");
        let config = Config::parse(&edit(text), &dir.join("kelisim.toml"), &dir).expect("valid");
        config.site("demo").expect("demo").clone()
    }

    fn coverage(items: &[Art8Item], id: &str) -> Coverage {
        items.iter().find(|i| i.item == id).expect(id).coverage
    }

    #[test]
    fn empty_keys_are_named() {
        let data = [
            "data_collected",
            "form_third_parties",
            "cross_border",
            "public_sources",
        ];
        let full = items(&demo(|t| t));
        assert!(
            full.iter().all(|i| i.coverage == Coverage::Set),
            "the demo says everything: {full:?}"
        );
        let cut = |t: String| {
            t.lines()
                .filter(|l| !l.starts_with("address") && !l.starts_with("contact"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        // Without its [site.data] table, the demo says none of the four.
        let no_data = |t: String| {
            let start = t.find("[site.data]").expect("the demo has [site.data]");
            let end = t[start..].find("\n\n").map_or(t.len(), |e| start + e);
            format!("{}{}", &t[..start], &t[end..])
        };
        let bare_data = items(&demo(no_data));
        for id in data {
            assert_eq!(coverage(&bare_data, id), Coverage::Empty, "{id}");
        }
        // An empty list is an answer (none), an empty `collected` is not.
        let none = items(&demo(|t| {
            t.replace("cross_border = []", "cross_border = []\n")
                .replace("collected = [", "collected = [] # [")
        }));
        assert_eq!(coverage(&none, "cross_border"), Coverage::Set);
        assert_eq!(coverage(&none, "data_collected"), Coverage::Empty);
        let bare = items(&demo(cut));
        assert_eq!(coverage(&bare, "operator_address"), Coverage::Empty);
        assert_eq!(coverage(&bare, "withdrawal_contact"), Coverage::Empty);
        assert_eq!(coverage(&bare, "operator_bin"), Coverage::Set);
    }
}
