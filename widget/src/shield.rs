//! The analytics shield on the page. The loader wraps the calls analytics receive data
//! through (`ym`, `gtag`, `dataLayer.push`, `_paq.push`, `posthog.capture`) and asks, for
//! every string and number in their arguments, what may go through; `redact` decides, from
//! what the visitor typed into guarded forms' fields, which the guard reports here as it
//! happens. A guarded GET form also leaves a note naming its typed fields, so the page it
//! lands on takes them out of its address before analytics reads it.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use wasm_bindgen::JsCast;
use web_sys::{Element, Storage};

use crate::dom;
use kelisim_widget_core::redact::Redactor;

/// The `sessionStorage` key of the GET note: `<action URL without query>\n<name>\n<name>…`,
/// read (and removed) by the loader at the next page start.
pub const GET_NOTE: &str = "kelisim_get";

/// What the visitor typed, and the answers the loader's wrappers ask for.
#[derive(Default)]
pub struct Shield {
    redactor: RefCell<Redactor>,
    /// The fields seen so far; a field's slot in the redactor is its index here.
    fields: RefCell<Vec<Element>>,
}

impl Shield {
    /// Field `element` holds `value` now; `committed` (a `change` event) keeps the value
    /// looked for even after the field is cleared or changed.
    pub fn typed(&self, element: &Element, value: &str, committed: bool) {
        let slot = {
            let mut fields = self.fields.borrow_mut();
            match fields.iter().position(|f| f == element) {
                Some(i) => i,
                None => {
                    fields.push(element.clone());
                    fields.len() - 1
                }
            }
        };
        let mut redactor = self.redactor.borrow_mut();
        redactor.set_live(u32::try_from(slot).unwrap_or(u32::MAX), value);
        if committed {
            redactor.remember(value);
        }
    }

    /// A value the visitor typed on an earlier page (the loader found it in the address).
    pub fn learn(&self, value: &str) {
        self.redactor.borrow_mut().remember(value);
    }

    /// `s` with every personal part replaced, or `None` to pass it through as it is.
    pub fn redact(&self, s: &str) -> Option<String> {
        self.redactor.borrow().redact(s)
    }

    /// Whether the number `n` is personal data (a phone, an IIN/BIN, a typed value).
    pub fn redact_number(&self, n: f64) -> bool {
        self.redactor.borrow().redact_number(n)
    }
}

/// Leaves the GET note for a guarded form submitted to `action` with the typed fields
/// `names`. Without `sessionStorage` there is no note, and the address keeps its query.
pub fn note_get(action: &str, names: &[String]) {
    let storage = dom::global("sessionStorage");
    if storage.is_undefined() || storage.is_null() || names.is_empty() {
        return;
    }
    let storage: Storage = storage.unchecked_into();
    let _ = storage.set_item(
        GET_NOTE,
        &kelisim_widget_core::policy::get_note(action, names),
    );
}
