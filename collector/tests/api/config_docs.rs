//! Every key the config file accepts is documented twice, in `docs/config.md` and in the
//! commented `demo/kelisim.toml`, and the two must not drift from the code: the keys are
//! read from the `Raw*` serde structs of the collector's source (whatever file they live
//! in), so adding a key without documenting it fails here.

use std::path::{Path, PathBuf};

/// The repository root (the collector crate's parent).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the collector lives in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("collector/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `item` without its `pub`, `pub(crate)` or `pub(super)`.
fn strip_visibility(item: &str) -> &str {
    for vis in ["pub(crate) ", "pub(super) ", "pub "] {
        if let Some(rest) = item.strip_prefix(vis) {
            return rest;
        }
    }
    item
}

/// `(struct, field)` for every field of a `Raw…` struct that rejects unknown fields, i.e.
/// every key of the config file.
fn config_keys(source: &str) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let mut lines = source.lines().peekable();
    let mut strict = false;
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line == "#[serde(deny_unknown_fields)]" {
            strict = true;
            continue;
        }
        let Some(rest) = strip_visibility(line).strip_prefix("struct Raw") else {
            if !line.starts_with("#[") {
                strict = false;
            }
            continue;
        };
        if !strict || !rest.ends_with('{') {
            continue;
        }
        let name = format!("Raw{}", rest.trim_end_matches('{').trim());
        for field in lines.by_ref() {
            let field = field.trim();
            if field == "}" {
                break;
            }
            if field.starts_with("#[") || field.starts_with("//") {
                continue;
            }
            let field = strip_visibility(field);
            if let Some((ident, _)) = field.split_once(':') {
                keys.push((name.clone(), ident.trim().to_owned()));
            }
        }
        strict = false;
    }
    keys
}

#[test]
fn every_config_key_is_in_the_reference_and_the_commented_demo_config() {
    let root = root();
    let mut files = Vec::new();
    sources(&root.join("collector/src"), &mut files);
    let mut keys: Vec<(String, String)> = files
        .iter()
        .flat_map(|f| config_keys(&std::fs::read_to_string(f).expect("a source file")))
        .collect();
    keys.sort();
    keys.dedup();
    // The structs the file format is made of; if this fails, the parser above lost track.
    for needed in [
        "RawConfig",
        "RawRateLimit",
        "RawSite",
        "RawOperator",
        "RawCookies",
    ] {
        assert!(
            keys.iter().any(|(s, _)| s == needed),
            "no `{needed}` found in collector/src: {keys:?}"
        );
    }
    let reference = std::fs::read_to_string(root.join("docs/config.md")).expect("docs/config.md");
    let demo = std::fs::read_to_string(root.join("demo/kelisim.toml")).expect("demo config");
    let in_demo = |key: &str| {
        demo.lines().any(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == key)
        })
    };
    let missing: Vec<String> = keys
        .iter()
        .filter_map(|(s, key)| {
            // A key in a table row, or a section heading such as `[site.operator]`.
            let doc = [
                format!("`{key}`"),
                format!(".{key}]"),
                format!(".{key}."),
                format!("[{key}]"),
            ]
            .iter()
            .any(|form| reference.contains(form.as_str()));
            let ex = in_demo(key);
            (!doc || !ex).then(|| {
                format!(
                    "{s}.{key}:{}{}",
                    if doc { "" } else { " not in docs/config.md" },
                    if ex { "" } else { " not in demo/kelisim.toml" }
                )
            })
        })
        .collect();
    assert!(missing.is_empty(), "undocumented config keys: {missing:#?}");
}

#[test]
fn the_key_reader_sees_fields_of_strict_structs_only() {
    let source = "#[derive(Deserialize)]\n#[serde(deny_unknown_fields)]\nstruct RawA {\n    \
                  /// doc\n    #[serde(default)]\n    pub(super) one: u32,\n    two: String,\n}\n\
                  struct RawLoose {\n    three: u8,\n}\n";
    assert_eq!(
        config_keys(source),
        [
            ("RawA".to_owned(), "one".to_owned()),
            ("RawA".to_owned(), "two".to_owned())
        ]
    );
}
