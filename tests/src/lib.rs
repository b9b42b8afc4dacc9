//! End-to-end harness: a real `kelisim-collector` process and a real headless Chromium, on loopback.
//!
//! Tests get a [`Collector`] (the release or debug binary, in demo mode or serving a test
//! config, on a free port with a temporary data directory, restartable on the same port), a
//! [`Browser`] (chromedriver + Debian's Chromium with a fresh profile) and, when the site must
//! live apart from the collector, a [`Site`] (a small web server of the test's own; [`Apart`]:
//! one with its collector), and for real recorders and trackers a [`Capture`] endpoint that
//! keeps what they send, and [`proxy::Nginx`] for TLS in front of a collector as operators
//! deploy it. All are stopped when dropped, so a failing test leaves no process
//! behind. The benchmarks' shared arithmetic is in [`bench`].

pub mod axe;
pub mod bench;
mod browser;
pub mod capture;
mod collector;
mod http;
pub mod jose;
pub mod proxy;
pub mod site;
pub mod wait;

pub use browser::Browser;
pub use capture::Capture;
pub use collector::{Collector, files_under};
pub use site::{Apart, Site};

use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_path_buf()
}

/// A path from an environment variable set by `cargo xtask test`, or a default below the root.
pub fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(default))
}
