//! What a ticked submission leaves: the reference in the form, the receipt request queued in
//! the outbox (the form's field names, never their values; a phone or e-mail only as an
//! identifier the collector hashes), and the receipts of the consents the loader's plain
//! checkbox took while the widget could not load.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlFormElement, HtmlInputElement};

use super::Guard;
use super::block::{Guarded, Recorded};
use crate::config;
use crate::dom;
use crate::receipt::{ConsentEvent, Context, Grant, Identifier, Kind, ReceiptRequest, Subject};
use kelisim_widget_core::policy::{self, Field};

/// The localStorage key where the loader's plain checkbox leaves the consents it took (a JSON
/// array of `{key, policy, lang, url, form, gpc, fields: [[tag, type, name], …]}`), for the
/// widget to record once it runs on a later page.
pub(super) use kelisim_widget_core::storage::FALLBACK_KEY;

/// A consent to record: what its receipt request says, as the page gave it.
struct Consent<'a> {
    key: &'a str,
    policy_version: &'a str,
    lang: &'a str,
    /// The page's address as it was (cleaned before it is sent).
    page_url: &'a str,
    form_id: String,
    fields: &'a [Field],
    identifiers: &'a [(policy::IdKind, String)],
    /// `(purpose, granted)` for every configured purpose.
    purposes: Vec<(String, bool)>,
    gpc: bool,
}

impl Guard {
    /// A ticked submission: put the reference in the form and queue the receipt request.
    /// Nothing here blocks the form (see `policy::submit_decision`).
    pub(super) fn record(&self, guarded: &Guarded) {
        let mut candidates = Vec::new();
        let mut fields = Vec::new();
        for (field, element) in controls(&guarded.form) {
            if let Some(kind) = policy::identifier_kind(&field) {
                candidates.push((kind, element.unchecked_ref::<HtmlInputElement>().value()));
            }
            fields.push(field);
        }
        let identifiers = policy::identifiers(&candidates);
        let purposes = guarded.purpose_choices(&self.site);
        if let Some(recorded) = guarded.recorded.borrow().as_ref()
            && recorded.identifiers == identifiers
            && recorded.purposes == purposes
            && guarded.receipt.value() == recorded.key
        {
            return;
        }
        let Some(key) = crate::receipt::random_key() else {
            dom::warn(
                "kelisim: no crypto.getRandomValues; the form is sent without a receipt",
                "",
            );
            return;
        };
        guarded.receipt.set_value(&key);
        let gpc = config::get(&dom::global("navigator"), "globalPrivacyControl").as_bool();
        self.queue(Consent {
            key: &key,
            policy_version: &self.site.policy_version,
            lang: &guarded.lang,
            page_url: &self.document.url().unwrap_or_default(),
            form_id: dom::attr(&guarded.form, "id"),
            fields: &fields,
            identifiers: &identifiers,
            purposes: purposes.clone(),
            gpc: gpc == Some(true),
        });
        guarded.recorded.replace(Some(Recorded {
            key,
            identifiers,
            purposes,
        }));
    }

    /// The form's controls a visitor types into (those the recorders mask), with their values.
    pub(super) fn typed_fields<'a>(
        &'a self,
        form: &HtmlFormElement,
    ) -> impl Iterator<Item = (Field, Element, String)> + 'a {
        controls(form).into_iter().filter_map(|(field, element)| {
            self.page.typed(&element).then_some(())?;
            let value = config::get(&element, "value")
                .as_string()
                .unwrap_or_default();
            Some((field, element, value))
        })
    }

    /// Queues (and sends) the receipt request of a consent given to the site's required
    /// purposes, and to each optional one whose box was ticked. One function for the guard's
    /// receipts and the plain checkbox's.
    fn queue(&self, consent: Consent) {
        let Some(browser_id) = self.outbox.browser_id() else {
            return;
        };
        self.outbox.submit(&ReceiptRequest {
            site: self.site.site.clone(),
            kind: Kind::Form,
            event: ConsentEvent::Given,
            key: consent.key.to_owned(),
            // Sent with the request and gone with it: nothing on the page withdraws a form
            // consent (the operator does, on request).
            secret: crate::receipt::random_key(),
            policy_version: consent.policy_version.to_owned(),
            lang: consent.lang.to_owned(),
            purposes: Some(
                consent
                    .purposes
                    .into_iter()
                    .map(|(id, granted)| Grant { id, granted })
                    .collect(),
            ),
            categories: None,
            subject: Subject {
                browser_id,
                identifiers: consent
                    .identifiers
                    .iter()
                    .map(|(kind, value)| Identifier {
                        kind: *kind,
                        value: value.clone(),
                    })
                    .collect(),
            },
            context: Context {
                page_url: policy::clean_page_url(consent.page_url),
                form_id: Some(consent.form_id).filter(|id| policy::is_safe_name(id)),
                fields: policy::field_names(consent.fields),
                gpc: consent.gpc,
            },
        });
    }

    /// The consents the loader's plain checkbox took on earlier pages while the widget could not
    /// load ([`FALLBACK_KEY`]): each becomes the receipt it would have been, under the reference
    /// its form carried, naming the policy version and the language the box showed. The loader
    /// keeps no phone or e-mail, so these receipts carry no identifiers, and it shows no
    /// optional purpose's box, so they grant none.
    pub(super) fn record_fallback(&self) {
        let Some(storage) = dom::local_storage() else {
            return;
        };
        let Some(text) = storage.get_item(FALLBACK_KEY).ok().flatten() else {
            return;
        };
        let _ = storage.remove_item(FALLBACK_KEY);
        for note in array(JSON::parse(&text).unwrap_or_default()).iter() {
            let text = |name| config::get(&note, name).as_string().unwrap_or_default();
            let key = text("key");
            if !policy::is_key(&key) {
                continue;
            }
            let fields: Vec<Field> = array(config::get(&note, "fields"))
                .iter()
                .map(|field| {
                    let at = |i| config::get(&field, i).as_string().unwrap_or_default();
                    Field {
                        tag: at("0"),
                        kind: at("1"),
                        name: at("2"),
                        ..Field::default()
                    }
                })
                .collect();
            self.queue(Consent {
                key: &key,
                policy_version: &text("policy"),
                lang: &text("lang"),
                page_url: &text("url"),
                form_id: text("form"),
                fields: &fields,
                identifiers: &[],
                purposes: self.site.purpose_choices(&|_| false),
                gpc: config::get(&note, "gpc").as_bool() == Some(true),
            });
        }
    }
}

/// `value` if it is an array, else an empty one.
fn array(value: JsValue) -> Array {
    if Array::is_array(&value) {
        value.unchecked_into()
    } else {
        Array::new()
    }
}

/// The form's controls (including those associated from outside by `form=`), described by
/// their attributes, each with its element for reading an identifier's value later.
fn controls(form: &HtmlFormElement) -> Vec<(Field, Element)> {
    let elements = form.elements();
    (0..elements.length())
        .filter_map(|i| elements.item(i))
        .map(|element| (describe(&element), element))
        .collect()
}

/// A form control described by its attributes, for its identifier and its name on the receipt.
fn describe(element: &Element) -> Field {
    Field {
        tag: element.local_name(),
        kind: dom::attr(element, "type"),
        name: dom::attr(element, "name"),
        autocomplete: dom::attr(element, "autocomplete"),
        // The id only tells a personal-data field, which the loader decides (`Page`).
        id: String::new(),
    }
}

/// A form control described by every attribute the rules read, the id included.
#[cfg(all(test, target_arch = "wasm32"))]
pub(super) fn describe_all(element: &Element) -> Field {
    Field {
        id: element.id(),
        ..describe(element)
    }
}
