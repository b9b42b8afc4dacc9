//! Issue 5's benchmark: time from navigation start to a visible, clickable cookie banner in
//! headless Chromium, Kelisim against vanilla-cookieconsent 3.1 (npm) configured with the same
//! categories and texts, measured side by side in one run (navigations alternate, so both see
//! the same machine load). By default a smoke run of a few navigations each checks that the
//! measurement works; `KELISIM_BENCH_BANNER=N` measures N navigations each and prints the
//! medians and their ratio (run with `--nocapture` to see them):
//!
//! ```sh
//! KELISIM_BENCH_BANNER=30 cargo test -p kelisim-tests --test e2e banner_speed -- --nocapture
//! ```
//!
//! Both pages are served by the harness's [`Site`] without a CSP, with `Cache-Control:
//! no-store` (every navigation is a first visit); Kelisim's config comes from the collector on
//! another origin, as in production. "Visible and clickable": the accept button is laid out
//! inside the viewport, `visibility: visible`, at least half opaque (vanilla-cookieconsent fades
//! in), and the topmost element at its centre. A probe injected before any page script checks
//! that on every animation frame and every 4 ms timer tick, and notes `performance.now()`; it
//! also notes when the button was first clickable at any opacity (the start of a fade-in).
//!
//! Issue 19's variant runs the same comparison on an emulated mid-range phone on a mobile
//! network: Chromium's DevTools "Slow 4G" (Lighthouse's throttling: 562.5 ms latency,
//! 1,474.56 kbit/s down, 675 kbit/s up) and a 4× CPU slowdown, set through the DevTools
//! protocol; Kelisim both as the site self-hosts it (uncompressed, like vanilla-cookieconsent
//! here) and from its collector (brotli, README's script tag). `KELISIM_BENCH_BANNER_SLOW=N`
//! measures N navigations each (one by default):
//!
//! ```sh
//! KELISIM_BENCH_BANNER_SLOW=10 cargo test -p kelisim-tests --test e2e banner_speed -- --nocapture
//! ```

use std::time::Duration;

use anyhow::{Context, Result};
use kelisim_tests::{Apart, Browser, bench, site, wait};
use serde_json::{Value, json};
use thirtyfour::extensions::cdp::ChromeDevTools;

/// Runs in every page before its own scripts: records when a banner's accept button first
/// becomes visible and clickable, as milliseconds since navigation start.
const PROBE: &str = "
(() => {
  const ACCEPT = '[data-kelisim-action=accept], #cc-main [data-role=all]';
  const opaque = el => {
    let o = 1;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) o *= +getComputedStyle(e).opacity;
    return o;
  };
  const clickable = () => {
    const b = document.querySelector(ACCEPT);
    if (!b) return null;
    const r = b.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || r.top < 0 || r.left < 0 ||
        r.bottom > innerHeight || r.right > innerWidth) return null;
    if (getComputedStyle(b).visibility !== 'visible') return null;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return hit && (hit === b || b.contains(hit)) ? b : null;
  };
  const check = () => {
    if (window.__bannerAt) return;
    const b = clickable();
    if (b && !window.__clickableAt) window.__clickableAt = performance.now();
    if (b && opaque(b) >= 0.5) { window.__bannerAt = performance.now(); return; }
    requestAnimationFrame(check);
  };
  const tick = () => { if (!window.__bannerAt) { check(); setTimeout(tick, 4); } };
  tick();
})();";

/// Navigations per widget: a smoke run unless `KELISIM_BENCH_BANNER` asks for more.
fn navigations() -> usize {
    bench::rounds("KELISIM_BENCH_BANNER").unwrap_or(3)
}

/// Loads `url` and returns the ms from navigation start to a visible, clickable banner, and to
/// the first moment its button was clickable at any opacity.
async fn time_to_banner(browser: &Browser, url: &str, limit: Duration) -> Result<(f64, f64)> {
    browser.driver.goto(url).await?;
    wait::until(&format!("a clickable banner on {url}"), limit, || async {
        let at: Value = browser
            .js(
                "return window.__bannerAt ? [window.__bannerAt, window.__clickableAt] : null",
                vec![],
            )
            .await?;
        Ok(at[0].as_f64().zip(at[1].as_f64()))
    })
    .await
}

/// Navigates to each of `pages` (name, URL) once, then `n` times alternating, and returns
/// the medians per page: (visible and clickable, clickable at any opacity), in ms.
async fn compare(
    browser: &Browser,
    pages: &[(&str, String)],
    n: usize,
    limit: Duration,
) -> Result<Vec<(f64, f64)>> {
    // One navigation each first: the browser's own start-up is not part of either.
    for (_, url) in pages {
        time_to_banner(browser, url, limit).await?;
    }
    let mut visible = vec![Vec::with_capacity(n); pages.len()];
    let mut clickable = vec![Vec::with_capacity(n); pages.len()];
    for _ in 0..n {
        for (i, (_, url)) in pages.iter().enumerate() {
            let (at, first) = time_to_banner(browser, url, limit).await?;
            visible[i].push(at);
            clickable[i].push(first);
        }
    }
    Ok(visible
        .iter_mut()
        .zip(clickable.iter_mut())
        .map(|(v, c)| (bench::median(v), bench::median(c)))
        .collect())
}

fn vanilla_installed() -> Result<()> {
    // Without the package the page could only time out: say what is missing instead.
    let vanilla = site::vanilla_dir();
    anyhow::ensure!(
        vanilla.join("dist/cookieconsent.umd.js").exists(),
        "no vanilla-cookieconsent at {}: run `npm install --no-save --prefix \
         .tools/vanilla-cookieconsent vanilla-cookieconsent@3.1.0` or set KELISIM_TEST_VANILLA",
        vanilla.display()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_to_a_clickable_banner_on_slow_4g_against_vanilla_cookieconsent() -> Result<()> {
    vanilla_installed()?;
    let apart = Apart::start().await?;
    let site = &apart.site;
    let browser = Browser::start().await?;
    browser
        .run(async |browser| {
            browser.on_every_page(PROBE).await?;
            let cdp = ChromeDevTools::new(browser.driver.handle.clone());
            cdp.execute_cdp("Network.enable").await?;
            // Lighthouse's "Slow 4G" as DevTools applies it: 150 ms RTT × 3.75 latency,
            // 1.6 Mbit/s × 0.9 down, 750 kbit/s × 0.9 up (bytes per second here).
            cdp.execute_cdp_with_params(
                "Network.emulateNetworkConditions",
                json!({
                    "offline": false,
                    "latency": 562.5,
                    "downloadThroughput": 1474.56 * 1024.0 / 8.0,
                    "uploadThroughput": 675.0 * 1024.0 / 8.0,
                }),
            )
            .await?;
            cdp.execute_cdp_with_params("Emulation.setCPUThrottlingRate", json!({ "rate": 4 }))
                .await?;
            let pages = [
                (
                    "Kelisim (self-hosted)",
                    format!("{}/open/bench-kelisim.html", site.url),
                ),
                (
                    "Kelisim (from its collector, brotli)",
                    format!("{}/open/bench-kelisim-collector.html", site.url),
                ),
                (
                    "vanilla-cookieconsent 3.1",
                    format!("{}/open/bench-vanilla.html", site.url),
                ),
            ];
            let n = bench::rounds("KELISIM_BENCH_BANNER_SLOW").unwrap_or(1);
            let medians = compare(browser, &pages, n, Duration::from_secs(60)).await?;
            let line: Vec<String> = pages
                .iter()
                .zip(&medians)
                .map(|((name, _), (at, first))| {
                    format!("{name} {at:.0} (clickable at any opacity {first:.0})")
                })
                .collect();
            let theirs = medians[2].0;
            eprintln!(
                "banner benchmark on slow 4G with 4x CPU slowdown, {n} navigations each, median \
                 ms to a visible, clickable banner: {}; ratios to vanilla-cookieconsent: {:.2}, \
                 {:.2}",
                line.join(", "),
                medians[0].0 / theirs,
                medians[1].0 / theirs
            );
            anyhow::ensure!(
                medians.iter().all(|(at, _)| *at > 0.0),
                "every banner was timed"
            );
            Ok(())
        })
        .await
        .context("the throttled banner benchmark")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_to_a_clickable_banner_against_vanilla_cookieconsent() -> Result<()> {
    vanilla_installed()?;
    let apart = Apart::start().await?;
    let site = &apart.site;
    let browser = Browser::start().await?;
    let result = async {
        browser.on_every_page(PROBE).await?;
        let pages = [
            ("Kelisim", format!("{}/open/bench-kelisim.html", site.url)),
            (
                "vanilla-cookieconsent 3.1",
                format!("{}/open/bench-vanilla.html", site.url),
            ),
        ];
        let n = navigations();
        let medians = compare(&browser, &pages, n, Duration::from_secs(15)).await?;
        let [(ours, ours_first), (theirs, theirs_first)] = [medians[0], medians[1]];
        eprintln!(
            "banner benchmark, {n} navigations each, median ms from navigation start to a \
             visible, clickable banner: {} {ours:.1}, {} {theirs:.1}, ratio {:.2} \
             (clickable at any opacity: {ours_first:.1} and {theirs_first:.1})",
            pages[0].0,
            pages[1].0,
            ours / theirs
        );
        anyhow::ensure!(ours > 0.0 && theirs > 0.0, "both banners were timed");
        Ok::<_, anyhow::Error>(())
    }
    .await;
    browser.quit().await?;
    result.context("the banner benchmark")
}
