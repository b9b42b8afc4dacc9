//! `[store]`: where the receipts live. By default the embedded SQLite database in the data
//! directory; `backend = "postgres"` with a connection URL puts them in a PostgreSQL
//! database that several collectors may share (docs/deploy.md, "Several collectors").

use super::ConfigError;
use super::raw::RawStore;
use super::validate::{Key, Validator};

/// `[store]`, as validated.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StoreConfig {
    /// `kelisim.db` in the data directory.
    #[default]
    Sqlite,
    /// A PostgreSQL database, by its connection URL.
    Postgres { url: String },
}

/// Never prints the URL's password.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreConfig::Sqlite => f.write_str("Sqlite"),
            StoreConfig::Postgres { url } => f
                .debug_struct("Postgres")
                .field("url", &redact_url(url))
                .finish(),
        }
    }
}

impl StoreConfig {
    /// A `--store` argument: a PostgreSQL URL, or `sqlite` for the data directory's file.
    pub fn parse_arg(arg: &str) -> Result<StoreConfig, String> {
        if arg == "sqlite" {
            return Ok(StoreConfig::Sqlite);
        }
        if is_postgres_url(arg) {
            return Ok(StoreConfig::Postgres {
                url: arg.to_owned(),
            });
        }
        Err(format!(
            "`{}` is neither `sqlite` nor a PostgreSQL URL (postgres://user:password@host:port/database)",
            redact_url(arg)
        ))
    }
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with the password of its user info, and any `password=` parameter, replaced by
/// `***`: safe for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            out = format!("{scheme}://{}:***{}", &rest[..colon], &rest[at..]);
        }
    }
    if let Some(start) = out.find("password=") {
        let value = start + "password=".len();
        let end = out[value..].find('&').map_or(out.len(), |e| value + e);
        out.replace_range(value..end, "***");
    }
    out
}

impl Validator<'_> {
    pub(super) fn store(&self, raw: Option<RawStore>) -> Result<StoreConfig, ConfigError> {
        let Some(raw) = raw else {
            return Ok(StoreConfig::Sqlite);
        };
        let key = Key::named("store");
        match (raw.backend.as_str(), raw.url) {
            ("sqlite", None) => Ok(StoreConfig::Sqlite),
            ("sqlite", Some(_)) => Err(self.err(
                &key.with("url"),
                "a SQLite store is the data directory's kelisim.db and takes no URL; \
                 remove `url`, or set backend = \"postgres\"",
            )),
            ("postgres", Some(url)) if is_postgres_url(&url) => Ok(StoreConfig::Postgres { url }),
            ("postgres", Some(url)) => Err(self.err(
                &key.with("url"),
                format!(
                    "`{}` is not a PostgreSQL URL; write postgres://user:password@host:port/database",
                    redact_url(&url)
                ),
            )),
            ("postgres", None) => Err(self.err(
                &key.with("url"),
                "is missing; backend = \"postgres\" needs the database's URL, \
                 postgres://user:password@host:port/database",
            )),
            (other, _) => Err(self.err(
                &key.with("backend"),
                format!("`{other}` is not a store; use \"sqlite\" (the default) or \"postgres\""),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo config with `store` appended (a top-level table may come last).
    fn parse(store: &str) -> Result<StoreConfig, String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo");
        let demo = std::fs::read_to_string(dir.join("kelisim.toml")).expect("demo config");
        crate::config::Config::parse(
            &format!("{demo}\n{store}"),
            std::path::Path::new("kelisim.toml"),
            &dir,
        )
        .map(|c| c.store)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn the_store_is_sqlite_unless_configured() {
        assert_eq!(parse(""), Ok(StoreConfig::Sqlite));
        assert_eq!(
            parse(
                "[store]\nbackend = \"postgres\"\nurl = \"postgres://k:pw@127.0.0.1:5432/kelisim\""
            ),
            Ok(StoreConfig::Postgres {
                url: "postgres://k:pw@127.0.0.1:5432/kelisim".into()
            })
        );
    }

    #[test]
    fn a_wrong_store_names_the_key_and_never_the_password() {
        for (toml, key) in [
            ("[store]\nbackend = \"mysql\"", "store.backend"),
            ("[store]\nbackend = \"postgres\"", "store.url"),
            (
                "[store]\nbackend = \"sqlite\"\nurl = \"postgres://x@y/z\"",
                "store.url",
            ),
            (
                "[store]\nbackend = \"postgres\"\nurl = \"mysql://u:secret@h/d\"",
                "store.url",
            ),
        ] {
            let err = parse(toml).expect_err(toml);
            assert!(err.contains(key), "{toml}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
        assert!(StoreConfig::parse_arg("postgres://u:pw@h/d").is_ok());
        let err = StoreConfig::parse_arg("mysql://u:secret@h/d").expect_err("refused");
        assert!(!err.contains("secret"), "{err}");
    }
}
