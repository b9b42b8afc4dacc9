//! The consent block a guarded form gets: the box (ours, or the site's `data-kelisim-consent`
//! box adopted), its label and policy link, the accessible error shown while it is unticked,
//! one unticked box per optional purpose (ours, or the site's `data-kelisim-purpose` box), and
//! the hidden field that carries the receipt's reference. Dropping a `Guarded` removes what was
//! added.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlFormElement, HtmlInputElement};

use super::Guard;
use crate::dom;
use kelisim_widget_core::policy;

/// The controls that submit a form, in the order a browser picks its default button.
const SUBMIT_BUTTONS: &str =
    "button[type=submit],button:not([type]),input[type=submit],input[type=image]";

/// A site's own consent checkbox, which the guard adopts instead of adding one.
const SITE_BOX: &str = "input[type=checkbox][data-kelisim-consent]";

/// One optional purpose's box on a form: which purpose, and the box (ours or the site's).
pub(super) struct OptionalBox {
    pub(super) purpose: String,
    pub(super) checkbox: HtmlInputElement,
}

/// A receipt already queued for a form (`record.rs` makes it): its key and what it carries.
pub(super) struct Recorded {
    pub(super) key: String,
    pub(super) identifiers: Vec<(policy::IdKind, String)>,
    pub(super) purposes: Vec<(String, bool)>,
}

/// One guarded form and what the guard added to it.
pub(super) struct Guarded {
    pub(super) form: HtmlFormElement,
    pub(super) checkbox: HtmlInputElement,
    /// What the guard inserted next to the box: the whole consent block, or only the error
    /// message beside an adopted box.
    pub(super) added: Element,
    pub(super) error: Element,
    pub(super) error_id: String,
    pub(super) receipt: HtmlInputElement,
    /// The optional purposes' boxes, in the config's order; none is required.
    pub(super) optional: Vec<OptionalBox>,
    /// The optional purposes' rows the guard added outside `added` (beside an adopted box).
    pub(super) added_rows: Vec<Element>,
    pub(super) lang: String,
    /// The message the box reports as its validity while unticked (the site's error text).
    pub(super) message: String,
    /// An adopted box the guard marked `aria-required`: the mark goes again on drop.
    pub(super) made_required: bool,
    /// The receipt recorded since the box was last ticked, with the identifiers it carries:
    /// a site handler that calls `form.submit()` after the submit event must not make a second.
    pub(super) recorded: RefCell<Option<Recorded>>,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.added.remove();
        for row in &self.added_rows {
            row.remove();
        }
        self.receipt.remove();
        if self.made_required {
            let _ = self.checkbox.remove_attribute("aria-required");
        }
        self.checkbox.set_custom_validity("");
        self.clear_error();
    }
}

impl Guard {
    /// Adds the consent block just before the submit button (the DOM contract end-to-end tests
    /// rely on) or adopts the site's `data-kelisim-consent` box, and adds the hidden receipt
    /// field. An adopted box keeps its own label: the receipt still records the hash of the
    /// configured label, so a site that adopts its box should word it the same.
    pub(super) fn guard_form(&self, form: &HtmlFormElement) -> Guarded {
        let page_lang = Some(self.page.lang(form)).filter(|l| !l.is_empty());
        let notice = self
            .site
            .notice_for(self.options.lang.as_deref(), page_lang.as_deref());
        let texts = &notice.texts;
        let lang = notice.lang.as_str();

        let n = self.next_id.get() + 1;
        self.next_id.set(n);
        let mut id = String::from("kelisim-consent-");
        policy::push_decimal(&mut id, n);
        let error_id = [id.as_str(), "-error"].concat();

        let doc = &self.document;
        let error = dom::element(
            doc,
            "p",
            "kelisim-consent__error",
            &[("id", &error_id), ("lang", lang), ("hidden", "")],
            Some(&texts.error),
        );
        let (checkbox, added, made_required, anchor) = match dom::query(form, SITE_BOX) {
            Some(site_box) => {
                // The site's own box and label stay as they are; only our message is added,
                // after the label that holds the box (or the box itself).
                let anchor = dom::closest(&site_box, "label").unwrap_or_else(|| site_box.clone());
                dom::after(&anchor, &error);
                let made_required = !site_box.has_attribute("aria-required");
                dom::set_attrs(&site_box, &[("aria-required", "true")]);
                (site_box, error.clone(), made_required, None)
            }
            None => {
                let checkbox = dom::element(
                    doc,
                    "input",
                    "kelisim-consent__box",
                    &[
                        ("type", "checkbox"),
                        ("name", "kelisim_consent"),
                        ("value", "yes"),
                        ("aria-required", "true"),
                        ("id", &id),
                    ],
                    None,
                );
                // The label is the exact text whose hash the receipt carries: text, never HTML.
                let label = dom::element(
                    doc,
                    "label",
                    "kelisim-consent__label",
                    &[("for", &id)],
                    Some(&texts.label),
                );
                let href = policy::policy_link(&self.site.policy_url, lang);
                let link = dom::element(
                    doc,
                    "a",
                    "kelisim-consent__link",
                    &[("href", &href), ("target", "_blank"), ("rel", "noopener")],
                    Some(&texts.link),
                );
                let block = dom::element(doc, "div", "kelisim-consent", &[("lang", lang)], None);
                for child in [&checkbox, &label, &link, &error] {
                    dom::append(&block, child);
                }
                match dom::query(form, SUBMIT_BUTTONS) {
                    Some(button) => dom::before(&button, &block),
                    None => dom::append(form, &block),
                };
                let anchor = block.clone();
                (checkbox, block, false, Some(anchor))
            }
        };

        // Each optional purpose: the site's own box for it, else ours, unticked, after the
        // consent block (inside ours; after the message beside an adopted box).
        let mut optional = Vec::new();
        let mut added_rows = Vec::new();
        let mut last = error.clone();
        for purpose in self.site.optional_purposes() {
            let site_box = dom::query(
                form,
                &[
                    "input[type=checkbox][data-kelisim-purpose=\"",
                    &purpose.id,
                    "\"]",
                ]
                .concat(),
            );
            let checkbox = match site_box {
                Some(site_box) => site_box,
                None => {
                    let box_id = [id.as_str(), "-", &purpose.id].concat();
                    let checkbox = dom::element(
                        doc,
                        "input",
                        "kelisim-consent__option",
                        &[
                            ("type", "checkbox"),
                            ("name", "kelisim_purpose"),
                            ("value", &purpose.id),
                            ("id", &box_id),
                        ],
                        None,
                    );
                    let label = dom::element(
                        doc,
                        "label",
                        "kelisim-consent__label",
                        &[("for", &box_id)],
                        Some(purpose.label(lang)),
                    );
                    let row = dom::element(
                        doc,
                        "div",
                        "kelisim-consent__purpose",
                        &[("lang", lang)],
                        None,
                    );
                    dom::append(&row, &checkbox);
                    dom::append(&row, &label);
                    match &anchor {
                        Some(block) => dom::append(block, &row),
                        None => {
                            dom::after(&last, &row);
                            last = row.clone();
                            added_rows.push(row);
                        }
                    }
                    checkbox
                }
            };
            optional.push(OptionalBox {
                purpose: purpose.id.clone(),
                checkbox: checkbox.unchecked_into(),
            });
        }

        let receipt = dom::element(
            doc,
            "input",
            "",
            &[("type", "hidden"), ("name", "kelisim_receipt")],
            None,
        );
        dom::append(form, &receipt);

        let guarded = Guarded {
            form: form.clone(),
            checkbox: checkbox.unchecked_into(),
            added,
            error,
            error_id,
            receipt: receipt.unchecked_into(),
            optional,
            added_rows,
            lang: lang.to_owned(),
            message: texts.error.clone(),
            made_required,
            recorded: RefCell::new(None),
        };
        guarded.sync_validity();
        guarded
    }
}

impl Guarded {
    /// The choice this form's boxes record for each purpose (see `SiteConfig::purpose_choices`).
    pub(super) fn purpose_choices(&self, site: &crate::config::SiteConfig) -> Vec<(String, bool)> {
        site.purpose_choices(&|id| {
            self.optional
                .iter()
                .any(|b| b.purpose == id && b.checkbox.checked())
        })
    }

    /// The box is `aria-required` rather than `required`, and reports its own message as its
    /// validity while unticked: the browser still refuses the form (`invalid`, then our message
    /// in place of its bubble), screen readers still hear "required", and validation plugins
    /// that read the `required` attribute (jquery-validation) leave the box alone instead of
    /// writing their own English error into the consent block.
    pub(super) fn sync_validity(&self) {
        let message = if self.checkbox.checked() {
            ""
        } else {
            &self.message
        };
        self.checkbox.set_custom_validity(message);
    }

    pub(super) fn show_error(&self) {
        let _ = self.error.remove_attribute("hidden");
        dom::set_attrs(&self.error, &[("role", "alert")]);
        dom::set_attrs(
            &self.checkbox,
            &[
                ("aria-invalid", "true"),
                ("aria-describedby", &self.error_id),
            ],
        );
        let _ = self.checkbox.unchecked_ref::<HtmlElement>().focus();
        dom::reveal(&self.error);
    }

    pub(super) fn clear_error(&self) {
        dom::set_attrs(&self.error, &[("hidden", "")]);
        let checkbox: &Element = self.checkbox.as_ref();
        for (element, name) in [
            (&self.error, "role"),
            (checkbox, "aria-invalid"),
            (checkbox, "aria-describedby"),
        ] {
            let _ = element.remove_attribute(name);
        }
    }
}
