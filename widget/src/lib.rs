//! Kelisim consent widget: the loader (`js/loader.js`) calls `start` with the script tag's
//! options, the site config and its host (transport, gating and its answers about the page),
//! then hands every form, submission, click, consent-box event, DOM change and delivery answer
//! to the returned `Widget`. This file only wires the modules: `guard` (forms), `banner`
//! (cookies), `receipt` (the outbox they share), with their rules in the pure crate
//! `kelisim-widget-core`: `policy`, `choice`, `recorders` (the session recorders' masking
//! markers) and `redact` (the analytics shield's core, which `shield` feeds with what the
//! visitor types); its `loader_rules` (tests only) generates the loader's copy of the rules it
//! needs before the wasm has loaded.
//!
//! Architecture invariants: `policy`, `choice`, `recorders` and `redact` never touch the DOM;
//! no form value leaves the page except a phone/e-mail identifier sent to the collector to be
//! hashed; a guarded form never submits without its box ticked; a gated script or iframe
//! never runs before its category is granted; the loader owns every event listener (so they
//! keep the place they took before any later site script) and applies the rules it needs
//! before the wasm (which forms carry personal data, which fields get the recorders' markers)
//! as generated from `policy` and `recorders`, the wasm asking it rather than shipping them
//! twice; the wasm owns every other decision.
//!
//! Release builds for wasm32 are `no_std` with a panic handler that only traps: std's panic
//! hook formats messages, which linked core::fmt, Unicode tables and panic locations (about
//! 9 KB of the 65 KB wasm). Debug builds (tests, clippy) keep std, which the test harness and
//! the dev-dependencies need. A trap reaches the loader as an exception, and the loader then
//! falls back to its plain checkbox.

#![cfg_attr(all(target_arch = "wasm32", not(debug_assertions)), no_std)]
#![deny(clippy::unwrap_used)]

extern crate alloc;

mod banner;
mod config;
mod dom;
mod guard;
mod notice;
mod receipt;
mod shield;

use alloc::rc::Rc;
use alloc::string::String;

use wasm_bindgen::prelude::*;
use web_sys::HtmlFormElement;

use crate::banner::Banner;
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
// it added (consent blocks, receipt fields, notices, the cookie banner and its controls).
#[wasm_bindgen]
pub struct Widget {
    guard: Guard,
    banner: Option<Banner>,
}

// Guards the page and shows the cookie banner (or applies the stored choice). `options`:
// `{site, collector, lang?, forms?}` from the script tag; `config`: the parsed body of
// `GET /v1/sites/{site}/config`; `host`: the loader's `post(url, body, key)` transport and
// `consent(granted, update)` gate, and `lang(element)` (see guard::Page). Throws, changing nothing, when an input is invalid, so the
// loader can fall back to its plain checkbox (and nothing gated runs). Sends the receipts
// earlier pages left queued.
#[wasm_bindgen]
pub fn start(options: JsValue, config: JsValue, host: Host) -> Result<Widget, JsError> {
    let options = Options::from_js(&options).map_err(|e| JsError::new(&e.message()))?;
    let site = Rc::new(
        SiteConfig::from_js(&config, &options.site).map_err(|e| JsError::new(&e.message()))?,
    );
    let outbox = Rc::new(Outbox::new(&options.collector, host.clone()));
    // The guard first: if it refuses to start, nothing was shown and nothing gated runs.
    let guard = Guard::install(
        options.clone(),
        Rc::clone(&site),
        Rc::clone(&outbox),
        host.clone().unchecked_into(),
    )
    .map_err(|e| JsError::new(&e))?;
    let banner = Banner::start(&options, site, outbox, host);
    guard.flush_and_notify();
    Ok(Widget { guard, banner })
}

#[wasm_bindgen]
impl Widget {
    // May `form` be submitted now? For the `submit` event and for `form.submit()`. Guards the
    // form first if it is new; false (and the error shown) while its box is unticked.
    pub fn submit(&self, form: HtmlFormElement) -> bool {
        if self
            .banner
            .as_ref()
            .is_some_and(|b| b.closes(form.as_ref()))
        {
            return false;
        }
        self.guard.submit(&form)
    }

    // A click on the element `target`: true when it was one of the banner's controls or a
    // `data-kelisim-open` element, and its default must be cancelled.
    pub fn click(&self, target: web_sys::Element) -> bool {
        self.banner.as_ref().is_some_and(|b| b.click(&target))
    }

    // Opens the cookie settings (`kelisim.open()`).
    pub fn open(&self) {
        if let Some(banner) = &self.banner {
            banner.open();
        }
    }

    // An `invalid` (`invalid` = true) or `change` event on `target`: true when it was one of
    // the consent boxes and the browser's own message must be suppressed.
    pub fn touch(&self, target: JsValue, invalid: bool) -> bool {
        self.guard.touch(&target, invalid)
    }

    // Guards the forms of `forms` (every form of the page, shadow roots' included) that are not
    // guarded yet: right after `start`, and whenever the DOM changed.
    pub fn scan(&self, forms: js_sys::Array) {
        self.guard
            .scan(forms.iter().map(wasm_bindgen::JsCast::unchecked_into));
    }

    // An `input` (`committed` = false) or `change` event on `target`: a guarded field's value
    // is what the analytics shield looks for from now on.
    pub fn typed(&self, target: JsValue, committed: bool) {
        self.guard.typed(&target, committed);
    }

    // The analytics shield: `s` with every typed value, e-mail, phone and IIN/BIN replaced by
    // `[kelisim:redacted]`, or undefined when `s` may go to analytics as it is.
    pub fn redact(&self, s: &str) -> Option<String> {
        self.guard.shield().redact(s)
    }

    // The analytics shield: whether the number `n` must not reach analytics.
    pub fn redact_number(&self, n: f64) -> bool {
        self.guard.shield().redact_number(n)
    }

    // A value the visitor typed on an earlier page, found in this page's address.
    pub fn learn(&self, value: &str) {
        self.guard.shield().learn(value);
    }

    // The collector answered (HTTP status, 0 for no answer) the receipt request with `key`.
    pub fn ack(&self, key: String, status: u16) {
        self.guard.delivered(&key, status);
    }
}
