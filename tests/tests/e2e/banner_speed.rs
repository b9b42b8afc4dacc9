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

use std::time::Duration;

use anyhow::{Context, Result};
use kelisim_tests::{Apart, Browser, bench, site, wait};
use serde_json::Value;

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
async fn time_to_banner(browser: &Browser, url: &str) -> Result<(f64, f64)> {
    browser.driver.goto(url).await?;
    wait::until(
        &format!("a clickable banner on {url}"),
        Duration::from_secs(15),
        || async {
            let at: Value = browser
                .js(
                    "return window.__bannerAt ? [window.__bannerAt, window.__clickableAt] : null",
                    vec![],
                )
                .await?;
            Ok(at[0].as_f64().zip(at[1].as_f64()))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_to_a_clickable_banner_against_vanilla_cookieconsent() -> Result<()> {
    // Without the package the page could only time out: say what is missing instead.
    let vanilla = site::vanilla_dir();
    anyhow::ensure!(
        vanilla.join("dist/cookieconsent.umd.js").exists(),
        "no vanilla-cookieconsent at {}: run `npm install --no-save --prefix \
         .tools/vanilla-cookieconsent vanilla-cookieconsent@3.1.0` or set KELISIM_TEST_VANILLA",
        vanilla.display()
    );
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
        // One navigation each first: the browser's own start-up is not part of either.
        for (_, url) in &pages {
            time_to_banner(&browser, url).await?;
        }
        let n = navigations();
        let mut visible = [Vec::with_capacity(n), Vec::with_capacity(n)];
        let mut clickable = [Vec::with_capacity(n), Vec::with_capacity(n)];
        for _ in 0..n {
            for (i, (_, url)) in pages.iter().enumerate() {
                let (at, first) = time_to_banner(&browser, url).await?;
                visible[i].push(at);
                clickable[i].push(first);
            }
        }
        let [ours, theirs] = visible.map(|mut v| bench::median(&mut v));
        let [ours_first, theirs_first] = clickable.map(|mut v| bench::median(&mut v));
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
