//! Issue 6's benchmark: calls per second of `dataLayer.push` wrapped by the analytics shield
//! against the same push unwrapped (a plain array the widget does not wrap), in headless
//! Chromium, measured in the same run: each round times both, one right after the other,
//! alternating which goes first. The payloads are Tag Manager events, half of them carrying a
//! value the visitor typed (so the shield redacts something); measured twice: with events
//! that repeat (as a page's events mostly do) and with a value never seen before in every
//! other event, which the loader's answers cache cannot help with. Each side of a round pushes for
//! a fixed time (or at most a fixed count), so even the fast side spans many clock ticks. By
//! default a smoke run of a few short rounds checks that the measurement works;
//! `KELISIM_BENCH_SHIELD=N` measures N rounds of 500 ms per side (at most 20 million calls)
//! and prints the medians and their ratio, which is what `cargo xtask bench-shield` runs:
//!
//! ```sh
//! KELISIM_BENCH_SHIELD=10 cargo test -p kelisim-tests --test e2e shield_speed -- --nocapture
//! ```
//!
//! The page (`tests/fixtures/site/shield/bench.html`) is served by the harness's [`Site`]
//! with the collector apart, as in production; the pushes run in `shield/bench.js`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use kelisim_tests::{Apart, Browser, bench};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

/// What the visitor typed: the value the shield must find in every other event.
const NAME: &str = "Әлия Құрманғазықызы";

/// (rounds, ms per side and round, most calls per side and round).
fn plan() -> (usize, u64, u64) {
    match bench::rounds("KELISIM_BENCH_SHIELD") {
        Some(rounds) => (rounds, 500, 20_000_000),
        None => (3, 50, 1_000_000),
    }
}

/// µs per call of one side of a round (`{calls, ms}`).
fn micros(side: &Value) -> Result<f64> {
    let calls = side["calls"].as_f64().context("calls")?;
    let ms = side["ms"].as_f64().context("ms")?;
    ensure!(calls > 0.0, "a round made no calls: {side}");
    Ok(ms * 1000.0 / calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapped_data_layer_push_against_the_unwrapped_one() -> Result<()> {
    let apart = Apart::start().await?;
    let site = &apart.site;
    let browser = Browser::start().await?;
    let (rounds, ms, most) = plan();
    browser
        .run(async |browser| {
            browser
                .driver
                .goto(format!("{}/shield/bench.html", site.url))
                .await?;
            browser.widget_state("ready").await?;
            browser
                .driver
                .find(By::Css("#lead [name=name]"))
                .await?
                .send_keys(NAME)
                .await?;
            for (fresh, what) in [
                (false, "repeated events (the answers cache helps)"),
                (
                    true,
                    "a new order number in every other event (the redactor's own cost)",
                ),
            ] {
                let mut wrapped = Vec::with_capacity(rounds);
                let mut unwrapped = Vec::with_capacity(rounds);
                for round in 0..rounds {
                    let out = browser
                        .js(
                            "return window.benchShield(arguments[0], arguments[1], arguments[2], \
                             arguments[3])",
                            vec![json!(ms), json!(most), json!(round % 2 == 0), json!(fresh)],
                        )
                        .await?;
                    // The wrapped push did redact: otherwise this measures nothing.
                    assert_eq!(
                        out["sample"][1]["value"], "[kelisim:redacted]",
                        "the shield redacted the typed value: {out}"
                    );
                    assert_eq!(out["sample"][0]["item_name"], "Паллетная перевозка");
                    wrapped.push(micros(&out["wrapped"])?);
                    unwrapped.push(micros(&out["unwrapped"])?);
                    // Let the page's own timers and the collector's requests run between rounds.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let (ours, plain) = (bench::median(&mut wrapped), bench::median(&mut unwrapped));
                eprintln!(
                    "shield benchmark, {what}, {rounds} rounds of {ms} ms per side, median µs \
                     per dataLayer.push: wrapped {ours:.3} ({:.0} calls/s), unwrapped {plain:.3} \
                     ({:.0} calls/s), ratio {:.1}; extra per call {:.3} µs",
                    1e6 / ours,
                    1e6 / plain,
                    ours / plain,
                    ours - plain
                );
            }
            Ok(())
        })
        .await
        .context("the shield benchmark")
}
