//! Kelisim consent widget: the loader (`js/loader.js`) calls `start` with the script tag's
//! options and the site config; this file only wires the modules together.
//!
//! Architecture invariants: `policy` never touches the DOM; no form value leaves the page
//! except a phone/e-mail identifier sent to the collector to be hashed; a guarded form
//! never submits without its box ticked.

#![deny(clippy::unwrap_used)]

mod config;
mod dom;
mod guard;
mod policy;
mod receipt;

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::config::{Options, SiteConfig};
use crate::guard::Guard;
use crate::receipt::Outbox;

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    /// The page's guard: owned here for the page's lifetime, so its listeners stay registered
    /// however the JS side treats the return value.
    static WIDGET: RefCell<Option<Guard>> = const { RefCell::new(None) };
}

/// Guards the page. `options`: `{site, collector, lang?, forms?}` from the script tag;
/// `config`: the parsed body of `GET /v1/sites/{site}/config`. Throws (and changes nothing)
/// when either is invalid, so the loader can fall back to a plain required checkbox.
/// Calling it again replaces the previous guard.
#[wasm_bindgen]
pub fn start(options: JsValue, config: JsValue) -> Result<(), JsError> {
    let options = Options::from_js(options)?;
    let site = SiteConfig::from_js(config, &options.site)?;
    let outbox = Outbox::new(&options.collector);
    stop();
    let guard = Guard::install(options, site, outbox.clone())?;
    WIDGET.with(|w| w.replace(Some(guard)));
    // Receipts a previous page could not deliver.
    outbox.flush();
    set_state(Some("ready"));
    Ok(())
}

/// Removes the guard: listeners, consent boxes and `form.submit` wrappers.
#[wasm_bindgen]
pub fn stop() {
    if let Some(guard) = WIDGET.with(RefCell::take) {
        drop(guard);
        set_state(None);
    }
}

/// `<html data-kelisim=…>`: what end-to-end tests and site CSS can rely on.
fn set_state(state: Option<&str>) {
    let Some(root) = dom::document().and_then(|d| d.document_element()) else {
        return;
    };
    let _ = match state {
        Some(state) => root.set_attribute("data-kelisim", state),
        None => root.remove_attribute("data-kelisim"),
    };
}
