//! Issue 19's page-weight benchmark: the bytes a page view makes the browser fetch for the
//! widget, and the time to the widget being ready, in four cases: (a) first visit, page with a
//! form; (b) first visit, page without a form; (c) returning visitor (a stored cookie choice),
//! page without a form; (d) returning visitor, page with a form.
//!
//! Bytes are what Chromium's DevTools protocol reports on the wire (`Network.loadingFinished`'s
//! `encodedDataLength`: body as compressed, plus response headers; `Network.responseReceived`'s
//! for a response that never finished loading) for every request to the
//! collector, which serves the widget's files and the site config (README's script tag), with
//! the HTTP cache disabled (`Network.setCacheDisabled`), so every page view fetches everything
//! it needs; what the widget keeps in its own storage (the cookie choice, the outbox) stays.
//! "Ready": `<html data-kelisim="ready">`, noted by a probe injected before the page's
//! scripts, as ms since navigation start. By default a smoke run of one view per case checks
//! that every number is produced; `KELISIM_BENCH_WEIGHT=N` measures N views per case and
//! prints medians (run with `--nocapture`):
//!
//! ```sh
//! KELISIM_BENCH_WEIGHT=10 cargo test -p kelisim-tests --test e2e page_weight -- --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result};
use kelisim_tests::{Apart, Browser, bench, wait};
use serde_json::{Value, json};
use thirtyfour::extensions::cdp::ChromeDevTools;

/// Notes when the widget says it is ready (or fell back), in ms since navigation start.
const PROBE: &str = "
(() => {
  const note = () => {
    const state = document.documentElement && document.documentElement.dataset.kelisim;
    if ((state === 'ready' || state === 'fallback') && !window.__readyAt) {
      window.__readyAt = performance.now();
      window.__state = state;
    }
  };
  // The document has no root element yet when this runs: watch the whole document.
  new MutationObserver(note).observe(document, {
    attributes: true, subtree: true, attributeFilter: ['data-kelisim']
  });
})();";

/// Issue 19's targets per case (bytes), for the report: (a) and (c); (b) and (d) have none.
const TARGETS: [Option<u64>; 4] = [Some(30_000), None, Some(5_000), None];

/// The most each case may weigh (bytes): what was measured once the config travels compressed
/// and a returning visitor's page revalidates the kept one (a 304), and the floating control's
/// stylesheet came apart (BENCHMARKS.md, issue 19), then the loader's integration-health
/// reports (issue 18, +1,029 bytes) and the optional purposes' boxes (issue 18, G12: +1,095
/// bytes, nearly all wasm), with 2% room for header noise. A change
/// that makes a page view heavier fails here, and must raise this with its measured cost
/// recorded in BENCHMARKS.md.
const CEILINGS: [u64; 4] = [45_290, 45_290, 8_280, 42_930];

/// What one page view fetched from the collector.
#[derive(Debug, Default)]
struct View {
    /// Bytes on the wire per path (headers included).
    bytes: BTreeMap<String, u64>,
    /// Content-Encoding per path (`identity` when none).
    encodings: BTreeMap<String, String>,
    ready_ms: f64,
}

impl View {
    fn total(&self) -> u64 {
        self.bytes.values().sum()
    }
}

fn views() -> usize {
    bench::rounds("KELISIM_BENCH_WEIGHT").unwrap_or(1)
}

/// Loads `url`, waits for the widget to be ready and its requests to settle, and returns what
/// the view fetched from `collector`.
async fn view(browser: &Browser, url: &str, collector: &str) -> Result<View> {
    browser.network_events().await?; // what came before is not this view's
    browser.driver.goto(url).await?;
    let (ready_ms, state) = wait::until(
        &format!("the widget ready on {url}"),
        Duration::from_secs(20),
        || async {
            let at: Value = browser
                .js(
                    "return window.__readyAt ? [window.__readyAt, window.__state] : null",
                    vec![],
                )
                .await?;
            Ok(at[0]
                .as_f64()
                .map(|ms| (ms, at[1].as_str().unwrap_or("").to_owned())))
        },
    )
    .await?;
    anyhow::ensure!(state == "ready", "the widget fell back on {url}");
    // Requests the widget makes once ready (a queued receipt) finish within this.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut urls = BTreeMap::new();
    let mut received = BTreeMap::new();
    let mut finished = BTreeSet::new();
    let mut view = View {
        ready_ms,
        ..View::default()
    };
    for event in browser.network_events().await? {
        let params = &event["params"];
        let id = params["requestId"].as_str().unwrap_or("").to_owned();
        match event["method"].as_str() {
            Some("Network.requestWillBeSent") => {
                urls.insert(
                    id,
                    params["request"]["url"].as_str().unwrap_or("").to_owned(),
                );
            }
            Some("Network.responseReceived") => {
                // A response whose body is never read to its end (a 304 the page drops) ends
                // in `loadingFailed`, not `loadingFinished`: its headers came all the same.
                let bytes = params["response"]["encodedDataLength"].as_f64();
                received.insert(id.clone(), bytes.unwrap_or(0.0) as u64);
                let headers = &params["response"]["headers"];
                let encoding = ["content-encoding", "Content-Encoding"]
                    .iter()
                    .find_map(|h| headers[h].as_str())
                    .unwrap_or("identity");
                if let Some(path) = path_of(params["response"]["url"].as_str(), collector) {
                    view.encodings.insert(path, encoding.to_owned());
                }
            }
            Some("Network.loadingFinished") => {
                finished.insert(id.clone());
                if let Some(path) = path_of(urls.get(&id).map(String::as_str), collector) {
                    let bytes = params["encodedDataLength"].as_f64().unwrap_or(0.0) as u64;
                    *view.bytes.entry(path).or_default() += bytes;
                }
            }
            _ => {}
        }
    }
    for (id, bytes) in received {
        if finished.contains(&id) {
            continue;
        }
        if let Some(path) = path_of(urls.get(&id).map(String::as_str), collector) {
            *view.bytes.entry(path).or_default() += bytes;
        }
    }
    anyhow::ensure!(
        view.bytes.keys().any(|p| p.starts_with("/kelisim.js")),
        "no loader among the requests of {url}: {:?}",
        view.bytes
    );
    Ok(view)
}

/// The path (and query) of `url` when it is the collector's; hashed widget names collapse to
/// their kind (`kelisim.<hash>.wasm` → `kelisim.*.wasm`) so views can be compared.
fn path_of(url: Option<&str>, collector: &str) -> Option<String> {
    let path = url?.strip_prefix(collector)?;
    let path = path.split('?').next().unwrap_or(path);
    let mut parts: Vec<&str> = path.split('.').collect();
    if parts.len() == 3 && parts[0] == "/kelisim" {
        parts[1] = "*";
    }
    Some(parts.join("."))
}

fn report(name: &str, views: &mut [View]) -> (f64, f64) {
    let mut totals: Vec<f64> = views.iter().map(|v| v.total() as f64).collect();
    let mut ready: Vec<f64> = views.iter().map(|v| v.ready_ms).collect();
    let (bytes, ms) = (bench::median(&mut totals), bench::median(&mut ready));
    let last = views.last().expect("at least one view");
    let files: Vec<String> = last
        .bytes
        .iter()
        .map(|(p, b)| {
            format!(
                "{p} {b} ({})",
                last.encodings.get(p).map_or("?", String::as_str)
            )
        })
        .collect();
    eprintln!(
        "page weight ({}): {name}: {bytes:.0} bytes, ready at {ms:.1} ms; {}",
        views.len(),
        files.join(", ")
    );
    (bytes, ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_weight_of_the_four_cases() -> Result<()> {
    let apart = Apart::start().await?;
    let collector = apart.collector()?.url.clone();
    let form = format!("{}/open/weight-form.html", apart.site.url);
    let plain = format!("{}/open/weight-plain.html", apart.site.url);
    let browser = Browser::start_recording_network().await?;
    browser
        .run(async |browser| {
            browser.on_every_page(PROBE).await?;
            let cdp = ChromeDevTools::new(browser.driver.handle.clone());
            cdp.execute_cdp("Network.enable").await?;
            cdp.execute_cdp_with_params(
                "Network.setCacheDisabled",
                json!({ "cacheDisabled": true }),
            )
            .await?;
            let forget = async || -> Result<()> {
                cdp.execute_cdp("Network.clearBrowserCookies").await?;
                browser
                    .js("localStorage.clear(); sessionStorage.clear();", vec![])
                    .await?;
                Ok(())
            };
            let n = views();
            let mut cases: [Vec<View>; 4] = Default::default();
            // One view first: the browser's own start-up is not part of any case.
            view(browser, &plain, &collector).await?;
            for _ in 0..n {
                // (a) and (b): nothing stored.
                forget().await?;
                cases[0].push(view(browser, &form, &collector).await?);
                forget().await?;
                cases[1].push(view(browser, &plain, &collector).await?);
                // The visitor answers the banner; its receipt goes out from this page.
                browser
                    .driver
                    .find(thirtyfour::By::Css("[data-kelisim-action=accept]"))
                    .await?
                    .click()
                    .await?;
                wait::until(
                    "the receipt of the choice sent",
                    Duration::from_secs(10),
                    || async {
                        let left = browser
                            .js("return localStorage.getItem('kelisim:queue')", vec![])
                            .await?;
                        let cookie = browser.js("return document.cookie", vec![]).await?;
                        let sent = left.is_null() || left == "[]";
                        Ok((sent
                            && cookie
                                .as_str()
                                .is_some_and(|c| c.contains("kelisim_cookies=")))
                        .then_some(()))
                    },
                )
                .await?;
                // (c) and (d): a returning visitor with a stored choice.
                cases[2].push(view(browser, &plain, &collector).await?);
                cases[3].push(view(browser, &form, &collector).await?);
            }
            let names = [
                "(a) first visit, page with a form",
                "(b) first visit, page without a form",
                "(c) returning visitor, page without a form",
                "(d) returning visitor, page with a form",
            ];
            for (((name, views), target), ceiling) in names
                .iter()
                .zip(cases.iter_mut())
                .zip(TARGETS)
                .zip(CEILINGS)
            {
                let (bytes, ms) = report(name, views);
                anyhow::ensure!(bytes > 0.0 && ms > 0.0, "{name}: nothing measured");
                if let Some(target) = target {
                    let met = if bytes <= target as f64 {
                        "met"
                    } else {
                        "not met"
                    };
                    eprintln!("page weight: {name}: issue 19's target {target} bytes: {met}");
                }
                anyhow::ensure!(
                    bytes <= ceiling as f64,
                    "{name}: {bytes} bytes, over the {ceiling} this page view may weigh"
                );
            }
            // (c) needs only the stored choice applied: neither glue nor wasm is fetched.
            for view in &cases[2] {
                anyhow::ensure!(
                    !view.bytes.keys().any(|p| p.ends_with(".wasm")),
                    "(c) fetched the wasm: {:?}",
                    view.bytes
                );
            }
            // The config travels compressed, and a returning visitor's page only asks whether
            // the kept one is current (a 304: headers, no body).
            const CONFIG: &str = "/v1/sites/demo/config";
            for view in cases[0].iter().chain(&cases[1]) {
                anyhow::ensure!(
                    view.encodings.get(CONFIG).is_some_and(|e| e == "br"),
                    "a first visit's config not brotli: {:?}",
                    view.encodings
                );
            }
            for view in cases[2].iter().chain(&cases[3]) {
                anyhow::ensure!(
                    view.bytes.get(CONFIG).is_some_and(|b| *b < 600),
                    "a returning visitor's config not revalidated (304): {:?}",
                    view.bytes
                );
            }
            // (c) follows the page where the visitor chose: a choice made in this browsing
            // session is not asked about at the collector (the first page of a later session
            // asks once).
            for view in &cases[2] {
                anyhow::ensure!(
                    !view.bytes.keys().any(|p| p.ends_with("/status")),
                    "(c) asked about the choice made in this session: {:?}",
                    view.bytes
                );
            }
            // The returning visitor's views were views without the banner.
            let shown = browser
                .js(
                    "return !!document.querySelector('[data-kelisim-action=accept]')",
                    vec![],
                )
                .await?;
            anyhow::ensure!(shown == false, "a returning visitor was shown the banner");
            Ok(())
        })
        .await
        .context("the page-weight benchmark")
}
