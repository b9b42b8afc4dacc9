//! The live site table, its reload on SIGHUP (what `systemctl reload` sends), and
//! `config check`.
//!
//! A reload reads and validates the whole file first, off the async executor, and only then
//! swaps the table in one store: a request sees either the old sites or the new ones, never
//! a mix, and an invalid file changes nothing (its error names the file, the key and the
//! reason, exactly as `config check` prints it). Sites, origins (CORS included), policy
//! versions and texts, purposes and cookie categories follow the file; the listen addresses,
//! `public_url`, `[rate_limit]`, `[log]` and `[witness]` are read at start only, and a reload
//! that changes them says a restart is needed. `[store]` too is read at start only (it may
//! also come from `--store`, so the file's is not compared with the running one).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use actix_web::web;

use crate::config::{Config, ConfigError};
use crate::web::sites::Sites;
use crate::web::state::AppState;

/// What a successful reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub file: PathBuf,
    pub sites: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Settings the file changed that only a restart applies (`public_url`, `rate_limit`,
    /// `log`, `witness`).
    pub need_restart: Vec<&'static str>,
}

/// Re-reads the running configuration's file and serves it from the next request on; on
/// any error the running sites stay as they are.
pub async fn reload(state: &AppState) -> Result<Reloaded, ConfigError> {
    let current = state.sites();
    let file = current.file().to_path_buf();
    let read = file.clone();
    let config = web::block(move || Config::load(&read))
        .await
        .map_err(|e| ConfigError::Read {
            file: file.clone(),
            source: std::io::Error::other(e.to_string()),
        })??;
    let next = Sites::new(config, &state.subject_key, &state.base_url);
    let mut need_restart = Vec::new();
    if next.public_url != current.public_url {
        need_restart.push("public_url");
    }
    if next.rate_limit != current.rate_limit {
        need_restart.push("rate_limit");
    }
    if next.log != current.log {
        need_restart.push("log");
    }
    if next.witness != current.witness {
        need_restart.push("witness");
    }
    let sites = next.ids();
    let old = current.ids();
    let reloaded = Reloaded {
        file,
        added: sites.iter().filter(|s| !old.contains(s)).cloned().collect(),
        removed: old.iter().filter(|s| !sites.contains(s)).cloned().collect(),
        sites,
        need_restart,
    };
    state.replace_sites(next);
    Ok(reloaded)
}

/// [`reload`], logged: the SIGHUP handler's part for the configuration.
pub async fn reload_and_log(state: &AppState) {
    match reload(state).await {
        Ok(r) => {
            tracing::info!(
                file = %r.file.display(),
                sites = r.sites.join(","),
                added = r.added.join(","),
                removed = r.removed.join(","),
                "SIGHUP: site configuration reloaded"
            );
            for setting in r.need_restart {
                tracing::warn!(
                    file = %r.file.display(),
                    setting,
                    "SIGHUP: `{setting}` changed in the file; it applies only after a restart"
                );
            }
        }
        Err(e) => {
            let (file, key, reason) = parts(&e);
            tracing::error!(
                file,
                key,
                reason,
                "SIGHUP: keeping the running site configuration: {e}"
            );
        }
    }
}

/// The file, the key (or position) and the reason of a config error, for structured logs.
fn parts(e: &ConfigError) -> (String, String, String) {
    match e {
        ConfigError::Read { file, source } => (
            file.display().to_string(),
            "-".to_owned(),
            source.to_string(),
        ),
        ConfigError::Syntax {
            file,
            line,
            column,
            message,
        } => (
            file.display().to_string(),
            format!("line {line}, column {column}"),
            message.clone(),
        ),
        ConfigError::Invalid { file, key, reason } => {
            (file.display().to_string(), key.clone(), reason.clone())
        }
    }
}

/// One line per site: origins, current policy (and older versions), languages, categories.
pub fn summary(config: &Config) -> String {
    let mut out = format!(
        "kelisim: {} is valid: {} site(s)\n",
        config.file.display(),
        config.sites.len()
    );
    for site in &config.sites {
        let versions: Vec<&str> = site.policies.iter().map(|p| p.version.as_str()).collect();
        let categories: Vec<&str> = site.categories.iter().map(|c| c.id.as_str()).collect();
        out.push_str(&format!(
            "  {}: origins {}; policy {} (versions {}); languages {}; cookie categories {}\n",
            site.id,
            if site.allowed_origins.is_empty() {
                "none (same origin only)".to_owned()
            } else {
                site.allowed_origins.join(", ")
            },
            site.current_policy().version,
            versions.join(", "),
            site.languages.join(", "),
            if categories.is_empty() {
                "none".to_owned()
            } else {
                categories.join(", ")
            },
        ));
    }
    out
}

/// `kelisim-collector config check FILE`: 0 valid (with a summary), 1 invalid, 2 unreadable;
/// the error is the one a SIGHUP reload would log.
pub fn check_command(file: &Path) -> ExitCode {
    match Config::load(file) {
        Ok(config) => {
            print!("{}", summary(&config));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kelisim: error: {e}");
            ExitCode::from(match e {
                ConfigError::Read { .. } => 2,
                ConfigError::Syntax { .. } | ConfigError::Invalid { .. } => 1,
            })
        }
    }
}
