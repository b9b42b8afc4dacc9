//! A website of its own, on another origin than the collector (as in production): it serves
//! `tests/fixtures/site/` (with `{{COLLECTOR}}` and `{{NONCE}}` filled in) under a strict
//! Content-Security-Policy, self-hosts the built widget under `/widget/` (a test can hold back
//! the wasm to catch the moment before the widget has loaded), and records what `POST /feedback`
//! receives, so a test sees exactly what the operator gets. It stays up while the collector is
//! stopped.
//!
//! The CSP depends on the path: pages under `/open/` get none (inline scripts allowed), pages
//! under `/nonce/` allow scripts carrying the page's nonce, pages under `/embed/` may be framed
//! by the site itself, and `/sealed/PAGE` is the fixture PAGE allowed to connect to the
//! collector alone (and fetch the self-hosted widget's files). `?delay=MS` holds any answer that long (a slow script). Every request's
//! path is logged, so a test can tell that a gated script or frame was never even fetched.
//! `/vanilla/` serves vanilla-cookieconsent's npm package (the banner benchmark's reference).
//!
//! For the stacks a site runs (issue 12): `/npm/stacks/` serves the pinned npm packages of
//! jQuery, jquery-validation, React, react-hook-form, Vue and htmx, and `POST /api/lead`
//! records what a site's own script sends (fetch, `$.ajax`, htmx) instead of a form submission.
//!
//! For the analytics shield (issue 6): `/npm/rrweb/` and `/npm/posthog-js/` serve those npm
//! packages, and `/demo/PAGE` serves the real demo site's page as a site running them would:
//! the widget self-hosted and naming the collector, `recorders/head.html` (rrweb and PostHog,
//! sending to the test's [`crate::Capture`], named by `{{CAPTURE}}`) added to its head, and
//! the demo's `/assets/`. The capture endpoint is allowed in every page's `connect-src`.
//!
//! [`Apart`] is the usual setup of a test on such a site: the site plus a collector serving
//! [`write_config`]'s config for it, which the test may stop and restart.
//!
//! A minimal HTTP/1.1 server on tokio (the harness's `http` module): one request per
//! connection, enough for a browser.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::collector::Collector;
use crate::http::{Server, lock, read_request, respond};
use crate::root;

/// One request to the site's lead endpoint, as a site's script sent it.
#[derive(Debug, Clone)]
pub struct Lead {
    pub content_type: String,
    /// The body, as text (form-encoded bodies decoded).
    pub body: String,
}

/// One form submission as the site received it.
#[derive(Debug, Clone)]
pub struct Submission {
    pub fields: Vec<(String, String)>,
    pub at: Instant,
}

impl Submission {
    /// The first value of field `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    collector: Mutex<String>,
    /// The capture endpoint pages may send to (empty: none).
    capture: Mutex<String>,
    submissions: Mutex<Vec<Submission>>,
    /// What `POST /api/lead` received: the site's own scripts sending a form (fetch, XHR).
    leads: Mutex<Vec<Lead>>,
    /// Every request's method and target, in order.
    requests: Mutex<Vec<String>>,
    /// `true` while requests for the widget's wasm are held.
    hold_wasm: watch::Sender<bool>,
    fixtures: PathBuf,
    widget: PathBuf,
}

pub struct Site {
    pub url: String,
    state: Arc<State>,
    _server: Server,
}

impl Site {
    /// Starts the site on a free loopback port.
    pub async fn start() -> Result<Self> {
        let state = Arc::new(State {
            collector: Mutex::new(String::new()),
            capture: Mutex::new(String::new()),
            submissions: Mutex::new(Vec::new()),
            leads: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            hold_wasm: watch::channel(false).0,
            fixtures: root().join("tests/fixtures/site"),
            widget: Collector::widget_dir()?,
        });
        let shared = Arc::clone(&state);
        let server = Server::start(move |stream| {
            let state = Arc::clone(&shared);
            async move { serve(stream, &state).await }
        })
        .await?;
        Ok(Self {
            url: server.url.clone(),
            state,
            _server: server,
        })
    }

    /// The collector the pages' script tags name (`data-collector`).
    pub fn set_collector(&self, url: &str) {
        *lock(&self.state.collector) = url.to_owned();
    }

    /// The capture endpoint (`{{CAPTURE}}` in fixtures; allowed in `connect-src`).
    pub fn set_capture(&self, url: &str) {
        *lock(&self.state.capture) = url.to_owned();
    }

    /// Holds (true) or releases (false) every request for the widget's wasm.
    pub fn hold_wasm(&self, hold: bool) {
        self.state.hold_wasm.send_replace(hold);
    }

    /// The paths (with query) of every GET so far.
    pub fn requested(&self) -> Vec<String> {
        lock(&self.state.requests).clone()
    }

    /// Whether any GET so far asked for a path starting with `prefix`.
    pub fn was_requested(&self, prefix: &str) -> bool {
        self.requested().iter().any(|r| r.starts_with(prefix))
    }

    /// Everything `POST /feedback` received so far.
    pub fn submissions(&self) -> Vec<Submission> {
        lock(&self.state.submissions).clone()
    }

    /// Everything `POST /api/lead` received so far.
    pub fn leads(&self) -> Vec<Lead> {
        lock(&self.state.leads).clone()
    }

    /// Waits (bounded) until `POST /api/lead` has received `count` requests.
    pub async fn lead(&self, count: usize) -> Result<Lead> {
        crate::wait::until(
            "the site's script to send the lead",
            Duration::from_secs(10),
            || async { Ok(self.leads().get(count - 1).cloned()) },
        )
        .await
    }

    /// Waits (bounded) until `POST /feedback` has received `count` submissions.
    pub async fn submission(&self, count: usize) -> Result<Submission> {
        crate::wait::until(
            "the site to receive the form",
            Duration::from_secs(10),
            || async { Ok(self.submissions().get(count - 1).cloned()) },
        )
        .await
    }
}

async fn serve(mut stream: TcpStream, state: &State) -> Result<()> {
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let (method, target, path) = (request.method.as_str(), &request.target, request.path());
    if method == "GET" {
        lock(&state.requests).push(target.clone());
    }
    if let Some(ms) = target
        .split_once('?')
        .and_then(|(_, query)| query.split('&').find_map(|p| p.strip_prefix("delay=")))
        .and_then(|ms| ms.parse().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let collector = lock(&state.collector).clone();
    let capture = lock(&state.capture).clone();
    let fill = |text: String| {
        text.replace("{{COLLECTOR}}", &collector)
            .replace("{{CAPTURE}}", &capture)
            .replace("{{NONCE}}", NONCE)
    };
    let (status, kind, bytes) = match (method, path) {
        ("POST", "/api/lead") => {
            let content_type = request.header("content-type").unwrap_or("").to_owned();
            let raw = String::from_utf8_lossy(&request.body).into_owned();
            let body = if content_type.starts_with("application/x-www-form-urlencoded") {
                parse_form(&raw)
                    .into_iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join("&")
            } else {
                raw
            };
            lock(&state.leads).push(Lead { content_type, body });
            (
                "200 OK",
                "text/html; charset=utf-8",
                "<p id=\"lead-ok\">Спасибо, мы перезвоним</p>"
                    .as_bytes()
                    .to_vec(),
            )
        }
        ("POST", "/feedback") => {
            let fields = parse_form(&String::from_utf8_lossy(&request.body));
            let reference = fields
                .iter()
                .find(|(n, _)| n == "kelisim_receipt")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            lock(&state.submissions).push(Submission {
                fields,
                at: Instant::now(),
            });
            let page = format!(
                "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\">\
                 <title>Спасибо</title></head><body><h1 id=\"thanks\">Спасибо!</h1>\
                 <p>Квитанция: <code id=\"receipt-ref\">{reference}</code></p></body></html>"
            );
            ("200 OK", "text/html; charset=utf-8", page.into_bytes())
        }
        ("GET", path) if path.starts_with("/vanilla/") => {
            serve_file(&vanilla_dir(), &path["/vanilla/".len()..])
        }
        ("GET", path) if path.starts_with("/npm/rrweb/") => {
            serve_file(&rrweb_dir(), &path["/npm/rrweb/".len()..])
        }
        ("GET", path) if path.starts_with("/npm/stacks/") => {
            serve_file(&stacks_dir(), &path["/npm/stacks/".len()..])
        }
        ("GET", path) if path.starts_with("/npm/posthog-js/") => {
            serve_file(&posthog_dir(), &path["/npm/posthog-js/".len()..])
        }
        ("GET", path) if path.starts_with("/assets/") => {
            serve_file(&root().join("demo/assets"), &path["/assets/".len()..])
        }
        ("GET", path) if path.starts_with("/demo/") => {
            let page = safe_name(&path["/demo/".len()..])
                .and_then(|n| std::fs::read_to_string(root().join("demo").join(n)).ok());
            let head = std::fs::read_to_string(state.fixtures.join("recorders/head.html"));
            match (page, head) {
                (Some(page), Ok(head)) => match with_recorders(&page, &head) {
                    Some(page) => ("200 OK", content_type(path), fill(page).into_bytes()),
                    None => (
                        "500 Internal Server Error",
                        "text/plain",
                        b"the demo page has no widget script tag to replace".to_vec(),
                    ),
                },
                _ => not_found(),
            }
        }
        ("GET", path) if path.starts_with("/widget/") => {
            let name = &path["/widget/".len()..];
            if name.ends_with(".wasm") {
                let mut held = state.hold_wasm.subscribe();
                let _ = held.wait_for(|hold| !*hold).await;
            }
            match safe_name(name).and_then(|n| std::fs::read(state.widget.join(n)).ok()) {
                Some(bytes) => ("200 OK", content_type(name), bytes),
                None => not_found(),
            }
        }
        ("GET", path) => {
            let name = if path == "/" {
                "index.html"
            } else {
                // `/sealed/PAGE` is PAGE under a CSP that lets it connect to the collector only.
                path.strip_prefix("/sealed/").unwrap_or(&path[1..])
            };
            match safe_name(name).and_then(|n| std::fs::read_to_string(state.fixtures.join(n)).ok())
            {
                Some(text) => ("200 OK", content_type(name), fill(text).into_bytes()),
                None => not_found(),
            }
        }
        _ => ("405 Method Not Allowed", "text/plain", b"method".to_vec()),
    };
    // The widget's own files, which a page fetches (the wasm) from its own origin.
    let widget = stream
        .local_addr()
        .map(|a| format!("http://{a}/widget/"))
        .unwrap_or_default();
    let csp = csp(path, &collector, &capture, &widget);
    respond(&mut stream, status, kind, &csp, &bytes).await
}

/// vanilla-cookieconsent's npm package (`KELISIM_TEST_VANILLA`), served under `/vanilla/`.
pub fn vanilla_dir() -> PathBuf {
    crate::env_path(
        "KELISIM_TEST_VANILLA",
        ".tools/vanilla-cookieconsent/node_modules/vanilla-cookieconsent",
    )
}

/// rrweb's npm package (`KELISIM_TEST_RRWEB`), served under `/npm/rrweb/`.
pub fn rrweb_dir() -> PathBuf {
    crate::env_path("KELISIM_TEST_RRWEB", ".tools/rrweb/node_modules/rrweb")
}

/// posthog-js's npm package (`KELISIM_TEST_POSTHOG`), served under `/npm/posthog-js/`.
pub fn posthog_dir() -> PathBuf {
    crate::env_path(
        "KELISIM_TEST_POSTHOG",
        ".tools/posthog-js/node_modules/posthog-js",
    )
}

/// The web libraries of the stacks the widget must survive (`KELISIM_TEST_STACKS`): their npm
/// packages' `node_modules`, served under `/npm/stacks/` (jQuery, jquery-validation, React,
/// react-hook-form, Vue, htmx 1 and 2; `cargo xtask test` installs them, pinned).
pub fn stacks_dir() -> PathBuf {
    crate::env_path("KELISIM_TEST_STACKS", ".tools/stacks/node_modules")
}

/// A file below `dir`, or 404.
fn serve_file(dir: &std::path::Path, name: &str) -> (&'static str, &'static str, Vec<u8>) {
    match safe_name(name).and_then(|n| std::fs::read(dir.join(n)).ok()) {
        Some(bytes) => ("200 OK", content_type(name), bytes),
        None => not_found(),
    }
}

/// The demo's widget tag, as every demo page has it.
const DEMO_WIDGET_TAG: &str = r#"<script src="/kelisim.js" data-site="demo" defer></script>"#;

/// A demo page as a site of its own hosts it: the widget from `/widget/`, naming the collector,
/// and `head` (the recorders) right after it. `None` if the page has no widget tag.
fn with_recorders(page: &str, head: &str) -> Option<String> {
    page.contains(DEMO_WIDGET_TAG).then(|| {
        page.replacen(
            DEMO_WIDGET_TAG,
            &format!(
                "<script src=\"/widget/kelisim.js\" data-site=\"demo\" \
                 data-collector=\"{{{{COLLECTOR}}}}\" defer></script>\n{}",
                head.trim_end()
            ),
            1,
        )
    })
}

/// The nonce of the `/nonce/` pages' CSP (a fixed value: the tests check the mechanism).
pub const NONCE: &str = "a2VsaXNpbS10ZXN0LW5vbmNl";

/// The `Content-Security-Policy` header line for `path` (see the module doc): pages may send
/// to their own origin, the collector and the capture endpoint, `/sealed/` pages to the
/// collector alone, besides fetching the self-hosted `widget` files (so a violation report
/// names anything else the widget reached for).
fn csp(path: &str, collector: &str, capture: &str, widget: &str) -> String {
    if path.starts_with("/open/") {
        return String::new();
    }
    let connect = if path.starts_with("/sealed/") {
        format!("{collector} {widget}")
    } else {
        format!("'self' {collector} {capture}")
    };
    let nonce = if path.starts_with("/nonce/") {
        format!(" 'nonce-{NONCE}'")
    } else {
        String::new()
    };
    let ancestors = if path.starts_with("/embed/") {
        "'self'"
    } else {
        "'none'"
    };
    format!(
        "Content-Security-Policy: default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src {connect}; \
         base-uri 'self'; form-action 'self'; frame-ancestors {ancestors}\r\n"
    )
}

fn not_found() -> (&'static str, &'static str, Vec<u8>) {
    ("404 Not Found", "text/plain", b"not found".to_vec())
}

/// A file name below the served directory: no `..`, no absolute paths.
fn safe_name(name: &str) -> Option<&str> {
    (!name.is_empty() && !name.starts_with('/') && !name.split('/').any(|p| p == ".."))
        .then_some(name)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "cjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// `application/x-www-form-urlencoded` into (name, value) pairs.
fn parse_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some((hi, lo))) => {
                // Two hex digits: at most 0xff.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes the collector config for this site into `dir`: `tests/fixtures/site/kelisim.toml`
/// with the site's origin and the current policy version filled in. Returns its path.
pub fn write_config(dir: &std::path::Path, site_origin: &str, policy: &str) -> Result<PathBuf> {
    let template = std::fs::read_to_string(root().join("tests/fixtures/site/kelisim.toml"))
        .context("tests/fixtures/site/kelisim.toml")?;
    let text = template
        .replace("{{ORIGIN}}", site_origin)
        .replace("{{POLICY}}", policy)
        .replace("{{ROOT}}", &root().to_string_lossy());
    let path = dir.join("kelisim.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The policy version [`Apart::start`] serves (the fixtures' current one).
pub const POLICY: &str = "2026-03";

/// A [`Site`] and, on another origin as in production, a collector serving the config
/// [`write_config`] wrote for it. The collector can be stopped and restarted on the same port
/// and data dir (an outage, a new policy version) while the site stays up.
pub struct Apart {
    pub site: Site,
    collector: Option<Collector>,
    config_dir: tempfile::TempDir,
}

impl Apart {
    /// Starts the site, then a collector for it serving [`POLICY`], and points the site's pages
    /// at the collector.
    pub async fn start() -> Result<Self> {
        let site = Site::start().await?;
        let config_dir = tempfile::tempdir()?;
        let config = write_config(config_dir.path(), &site.url, POLICY)?;
        let collector = Collector::serve(&config, Collector::data_dir_for_a_test()?, 0).await?;
        site.set_collector(&collector.url);
        Ok(Self {
            site,
            collector: Some(collector),
            config_dir,
        })
    }

    /// The collector, unless it is stopped.
    pub fn collector(&self) -> Result<&Collector> {
        self.collector.as_ref().context("the collector is stopped")
    }

    /// Stops the collector (SIGTERM); returns its data dir and port for
    /// [`Apart::restart_collector`].
    pub async fn stop_collector(&mut self) -> Result<(tempfile::TempDir, u16)> {
        let collector = self.collector.take().context("already stopped")?;
        let port = collector.port()?;
        Ok((collector.stop().await?, port))
    }

    /// Restarts the collector on `port` with `data`, serving `policy` as the current version.
    pub async fn restart_collector(
        &mut self,
        data: tempfile::TempDir,
        port: u16,
        policy: &str,
    ) -> Result<()> {
        let config = write_config(self.config_dir.path(), &self.site.url, policy)?;
        self.collector = Some(Collector::serve(&config, data, port).await?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode() {
        assert_eq!(
            parse_form("name=%D0%90%D0%B9+%D0%B3&kelisim_consent=yes&x=&y"),
            [
                ("name".to_owned(), "Ай г".to_owned()),
                ("kelisim_consent".to_owned(), "yes".to_owned()),
                ("x".to_owned(), String::new()),
                ("y".to_owned(), String::new()),
            ]
        );
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
    }

    #[test]
    fn the_csp_follows_the_path() {
        assert_eq!(csp("/open/inline.html", "http://c", "", ""), "");
        let strict = csp(
            "/cookies.html",
            "http://c",
            "http://cap",
            "http://s/widget/",
        );
        assert!(
            strict.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{strict}"
        );
        assert!(strict.contains("frame-ancestors 'none'"), "{strict}");
        assert!(
            strict.contains("connect-src 'self' http://c http://cap;"),
            "{strict}"
        );
        let sealed = csp(
            "/sealed/contact.html",
            "http://c",
            "http://cap",
            "http://s/widget/",
        );
        assert!(
            sealed.contains("connect-src http://c http://s/widget/;"),
            "{sealed}"
        );
        assert!(
            csp("/nonce/inline.html", "http://c", "", "").contains(&format!("'nonce-{NONCE}'"))
        );
        assert!(csp("/embed/frame.html", "http://c", "", "").contains("frame-ancestors 'self'"));
    }

    #[test]
    fn demo_pages_get_the_self_hosted_widget_and_the_recorders() {
        let page = format!("<head>\n{DEMO_WIDGET_TAG}\n</head>");
        let served = with_recorders(&page, "<script src=\"/r.js\"></script>\n").expect("a tag");
        assert_eq!(
            served,
            "<head>\n<script src=\"/widget/kelisim.js\" data-site=\"demo\" \
             data-collector=\"{{COLLECTOR}}\" defer></script>\n<script src=\"/r.js\"></script>\n</head>"
        );
        assert_eq!(with_recorders("<head></head>", "x"), None);
    }

    #[test]
    fn names_cannot_leave_the_directory() {
        assert_eq!(safe_name("a/b.js"), Some("a/b.js"));
        assert_eq!(safe_name("../x"), None);
        assert_eq!(safe_name("/etc/passwd"), None);
        assert_eq!(safe_name(""), None);
    }
}
