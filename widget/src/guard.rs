//! The form guard on the page: finds personal-data forms (at start and whenever the DOM
//! changes), adds the consent box or adopts the site's own, marks its fields for the session
//! recorders (`recorders`), refuses every submission until the box is ticked, and hands a
//! receipt request to the outbox when it is.
//!
//! The guard registers no listener. The loader's capture-phase listeners on `window` and its
//! patched `HTMLFormElement.prototype.submit` were in place before any later site script, so
//! they run before the site's own submit handlers; they ask `submit`/`touch` here and obey.
//! Dropping the guard removes everything it added.
//!
//! A remembered consent never ticks a box. Each submission sends new personal data, so it is
//! its own act of consent with its own receipt (naming the policy version current at that
//! moment), and a pre-ticked box is not an unambiguous one. So a changed policy version needs
//! nothing special here: the box is unticked as always, and the next receipt names the new
//! version. What the browser keeps is the visitor's proof: see `notice`.

mod block;
mod record;
#[cfg(all(test, target_arch = "wasm32"))]
mod tests;

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, HtmlFormElement};

use crate::config::{self, Options, SiteConfig};
use crate::dom;
use crate::notice::ReceiptNotice;
use crate::receipt::Outbox;
use crate::shield::{self, Shield};
use kelisim_widget_core::policy::{self, Decision};

use block::Guarded;

#[wasm_bindgen]
extern "C" {
    /// The loader's answers about the page, beside its transport (`receipt::Host`, the same
    /// object). `personal(form)`: whether the form is to be guarded (`data-forms`,
    /// `data-kelisim-form`/`-ignore`, then `policy::is_personal_data_form`); `typed(element)`:
    /// whether the visitor types into the control (`recorders::role`). The loader needs both
    /// before the wasm has loaded, so it holds them, generated from those Rust rules
    /// (`loader_rules`); the wasm asks rather than ship a second copy. `lang(element)`: the
    /// nearest `lang` attribute around `element`, across shadow-root boundaries ("" for none).
    pub type Page;
    #[wasm_bindgen(method)]
    fn personal(this: &Page, form: &HtmlFormElement) -> bool;
    #[wasm_bindgen(method)]
    fn typed(this: &Page, element: &Element) -> bool;
    #[wasm_bindgen(method)]
    fn lang(this: &Page, element: &Element) -> String;
}

/// The installed guard.
pub struct Guard {
    document: Document,
    page: Page,
    site: Rc<SiteConfig>,
    options: Options,
    outbox: Rc<Outbox>,
    forms: RefCell<Vec<Rc<Guarded>>>,
    next_id: Cell<u32>,
    notice: RefCell<Option<ReceiptNotice>>,
    shield: Shield,
}

impl Guard {
    /// The guard, guarding nothing yet: the loader then hands it the page's forms (`scan`).
    /// Fails (changing nothing) when `data-forms` is not a selector, so the loader falls back
    /// to its plain checkbox.
    pub fn install(
        options: Options,
        site: Rc<SiteConfig>,
        outbox: Rc<Outbox>,
        page: Page,
    ) -> Result<Self, String> {
        let document = dom::document();
        if let Some(selector) = &options.forms
            && document.query_selector(selector).is_err()
        {
            return Err([
                "data-forms \"",
                selector,
                "\" is not a valid CSS selector; fix the script tag's data-forms",
            ]
            .concat());
        }
        Ok(Self {
            document,
            page,
            site,
            options,
            outbox,
            forms: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
            notice: RefCell::new(None),
            shield: Shield::default(),
        })
    }

    /// Sends what earlier pages left queued (and records the consents the plain checkbox
    /// took while the widget could not load), and shows the receipt notice if one is due.
    pub fn flush_and_notify(&self) {
        self.outbox.flush();
        self.record_fallback();
        self.show_notice();
    }

    /// May `form` be submitted now? Guards it first if it is new (a form added since the last
    /// scan): then it is refused, since its new box is not ticked.
    pub fn submit(&self, form: &HtmlFormElement) -> bool {
        let is_close = self
            .notice
            .borrow()
            .as_ref()
            .is_some_and(|n| n.is_close(form.as_ref()));
        if is_close {
            self.notice.replace(None);
            self.outbox.dismiss();
            return false;
        }
        let Some(guarded) = self.consider(form) else {
            return true;
        };
        match policy::submit_decision(guarded.checkbox.checked()) {
            Decision::Allow => {
                self.record(&guarded);
                if form.method().eq_ignore_ascii_case("get") {
                    let names: Vec<String> =
                        self.typed_fields(form).map(|(f, _, _)| f.name).collect();
                    shield::note_get(&form.action(), &names);
                }
                true
            }
            Decision::Block => {
                guarded.show_error();
                false
            }
        }
    }

    /// An `invalid` or `change` event on `target`. For a consent box: `invalid` shows our
    /// message (in the page's language, accessible) and returns true so the loader suppresses
    /// the browser's bubble; `change` clears the message, or, when unticked, the reference the
    /// next submission would have carried.
    pub fn touch(&self, target: &JsValue, invalid: bool) -> bool {
        let Some(guarded) = self.find(target, |g| g.checkbox.as_ref()) else {
            return false;
        };
        guarded.sync_validity();
        if invalid {
            // Ticked by a script (no `change`): the stale message is gone for the next try.
            if !guarded.checkbox.checked() {
                guarded.show_error();
            }
            return true;
        }
        if guarded.checkbox.checked() {
            guarded.clear_error();
        } else {
            guarded.recorded.replace(None);
            guarded.receipt.set_value("");
        }
        false
    }

    /// An `input` or `change` (`committed`) event on `target`: a field of a guarded form that
    /// a visitor types into tells the shield what it holds now.
    pub fn typed(&self, target: &JsValue, committed: bool) {
        let form = config::get(target, "form");
        if self.find(&form, |g| g.form.as_ref()).is_none() {
            return;
        }
        let element: &Element = target.unchecked_ref();
        if self.page.typed(element) {
            let value = config::get(target, "value").as_string().unwrap_or_default();
            self.shield.typed(element, &value, committed);
        }
    }

    /// The analytics shield, which knows what the visitor typed into guarded forms.
    pub fn shield(&self) -> &Shield {
        &self.shield
    }

    /// Guards the page's forms that are not guarded yet (at start, then for single-page apps,
    /// modals, shadow roots): the loader hands over every form, those inside shadow roots too.
    pub fn scan(&self, forms: impl IntoIterator<Item = HtmlFormElement>) {
        for form in forms {
            self.consider(&form);
        }
    }

    /// The collector answered a receipt request; once it stored the receipt, the visitor gets
    /// the link to it.
    pub fn delivered(&self, key: &str, status: u16) {
        if self.outbox.delivered(key, status) {
            self.show_notice();
        }
    }

    /// Shows (or updates) the notice linking to the latest acknowledged receipt.
    fn show_notice(&self) {
        let Some(reference) = self.outbox.last_acked() else {
            return;
        };
        let page = self
            .document
            .document_element()
            .map(|root| dom::attr(&root, "lang"));
        let notice = self
            .site
            .notice_for(self.options.lang.as_deref(), page.as_deref());
        let href = policy::receipt_link(
            &self.options.collector,
            &self.site.site,
            &reference,
            &notice.lang,
        );
        // Drop the old notice first: two notices must never be on the page.
        self.notice.replace(None);
        let shown = ReceiptNotice::show(
            &self.document,
            Some(&href),
            &notice.texts.receipt,
            &notice.lang,
        );
        self.notice.replace(Some(shown));
    }

    fn find(&self, target: &JsValue, key: fn(&Guarded) -> &JsValue) -> Option<Rc<Guarded>> {
        self.forms
            .borrow()
            .iter()
            .find(|g| key(g) == target)
            .cloned()
    }

    /// The form's guard, adding one if the form is selected and collects personal data.
    fn consider(&self, form: &HtmlFormElement) -> Option<Rc<Guarded>> {
        if let Some(guarded) = self.find(form.as_ref(), |g| g.form.as_ref()) {
            return Some(guarded);
        }
        if !self.page.personal(form) {
            return None;
        }
        let guarded = Rc::new(self.guard_form(form));
        // What the fields already hold (filled in by the server or the browser) is protected
        // from the start, as if typed.
        for (_, element, value) in self.typed_fields(form) {
            self.shield.typed(&element, &value, true);
        }
        self.forms.borrow_mut().push(Rc::clone(&guarded));
        Some(guarded)
    }
}
