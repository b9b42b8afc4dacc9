//! Kelisim consent widget: the loader (`js/loader.js`) calls `start` with the script tag's
//! options, the site config and its transport, then hands every submission, consent-box event,
//! DOM change and delivery answer to the returned `Widget`. This file only wires the modules.
//!
//! Architecture invariants: `policy` never touches the DOM; no form value leaves the page
//! except a phone/e-mail identifier sent to the collector to be hashed; a guarded form never
//! submits without its box ticked; the loader owns every event listener (so they keep the
//! place they took before any later site script), the wasm owns every decision.
//!
//! Release builds for wasm32 are `no_std` with a panic handler that only traps: std's panic
//! hook formats messages, which linked core::fmt, Unicode tables and panic locations (about
//! 9 KB of the 65 KB wasm). Debug builds (tests, clippy) keep std, which the test harness and
//! the dev-dependencies need. A trap reaches the loader as an exception, and the loader then
//! falls back to its plain checkbox.

#![cfg_attr(all(target_arch = "wasm32", not(debug_assertions)), no_std)]
#![deny(clippy::unwrap_used)]

extern crate alloc;

mod config;
mod dom;
mod guard;
mod notice;
mod policy;
mod receipt;

use alloc::string::String;

use wasm_bindgen::prelude::*;
use web_sys::HtmlFormElement;

use crate::config::{Options, SiteConfig};
use crate::guard::Guard;
use crate::receipt::{Host, Outbox};

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(all(target_arch = "wasm32", not(debug_assertions)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

// A free-list allocator (lol_alloc) instead of std's dlmalloc: 0.6 KB of wasm instead of
// 7.5 KB. `LockedAllocator` because it is constructible without `unsafe` (forbidden here);
// on wasm32 without threads its spin lock is never contended.
#[cfg(all(target_arch = "wasm32", not(debug_assertions)))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

// Plain comments on the exports below: wasm-bindgen copies doc comments into the shipped glue.

// The page's widget. The loader keeps it for the page's lifetime; `free()` removes everything
// it added (consent blocks, receipt fields, the receipt notice).
#[wasm_bindgen]
pub struct Widget {
    guard: Guard,
}

// Guards the page. `options`: `{site, collector, lang?, forms?}` from the script tag;
// `config`: the parsed body of `GET /v1/sites/{site}/config`; `host`: the loader's transport
// (`post(url, body, key)`). Throws, changing nothing, when an input is invalid, so the loader
// can fall back to its plain checkbox. Sends the receipts earlier pages left queued.
#[wasm_bindgen]
pub fn start(options: JsValue, config: JsValue, host: Host) -> Result<Widget, JsError> {
    let options = Options::from_js(&options).map_err(|e| JsError::new(&e.message()))?;
    let site =
        SiteConfig::from_js(&config, &options.site).map_err(|e| JsError::new(&e.message()))?;
    let outbox = Outbox::new(&options.collector, host);
    let guard = Guard::install(options, site, outbox).map_err(|e| JsError::new(&e))?;
    guard.flush_and_notify();
    Ok(Widget { guard })
}

#[wasm_bindgen]
impl Widget {
    // May `form` be submitted now? For the `submit` event and for `form.submit()`. Guards the
    // form first if it is new; false (and the error shown) while its box is unticked.
    pub fn submit(&self, form: HtmlFormElement) -> bool {
        self.guard.submit(&form)
    }

    // An `invalid` (`invalid` = true) or `change` event on `target`: true when it was one of
    // the consent boxes and the browser's own message must be suppressed.
    pub fn touch(&self, target: JsValue, invalid: bool) -> bool {
        self.guard.touch(&target, invalid)
    }

    // The DOM changed: guard forms that appeared since.
    pub fn scan(&self) {
        self.guard.scan();
    }

    // The collector answered (HTTP status, 0 for no answer) the receipt request with `key`.
    pub fn ack(&self, key: String, status: u16) {
        self.guard.delivered(&key, status);
    }
}
