//! The widget's files: built into the binary by a release build (`cargo xtask package`, see
//! `build.rs`), or loaded into memory at start from a widget directory (`--widget-dir`, which
//! overrides the built-in widget; `./dist` for a build without one).
//!
//! Served names (written by `cargo xtask dist`): `kelisim.js`, the loader, revalidated on
//! every use (`no-cache` + `ETag`) so a new release reaches visitors at once; and
//! `kelisim.<16 hex>.{js,wasm,css}`, content-hashed and therefore cached forever
//! (`immutable`). Each may have `.br` and `.gz` siblings, served when `Accept-Encoding`
//! allows (`Content-Encoding`, `Vary: Accept-Encoding`). All are public and may be loaded
//! cross-origin (the glue is an ES module and the wasm is fetched, both CORS requests).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::hash::sha256_hex;
use crate::web::negotiate::{Encoding, etag_matches, pick_encoding};

/// Name of the loader, the one file a site's script tag names.
pub const LOADER: &str = "kelisim.js";

#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error("cannot read widget directory {path}: {source}")]
    ReadDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read widget file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
struct Variant {
    bytes: web::Bytes,
    etag: String,
}

impl Variant {
    fn new(bytes: web::Bytes) -> Variant {
        let etag = format!("\"{}\"", &sha256_hex(&bytes)[..16]);
        Variant { bytes, etag }
    }
}

#[derive(Debug, Clone)]
struct Asset {
    content_type: &'static str,
    immutable: bool,
    identity: Variant,
    brotli: Option<Variant>,
    gzip: Option<Variant>,
}

/// Every servable widget file, by name.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// Where the files were read from; empty for the built-in widget.
    dir: PathBuf,
    files: HashMap<String, Asset>,
}

/// The widget files built into this binary, `(name, bytes)`: `build.rs` fills this from the
/// directory `KELISIM_EMBED_WIDGET` named at build time; empty in a plain `cargo build`.
static BUILT_IN: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/embedded_widget.rs"));

/// Where a build without a built-in widget looks when no `--widget-dir` is given.
pub const DEV_WIDGET_DIR: &str = "./dist";

/// Content type and cacheability of a widget file name, or `None` if it is not one.
pub fn widget_file_kind(name: &str) -> Option<(&'static str, bool)> {
    if name == LOADER {
        return Some(("text/javascript; charset=utf-8", false));
    }
    let rest = name.strip_prefix("kelisim.")?;
    let (hash, ext) = rest.split_once('.')?;
    if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let content_type = match ext {
        "js" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        _ => return None,
    };
    Some((content_type, true))
}

impl Assets {
    /// The widget `serve` and `demo` use: the files in `dir` if one is given (an override),
    /// else the widget built into this binary, else (a build without one) [`DEV_WIDGET_DIR`].
    pub fn open(dir: Option<&Path>) -> Result<Assets, AssetError> {
        match dir {
            Some(dir) => Assets::load(dir),
            None if !BUILT_IN.is_empty() => Ok(Assets::built_in()),
            None => Assets::load(Path::new(DEV_WIDGET_DIR)),
        }
    }

    /// True if this binary carries a widget of its own.
    pub fn has_built_in() -> bool {
        !BUILT_IN.is_empty()
    }

    /// The widget built into this binary (served from the binary's own bytes, no copy).
    pub fn built_in() -> Assets {
        let files = BUILT_IN
            .iter()
            .map(|(name, bytes)| ((*name).to_owned(), web::Bytes::from_static(bytes)));
        let assets = Assets::from_files(PathBuf::new(), files);
        tracing::info!(files = assets.files.len(), "widget loaded (built in)");
        assets
    }

    /// Loads the widget files in `dir`. A missing directory is not an error — the collector
    /// still records receipts — but it is logged, since no page can show the widget.
    pub fn load(dir: &Path) -> Result<Assets, AssetError> {
        let shown = || dir.display().to_string();
        let listing = match std::fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(dir = %shown(), "widget is not built: no widget directory; run `cargo xtask dist`");
                return Ok(Assets {
                    dir: dir.to_owned(),
                    files: HashMap::new(),
                });
            }
            Err(source) => {
                return Err(AssetError::ReadDir {
                    path: shown(),
                    source,
                });
            }
        };
        let mut files = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|source| AssetError::ReadDir {
                path: shown(),
                source,
            })?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let base = name
                .strip_suffix(".br")
                .or_else(|| name.strip_suffix(".gz"))
                .unwrap_or(&name);
            if widget_file_kind(base).is_none() {
                continue;
            }
            let bytes = std::fs::read(entry.path()).map_err(|source| AssetError::Read {
                path: entry.path().display().to_string(),
                source,
            })?;
            files.push((name, web::Bytes::from(bytes)));
        }
        let assets = Assets::from_files(dir.to_owned(), files);
        if assets.is_built() {
            tracing::info!(dir = %shown(), files = assets.files.len(), "widget loaded");
        } else {
            tracing::warn!(dir = %shown(), "widget is not built: no kelisim.js; run `cargo xtask dist`");
        }
        Ok(assets)
    }

    /// Sorts `(name, bytes)` into widget files and their `.br`/`.gz` siblings; other names
    /// are ignored.
    fn from_files(dir: PathBuf, files: impl IntoIterator<Item = (String, web::Bytes)>) -> Assets {
        let mut assets = Assets {
            dir,
            files: HashMap::new(),
        };
        let mut compressed = Vec::new();
        for (name, bytes) in files {
            if let Some(base) = name
                .strip_suffix(".br")
                .or_else(|| name.strip_suffix(".gz"))
            {
                if widget_file_kind(base).is_some() {
                    compressed.push((base.to_owned(), name.ends_with(".br"), bytes));
                }
            } else if let Some((content_type, immutable)) = widget_file_kind(&name) {
                assets.files.insert(
                    name,
                    Asset {
                        content_type,
                        immutable,
                        identity: Variant::new(bytes),
                        brotli: None,
                        gzip: None,
                    },
                );
            }
        }
        for (base, is_brotli, bytes) in compressed {
            match assets.files.get_mut(&base) {
                Some(asset) if is_brotli => asset.brotli = Some(Variant::new(bytes)),
                Some(asset) => asset.gzip = Some(Variant::new(bytes)),
                None => {
                    tracing::warn!(file = %base, "compressed widget file without its original; ignored")
                }
            }
        }
        assets
    }

    /// True if the loader is present.
    pub fn is_built(&self) -> bool {
        self.files.contains_key(LOADER)
    }

    /// The directory the files were read from (empty for the built-in widget, which is
    /// always built).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The response for widget file `name`, or `None` if there is no such file.
    pub fn respond(&self, name: &str, req: &HttpRequest) -> Option<HttpResponse> {
        let asset = self.files.get(name)?;
        let accept = req
            .headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok());
        let encoding = pick_encoding(accept, asset.brotli.is_some(), asset.gzip.is_some());
        let (variant, content_encoding) = match (encoding, &asset.brotli, &asset.gzip) {
            (Encoding::Brotli, Some(v), _) => (v, Some("br")),
            (Encoding::Gzip, _, Some(v)) => (v, Some("gzip")),
            _ => (&asset.identity, None),
        };
        let cache = if asset.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let if_none_match = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok());
        let not_modified = etag_matches(if_none_match, &variant.etag);
        let mut res = if not_modified {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        res.insert_header((header::CACHE_CONTROL, cache))
            .insert_header((header::ETAG, variant.etag.as_str()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header(("cross-origin-resource-policy", "cross-origin"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        if asset.brotli.is_some() || asset.gzip.is_some() {
            res.insert_header((header::VARY, "Accept-Encoding"));
        }
        if let Some(value) = content_encoding {
            res.insert_header((header::CONTENT_ENCODING, value));
        }
        if not_modified {
            return Some(res.finish());
        }
        res.insert_header((header::CONTENT_TYPE, asset.content_type));
        Some(res.body(variant.bytes.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_names() {
        assert_eq!(
            widget_file_kind("kelisim.js"),
            Some(("text/javascript; charset=utf-8", false))
        );
        assert_eq!(
            widget_file_kind("kelisim.0123456789abcdef.wasm"),
            Some(("application/wasm", true))
        );
        assert_eq!(
            widget_file_kind("kelisim.0123456789abcdef.css"),
            Some(("text/css; charset=utf-8", true))
        );
        assert_eq!(
            widget_file_kind("kelisim.0123456789abcdef.js").map(|k| k.1),
            Some(true)
        );
        for other in [
            "kelisim.toml",
            "kelisim.0123.js",
            "kelisim.0123456789abcdef.html",
            "../kelisim.js",
            "index.html",
        ] {
            assert_eq!(widget_file_kind(other), None, "{other}");
        }
    }

    #[test]
    fn siblings_join_their_file_and_strays_are_ignored() {
        let file = |name: &str, bytes: &'static [u8]| (name.to_owned(), web::Bytes::from(bytes));
        let assets = Assets::from_files(
            PathBuf::from("d"),
            [
                file("kelisim.js.br", b"BR"),
                file("kelisim.js", b"loader"),
                file("kelisim.0123456789abcdef.wasm.gz", b"GZ"),
                file("kelisim.fedcba9876543210.css.br", b"no original"),
                file("kelisim.toml", b"not served"),
            ],
        );
        assert!(assets.is_built());
        let loader = &assets.files[LOADER];
        assert_eq!(
            loader.brotli.as_ref().map(|v| &v.bytes[..]),
            Some(&b"BR"[..])
        );
        assert!(loader.gzip.is_none());
        assert_eq!(assets.files.len(), 1, "a sibling alone is not served");
    }

    /// In a build that embeds the widget (`cargo xtask test` and `package` do), the loader and
    /// every file it names are built in, each with its brotli and gzip siblings.
    #[test]
    fn built_in_widget_is_whole() {
        let assets = Assets::built_in();
        if !Assets::has_built_in() {
            assert!(!assets.is_built() && assets.files.is_empty());
            return;
        }
        let loader = String::from_utf8_lossy(&assets.files[LOADER].identity.bytes).into_owned();
        let named: Vec<&str> = loader
            .match_indices("kelisim.")
            .filter_map(|(at, _)| {
                let rest = &loader[at..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                    .unwrap_or(rest.len());
                widget_file_kind(&rest[..end]).map(|_| &rest[..end])
            })
            .filter(|name| *name != LOADER)
            .collect();
        // The glue, the wasm, the whole stylesheet and the floating control's own (which a
        // returning visitor's page without a form loads alone).
        assert_eq!(
            named.len(),
            4,
            "glue, wasm and both stylesheets named in the loader: {named:?}"
        );
        for name in named.iter().copied().chain([LOADER]) {
            let asset = assets
                .files
                .get(name)
                .unwrap_or_else(|| panic!("{name} built in"));
            assert!(
                asset.brotli.is_some() && asset.gzip.is_some(),
                "{name} siblings"
            );
        }
    }
}
