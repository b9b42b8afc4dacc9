//! The form guard on the page: finds personal-data forms, adds the consent box, stops every
//! submission until it is ticked, and hands a receipt request to the outbox when it is.
//!
//! All listeners sit on `window` in the capture phase, so they run before any handler the site
//! put on its forms, and a blocked submission never reaches them (stopImmediatePropagation).
//! `form.submit()`, which fires no event, is wrapped per form. The guard owns every listener
//! and closure: dropping it removes them and the boxes it added.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_events::{EventListener, EventListenerOptions, EventListenerPhase};
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Event, HtmlFormElement, HtmlInputElement};

use crate::config::{Options, SiteConfig};
use crate::dom;
use crate::policy::{self, Decision, Field, FormInfo};
use crate::receipt::{
    ConsentEvent, Context, Grant, Identifier, Kind, Outbox, ReceiptRequest, Subject,
};

/// The controls that submit a form, in the order a browser picks its default button.
const SUBMIT_BUTTONS: &str =
    "button[type=submit],button:not([type]),input[type=submit],input[type=image]";

/// Why the guard could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("no document to guard; load kelisim.js in a web page")]
    NoDocument,
    #[error("data-forms \"{0}\" is not a valid CSS selector; fix the script tag's data-forms")]
    Selector(String),
    #[error("could not add the consent box to a form: {0}")]
    Dom(String),
}

#[wasm_bindgen]
extern "C" {
    /// A form seen through the browser's own `HTMLFormElement.prototype`.
    #[wasm_bindgen(js_name = HTMLFormElement)]
    type NativeForm;
    /// `final`: calls `HTMLFormElement.prototype.submit` itself, not the per-form wrapper this
    /// module installs as an own `submit` property.
    #[wasm_bindgen(method, final, js_name = submit)]
    fn submit(this: &NativeForm);
}

fn native_submit(form: &HtmlFormElement) {
    form.unchecked_ref::<NativeForm>().submit();
}

/// The installed guard. Keep it alive for as long as the page should be guarded.
pub struct Guard {
    _listeners: [EventListener; 3],
    state: Rc<State>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("forms", &self.state.forms.borrow().len())
            .finish()
    }
}

struct State {
    document: Document,
    site: SiteConfig,
    options: Options,
    outbox: Outbox,
    forms: RefCell<Vec<Rc<Guarded>>>,
    next_id: Cell<u32>,
}

/// One guarded form and what the guard added to it.
struct Guarded {
    form: HtmlFormElement,
    block: Element,
    checkbox: HtmlInputElement,
    error: Element,
    error_id: String,
    receipt: HtmlInputElement,
    lang: String,
    /// The receipt recorded since the box was last ticked, with the identifiers it carries:
    /// a site handler that calls `form.submit()` after the submit event must not make a second.
    recorded: RefCell<Option<Recorded>>,
    /// Installed as the form's own `submit` property; removed on drop.
    _submit: Closure<dyn FnMut()>,
}

/// A receipt already queued for this form: its key and the identifiers it carries.
struct Recorded {
    key: String,
    identifiers: Vec<(policy::IdKind, String)>,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.block.remove();
        self.receipt.remove();
        let _ = Reflect::delete_property(&self.form, &JsValue::from_str("submit"));
    }
}

impl Guard {
    /// Guards every personal-data form on the page now; forms added later are guarded when
    /// they are first submitted (blocked, since their new box is not ticked yet).
    pub fn install(options: Options, site: SiteConfig, outbox: Outbox) -> Result<Self, GuardError> {
        let window = dom::window().ok_or(GuardError::NoDocument)?;
        let document = window.document().ok_or(GuardError::NoDocument)?;
        if let Some(selector) = &options.forms
            && document.query_selector(selector).is_err()
        {
            return Err(GuardError::Selector(selector.clone()));
        }
        let state = Rc::new(State {
            document,
            site,
            options,
            outbox,
            forms: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
        });
        let forms = state.document.forms();
        // A snapshot: `document.forms` is live (guarding adds no forms, but this stays obvious).
        let forms: Vec<HtmlFormElement> = (0..forms.length())
            .filter_map(|i| forms.item(i)?.dyn_into().ok())
            .collect();
        for form in &forms {
            state
                .consider(form)
                .map_err(|e| GuardError::Dom(dom::describe(&e)))?;
        }

        // Non-passive (or `prevent_default` is silently ignored), capture phase on window (so
        // it runs before any handler the site put on its forms).
        let options = EventListenerOptions {
            phase: EventListenerPhase::Capture,
            ..EventListenerOptions::enable_prevent_default()
        };
        let listen = |event: &'static str, handler: fn(&Rc<State>, &Event)| {
            let state = Rc::clone(&state);
            EventListener::new_with_options(&window, event, options, move |e| handler(&state, e))
        };
        let listeners = [
            listen("submit", State::on_submit),
            listen("invalid", State::on_invalid),
            listen("change", State::on_change),
        ];
        Ok(Self {
            _listeners: listeners,
            state,
        })
    }

    /// How many forms are guarded.
    #[cfg(all(test, target_arch = "wasm32"))]
    pub fn guarded_forms(&self) -> usize {
        self.state.forms.borrow().len()
    }
}

impl State {
    fn find(&self, form: &HtmlFormElement) -> Option<Rc<Guarded>> {
        let target: &JsValue = form.as_ref();
        self.forms
            .borrow()
            .iter()
            .find(|g| AsRef::<JsValue>::as_ref(&g.form) == target)
            .cloned()
    }

    fn find_by_checkbox(&self, target: &JsValue) -> Option<Rc<Guarded>> {
        self.forms
            .borrow()
            .iter()
            .find(|g| AsRef::<JsValue>::as_ref(&g.checkbox) == target)
            .cloned()
    }

    /// The form's guard, adding one if the form is selected and collects personal data.
    fn consider(self: &Rc<Self>, form: &HtmlFormElement) -> Result<Option<Rc<Guarded>>, JsValue> {
        if let Some(guarded) = self.find(form) {
            return Ok(Some(guarded));
        }
        if let Some(selector) = &self.options.forms {
            // The selector was checked at install; if matching still throws, guard (fail closed).
            if !form.matches(selector).unwrap_or(true) {
                return Ok(None);
            }
        }
        let info = FormInfo {
            forced: form.has_attribute("data-kelisim-form"),
            ignored: form.has_attribute("data-kelisim-ignore"),
            fields: controls(form).into_iter().map(|(field, _)| field).collect(),
        };
        if !policy::is_personal_data_form(&info) {
            return Ok(None);
        }
        let guarded = Rc::new(self.guard_form(form)?);
        self.forms.borrow_mut().push(Rc::clone(&guarded));
        Ok(Some(guarded))
    }

    /// Adds the consent block (DOM contract in the README and docs/wire.md) and the receipt
    /// field, and wraps `form.submit()`.
    fn guard_form(self: &Rc<Self>, form: &HtmlFormElement) -> Result<Guarded, JsValue> {
        let page_lang = form
            .closest("[lang]")
            .ok()
            .flatten()
            .map(|e| dom::attr(&e, "lang"));
        let lang =
            policy::choose_language(self.options.lang.as_deref(), page_lang.as_deref(), |l| {
                self.site.supports(l)
            });
        let notice = self.site.notice(lang.as_deref());
        let texts = &notice.texts;

        let n = self.next_id.get() + 1;
        self.next_id.set(n);
        let mut id = String::from("kelisim-consent-");
        dom::push_decimal(&mut id, n);
        let mut error_id = id.clone();
        error_id.push_str("-error");

        let doc = &self.document;
        let block = dom::element(doc, "div", "kelisim-consent")?;
        dom::set_attrs(&block, &[("lang", &notice.lang)]);

        let checkbox = dom::element(doc, "input", "kelisim-consent__box")?;
        dom::set_attrs(
            &checkbox,
            &[
                ("type", "checkbox"),
                ("name", "kelisim_consent"),
                ("value", "yes"),
                ("required", ""),
                ("id", &id),
            ],
        );
        // The label is the exact text whose hash the receipt carries: text, never HTML.
        let label = dom::element(doc, "label", "kelisim-consent__label")?;
        dom::set_attrs(&label, &[("for", &id)]);
        label.set_text_content(Some(&texts.label));

        let link = dom::element(doc, "a", "kelisim-consent__link")?;
        let href = policy::policy_link(&self.site.policy_url, &notice.lang);
        dom::set_attrs(
            &link,
            &[("href", &href), ("target", "_blank"), ("rel", "noopener")],
        );
        link.set_text_content(Some(&texts.link));

        let error = dom::element(doc, "p", "kelisim-consent__error")?;
        dom::set_attrs(&error, &[("id", &error_id), ("hidden", "")]);
        error.set_text_content(Some(&texts.error));

        for child in [&checkbox, &label, &link, &error] {
            block.append_child(child)?;
        }
        match form.query_selector(SUBMIT_BUTTONS)? {
            Some(button) => match button.parent_node() {
                Some(parent) => parent.insert_before(&block, Some(&button))?,
                None => form.append_child(&block)?,
            },
            None => form.append_child(&block)?,
        };

        let receipt = dom::element(doc, "input", "")?;
        dom::set_attrs(&receipt, &[("type", "hidden"), ("name", "kelisim_receipt")]);
        form.append_child(&receipt)?;

        let weak: Weak<State> = Rc::downgrade(self);
        let target = form.clone();
        let submit = Closure::<dyn FnMut()>::new(move || {
            if let Some(state) = weak.upgrade() {
                state.on_submit_call(&target);
            }
        });
        Reflect::set(form, &JsValue::from_str("submit"), submit.as_ref())?;

        Ok(Guarded {
            form: form.clone(),
            block,
            checkbox: checkbox.unchecked_into(),
            error,
            error_id,
            receipt: receipt.unchecked_into(),
            lang: notice.lang.clone(),
            recorded: RefCell::new(None),
            _submit: submit,
        })
    }

    /// Every submission that fires an event: button, Enter, `requestSubmit()`.
    fn on_submit(self: &Rc<Self>, event: &Event) {
        let Some(form) = event
            .target()
            .and_then(|t| t.dyn_into::<HtmlFormElement>().ok())
        else {
            return;
        };
        let guarded = match self.consider(&form) {
            Ok(Some(guarded)) => guarded,
            Ok(None) => return,
            Err(e) => {
                // The form needs a box but could not get one: it must not submit without one.
                event.prevent_default();
                event.stop_immediate_propagation();
                dom::warn("kelisim: could not guard a form", &e);
                return;
            }
        };
        match policy::submit_decision(guarded.checkbox.checked()) {
            Decision::Allow => self.record(&guarded),
            Decision::Block => {
                event.prevent_default();
                event.stop_immediate_propagation();
                guarded.show_error();
            }
        }
    }

    /// `form.submit()`: no event, no validation; the wrapper decides, then calls the original.
    fn on_submit_call(self: &Rc<Self>, form: &HtmlFormElement) {
        let Some(guarded) = self.find(form) else {
            return native_submit(form);
        };
        match policy::submit_decision(guarded.checkbox.checked()) {
            Decision::Allow => {
                self.record(&guarded);
                native_submit(form);
            }
            Decision::Block => guarded.show_error(),
        }
    }

    /// The browser's validation found the required box unticked: show our message (in the
    /// page's language, accessible) instead of the browser's bubble.
    fn on_invalid(self: &Rc<Self>, event: &Event) {
        let Some(target) = event.target() else { return };
        if let Some(guarded) = self.find_by_checkbox(target.as_ref()) {
            event.prevent_default();
            guarded.show_error();
        }
    }

    fn on_change(self: &Rc<Self>, event: &Event) {
        let Some(target) = event.target() else { return };
        if let Some(guarded) = self.find_by_checkbox(target.as_ref()) {
            if guarded.checkbox.checked() {
                guarded.hide_error();
            } else {
                // Unticking withdraws what the next submission would carry.
                guarded.recorded.replace(None);
                guarded.receipt.set_value("");
            }
        }
    }

    /// A ticked submission: put the reference in the form and queue the receipt request.
    /// Nothing here blocks the form (see `policy::submit_decision`).
    fn record(&self, guarded: &Guarded) {
        let mut candidates = Vec::new();
        let mut fields = Vec::new();
        for (field, element) in controls(&guarded.form) {
            if let Some(kind) = policy::identifier_kind(&field)
                && let Some(input) = element.dyn_ref::<HtmlInputElement>()
            {
                candidates.push((kind, input.value()));
            }
            fields.push(field);
        }
        let identifiers = policy::identifiers(&candidates);
        if let Some(recorded) = guarded.recorded.borrow().as_ref()
            && recorded.identifiers == identifiers
            && guarded.receipt.value() == recorded.key
        {
            return;
        }
        let (Some(key), Some(browser_id)) =
            (crate::receipt::random_key(), self.outbox.browser_id())
        else {
            dom::warn(
                "kelisim: no crypto.getRandomValues; the form is sent without a receipt",
                &JsValue::UNDEFINED,
            );
            return;
        };
        guarded.receipt.set_value(&key);

        let window = dom::window();
        let href = window
            .as_ref()
            .and_then(|w| w.location().href().ok())
            .unwrap_or_default();
        let gpc = window
            .and_then(|w| Reflect::get(&w.navigator(), &"globalPrivacyControl".into()).ok())
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let form_id = Some(guarded.form.id()).filter(|id| !id.is_empty());
        let request = ReceiptRequest {
            site: self.site.site.clone(),
            kind: Kind::Form,
            event: ConsentEvent::Given,
            key: key.clone(),
            policy_version: self.site.policy_version.clone(),
            lang: guarded.lang.clone(),
            purposes: self
                .site
                .granted_purposes()
                .map(|id| Grant {
                    id: id.to_owned(),
                    granted: true,
                })
                .collect(),
            subject: Subject {
                browser_id,
                identifiers: identifiers
                    .iter()
                    .map(|(kind, value)| Identifier {
                        kind: *kind,
                        value: value.clone(),
                    })
                    .collect(),
            },
            context: Context {
                page_url: policy::clean_page_url(&href),
                form_id,
                fields: policy::field_names(&fields),
                gpc,
            },
        };
        self.outbox.submit(&request);
        guarded
            .recorded
            .replace(Some(Recorded { key, identifiers }));
    }
}

impl Guarded {
    fn show_error(&self) {
        let _ = self.error.remove_attribute("hidden");
        dom::set_attrs(&self.error, &[("role", "alert")]);
        dom::set_attrs(
            &self.checkbox,
            &[
                ("aria-invalid", "true"),
                ("aria-describedby", &self.error_id),
            ],
        );
        let _ = self.checkbox.focus();
    }

    fn hide_error(&self) {
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

/// The form's controls (including those associated from outside by `form=`), described by
/// their attributes, each with its element for reading an identifier's value later.
fn controls(form: &HtmlFormElement) -> Vec<(Field, Element)> {
    let elements = form.elements();
    (0..elements.length())
        .filter_map(|i| elements.item(i))
        .map(|element| {
            let field = Field {
                tag: element.local_name(),
                kind: dom::attr(&element, "type"),
                name: dom::attr(&element, "name"),
                id: element.id(),
                autocomplete: dom::attr(&element, "autocomplete"),
            };
            (field, element)
        })
        .collect()
}

/// The guard in a real browser (`cargo xtask wasm-test`): builds forms in the test page's
/// document and drives them like a visitor and like a site's scripts would.
#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use gloo_events::EventListener;
    use js_sys::{Function, JSON, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_test::wasm_bindgen_test;
    use web_sys::{Element, Event, EventInit, HtmlFormElement, HtmlInputElement};

    use super::Guard;
    use crate::config::{Options, SiteConfig};
    use crate::receipt::{self, Outbox};

    /// A port nothing listens on: sends fail, so what was queued stays queued for inspection.
    const DEAD_COLLECTOR: &str = "http://127.0.0.1:9";

    const CONFIG: &str = r#"{
      "site": "demo", "revision": "0000000000000000",
      "operator": { "name": "ТОО «Алтын Жол Логистика»", "bin": "180940012345" },
      "policy": { "version": "2026-03", "url": "http://127.0.0.1:9/v1/sites/demo/policies/2026-03" },
      "languages": ["ru", "kk", "en"], "default_language": "ru",
      "texts": {
        "ru": { "label": "Я согласен(на) на обработку персональных данных", "link": "Текст согласия", "error": "Отметьте согласие, чтобы отправить форму", "receipt": "Квитанция" },
        "kk": { "label": "Дербес деректерді жинауға және өңдеуге келісемін", "link": "Келісім мәтіні", "error": "Форманы жіберу үшін келісімді белгілеңіз", "receipt": "Түбіртек" },
        "en": { "label": "I agree to the processing of my <b>personal</b> data", "link": "Consent text", "error": "Tick the box to send the form", "receipt": "Receipt" }
      },
      "purposes": [ { "id": "feedback", "required": true }, { "id": "newsletter", "required": false } ]
    }"#;

    const FEEDBACK: &str = r#"
      <input name="name" autocomplete="name">
      <input name="phone" type="tel">
      <textarea name="message"></textarea>
      <input type="hidden" name="lang" value="kk">
      <div class="actions"><button type="submit">Жіберу</button></div>"#;

    fn document() -> web_sys::Document {
        crate::dom::document().expect("test page has a document")
    }

    fn storage() -> web_sys::Storage {
        crate::dom::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .expect("test page has localStorage")
    }

    fn clear_storage() {
        for key in [receipt::QUEUE_KEY, receipt::BROWSER_ID_KEY] {
            storage().remove_item(key).expect("removable");
        }
    }

    fn install(forms: Option<&str>) -> Guard {
        let mut options = String::from(r#"{"site":"demo","collector":""#);
        options.push_str(DEAD_COLLECTOR);
        options.push('"');
        if let Some(selector) = forms {
            options.push_str(r#","forms":"#);
            options.push_str(
                &JSON::stringify(&selector.into())
                    .expect("str")
                    .as_string()
                    .expect("str"),
            );
        }
        options.push('}');
        let options =
            Options::from_js(JSON::parse(&options).expect("options JSON")).expect("valid options");
        let site = SiteConfig::from_js(JSON::parse(CONFIG).expect("config JSON"), "demo")
            .expect("valid config");
        let outbox = Outbox::new(&options.collector);
        Guard::install(options, site, outbox).expect("guard installs")
    }

    /// Adds `<form id=… lang=…>inner</form>` to the body (inside a wrapper we remove later).
    fn add_form(id: &str, lang: &str, attrs: &str, inner: &str) -> HtmlFormElement {
        let doc = document();
        let wrapper = doc.create_element("div").expect("div");
        let mut html = String::from(r#"<form action="/feedback" method="post" id=""#);
        for part in [
            id,
            r#"" lang=""#,
            lang,
            r#"" "#,
            attrs,
            ">",
            inner,
            "</form>",
        ] {
            html.push_str(part);
        }
        wrapper.set_inner_html(&html);
        doc.body()
            .expect("body")
            .append_child(&wrapper)
            .expect("append");
        doc.get_element_by_id(id)
            .expect("form was added")
            .dyn_into()
            .expect("a form")
    }

    fn remove(form: &HtmlFormElement) {
        if let Some(wrapper) = form.parent_element() {
            wrapper.remove();
        }
    }

    fn field(form: &HtmlFormElement, selector: &str) -> Element {
        form.query_selector(selector)
            .expect("valid selector")
            .unwrap_or_else(|| panic!("form has {selector}"))
    }

    fn type_into(form: &HtmlFormElement, name: &str, value: &str) {
        let mut selector = String::from("[name=");
        selector.push_str(name);
        selector.push(']');
        Reflect::set(&field(form, &selector), &"value".into(), &value.into()).expect("set value");
    }

    /// Dispatches a cancelable, bubbling `submit` as a button or Enter would; true if prevented.
    fn submit_event(form: &HtmlFormElement) -> bool {
        let init = EventInit::new();
        init.set_bubbles(true);
        init.set_cancelable(true);
        let event = Event::new_with_event_init_dict("submit", &init).expect("event");
        form.dispatch_event(&event).expect("dispatch");
        event.default_prevented()
    }

    /// A site's own submit handler on the form; counts how often it ran.
    fn site_handler(form: &HtmlFormElement) -> (EventListener, Rc<Cell<u32>>) {
        let count = Rc::new(Cell::new(0));
        let seen = Rc::clone(&count);
        let listener = EventListener::new(form, "submit", move |_| seen.set(seen.get() + 1));
        (listener, count)
    }

    fn checkbox(form: &HtmlFormElement) -> HtmlInputElement {
        field(form, "input.kelisim-consent__box").unchecked_into()
    }

    fn queue() -> js_sys::Array {
        storage()
            .get_item(receipt::QUEUE_KEY)
            .expect("readable")
            .map(|text| JSON::parse(&text).expect("queue is JSON").unchecked_into())
            .unwrap_or_default()
    }

    fn get(value: &JsValue, path: &[&str]) -> JsValue {
        path.iter().fold(value.clone(), |v, key| {
            Reflect::get(&v, &(*key).into()).expect("property")
        })
    }

    fn json(value: &JsValue) -> String {
        JSON::stringify(value)
            .expect("JSON")
            .as_string()
            .expect("string")
    }

    #[wasm_bindgen_test]
    fn consent_block_follows_the_dom_contract() {
        clear_storage();
        let form = add_form("t-contract", "kk-KZ", "", FEEDBACK);
        let guard = install(None);
        assert_eq!(guard.guarded_forms(), 1);

        let button = field(&form, "button");
        let block = button
            .previous_element_sibling()
            .expect("block before the button");
        assert_eq!(block.class_name(), "kelisim-consent");
        assert_eq!(block.get_attribute("lang").as_deref(), Some("kk"));
        let children: Vec<String> = (0..block.children().length())
            .filter_map(|i| block.children().item(i))
            .map(|c| c.class_name())
            .collect();
        assert_eq!(
            children,
            [
                "kelisim-consent__box",
                "kelisim-consent__label",
                "kelisim-consent__link",
                "kelisim-consent__error"
            ]
        );
        let b = checkbox(&form);
        assert_eq!(b.type_(), "checkbox");
        assert_eq!(b.name(), "kelisim_consent");
        assert_eq!(b.value(), "yes");
        assert!(b.required() && !b.checked());
        let label = field(&form, "label.kelisim-consent__label");
        assert_eq!(label.get_attribute("for"), Some(b.id()));
        assert_eq!(
            label.text_content().as_deref(),
            Some("Дербес деректерді жинауға және өңдеуге келісемін")
        );
        let link = field(&form, "a.kelisim-consent__link");
        assert_eq!(
            link.get_attribute("href").as_deref(),
            Some("http://127.0.0.1:9/v1/sites/demo/policies/2026-03?lang=kk")
        );
        assert_eq!(link.get_attribute("target").as_deref(), Some("_blank"));
        assert_eq!(link.get_attribute("rel").as_deref(), Some("noopener"));
        let error = field(&form, "p.kelisim-consent__error");
        assert!(error.has_attribute("hidden"));
        assert!(!error.id().is_empty());
        let receipt: HtmlInputElement =
            field(&form, "input[name=kelisim_receipt]").unchecked_into();
        assert_eq!(
            (receipt.type_().as_str(), receipt.value().as_str()),
            ("hidden", "")
        );

        drop(guard);
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn label_is_rendered_as_text_never_html() {
        let form = add_form("t-text", "en", "", FEEDBACK);
        let guard = install(None);
        let label = field(&form, "label.kelisim-consent__label");
        assert_eq!(
            label.text_content().as_deref(),
            Some("I agree to the processing of my <b>personal</b> data")
        );
        assert_eq!(label.child_element_count(), 0, "no <b> element was parsed");
        drop(guard);
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn unticked_submit_is_blocked_with_an_accessible_error() {
        clear_storage();
        let form = add_form("t-block", "ru", "", FEEDBACK);
        let guard = install(None);
        let (_handler, site_saw) = site_handler(&form);

        assert!(submit_event(&form), "submission prevented");
        assert_eq!(site_saw.get(), 0, "the site's own handler never saw it");

        let b = checkbox(&form);
        let error = field(&form, "p.kelisim-consent__error");
        assert!(!error.has_attribute("hidden"), "error visible");
        assert_eq!(error.get_attribute("role").as_deref(), Some("alert"));
        assert_eq!(
            error.text_content().as_deref(),
            Some("Отметьте согласие, чтобы отправить форму")
        );
        assert_eq!(b.get_attribute("aria-invalid").as_deref(), Some("true"));
        assert_eq!(b.get_attribute("aria-describedby"), Some(error.id()));
        let focused = document().active_element().expect("something has focus");
        assert_eq!(
            AsRef::<JsValue>::as_ref(&focused),
            AsRef::<JsValue>::as_ref(&b)
        );
        assert_eq!(queue().length(), 0, "nothing recorded");
        assert_eq!(
            field(&form, "input[name=kelisim_receipt]").get_attribute("value"),
            None
        );

        // Ticking (a real click: input and change events) clears the error.
        b.click();
        assert!(b.checked());
        assert!(error.has_attribute("hidden"));
        assert!(!error.has_attribute("role"));
        assert!(!b.has_attribute("aria-invalid"));
        assert!(!b.has_attribute("aria-describedby"));

        drop(guard);
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn ticked_submit_passes_and_queues_a_receipt_without_typed_values() {
        clear_storage();
        let form = add_form("t-pass", "kk", "", FEEDBACK);
        let guard = install(None);
        let (_handler, site_saw) = site_handler(&form);
        type_into(&form, "name", "Айгерим Сапарова");
        type_into(&form, "phone", " 8 (701) 123-45-67 ");
        type_into(&form, "message", "Нужна доставка двух паллет в Шымкент");

        checkbox(&form).click();
        assert!(!submit_event(&form), "submission allowed");
        assert_eq!(site_saw.get(), 1, "the site's handler ran");

        let reference: HtmlInputElement =
            field(&form, "input[name=kelisim_receipt]").unchecked_into();
        let key = reference.value();
        assert!(
            receipt::is_key(&key),
            "hidden field holds a 32-hex key: {key:?}"
        );

        let items = queue();
        assert_eq!(items.length(), 1);
        let item = items.get(0);
        assert_eq!(get(&item, &["key"]).as_string(), Some(key.clone()));
        assert_eq!(get(&item, &["site"]).as_string().as_deref(), Some("demo"));
        assert_eq!(get(&item, &["kind"]).as_string().as_deref(), Some("form"));
        assert_eq!(get(&item, &["event"]).as_string().as_deref(), Some("given"));
        assert_eq!(get(&item, &["lang"]).as_string().as_deref(), Some("kk"));
        assert_eq!(
            get(&item, &["policy_version"]).as_string().as_deref(),
            Some("2026-03")
        );
        assert_eq!(
            json(&get(&item, &["purposes"])),
            r#"[{"id":"feedback","granted":true}]"#
        );
        assert_eq!(
            json(&get(&item, &["subject", "identifiers"])),
            r#"[{"type":"phone","value":"8 (701) 123-45-67"}]"#
        );
        let browser_id = get(&item, &["subject", "browser_id"]).as_string();
        assert!(browser_id.as_deref().is_some_and(receipt::is_key));
        assert_eq!(
            storage()
                .get_item(receipt::BROWSER_ID_KEY)
                .expect("readable"),
            browser_id
        );
        assert_eq!(
            json(&get(&item, &["context"])).replace(&page_url(), "PAGE"),
            r#"{"page_url":"PAGE","form_id":"t-pass","fields":["name","phone","message"],"gpc":false}"#
        );
        let stored = storage()
            .get_item(receipt::QUEUE_KEY)
            .expect("readable")
            .expect("queued");
        for typed in ["Айгерим", "Сапарова", "Шымкент", "паллет"] {
            assert!(!stored.contains(typed), "{typed:?} must not leave the page");
        }

        // The same submission again (a site's handler calling form.submit() after the event,
        // or a double click) records nothing new; a changed phone records a new receipt.
        assert!(!submit_event(&form));
        assert_eq!(queue().length(), 1);
        assert_eq!(reference.value(), key);
        type_into(&form, "phone", "+7 777 000 11 22");
        assert!(!submit_event(&form));
        assert_eq!(queue().length(), 2);
        assert_ne!(reference.value(), key);

        drop(guard);
        remove(&form);
    }

    /// The page address the receipt must carry: the test page's, without query or fragment.
    fn page_url() -> String {
        let href = crate::dom::window()
            .and_then(|w| w.location().href().ok())
            .expect("href");
        crate::policy::clean_page_url(&href)
    }

    #[wasm_bindgen_test]
    fn form_submit_call_is_blocked_while_unticked() {
        clear_storage();
        let form = add_form("t-call", "ru", "", FEEDBACK);
        let guard = install(None);
        // What a site script does: look up `form.submit` and call it. If the wrapper failed,
        // the test page would navigate away and the run would fail loudly.
        let submit: Function = Reflect::get(&form, &"submit".into())
            .expect("submit")
            .dyn_into()
            .expect("a function");
        submit.call0(&form).expect("wrapper does not throw");
        let error = field(&form, "p.kelisim-consent__error");
        assert!(!error.has_attribute("hidden"), "error visible");
        assert_eq!(queue().length(), 0);

        drop(guard);
        assert!(
            !js_sys::Object::has_own(form.as_ref(), &"submit".into()),
            "dropping the guard restores the browser's submit"
        );
        assert!(
            form.query_selector(".kelisim-consent")
                .expect("ok")
                .is_none()
        );
        assert!(
            form.query_selector("[name=kelisim_receipt]")
                .expect("ok")
                .is_none()
        );
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn browser_validation_shows_our_error() {
        let form = add_form("t-invalid", "en", "", FEEDBACK);
        let guard = install(None);
        let b = checkbox(&form);
        // What a button click or requestSubmit() runs first: constraint validation.
        assert!(!b.check_validity());
        let error = field(&form, "p.kelisim-consent__error");
        assert!(!error.has_attribute("hidden"));
        assert_eq!(
            error.text_content().as_deref(),
            Some("Tick the box to send the form")
        );
        assert_eq!(b.get_attribute("aria-invalid").as_deref(), Some("true"));
        drop(guard);
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn forms_without_personal_data_are_left_alone() {
        let search = add_form(
            "t-search",
            "ru",
            r#"role="search""#,
            r#"<input type="search" name="q"><button>Найти</button>"#,
        );
        let ignored = add_form("t-ignored", "ru", "data-kelisim-ignore", FEEDBACK);
        let guard = install(None);
        for form in [&search, &ignored] {
            assert!(
                form.query_selector(".kelisim-consent")
                    .expect("ok")
                    .is_none()
            );
            assert!(!submit_event(form), "not prevented");
        }
        assert_eq!(guard.guarded_forms(), 0);
        drop(guard);
        remove(&search);
        remove(&ignored);
    }

    #[wasm_bindgen_test]
    fn data_forms_narrows_and_data_kelisim_form_forces() {
        let chosen = add_form(
            "t-chosen",
            "ru",
            r#"class="lead" data-kelisim-form"#,
            r#"<input name="q"><button>OK</button>"#,
        );
        let other = add_form("t-other", "ru", "", FEEDBACK);
        let guard = install(Some("form.lead"));
        assert!(
            chosen
                .query_selector(".kelisim-consent")
                .expect("ok")
                .is_some()
        );
        assert!(
            other
                .query_selector(".kelisim-consent")
                .expect("ok")
                .is_none()
        );
        assert!(submit_event(&chosen));
        assert!(!submit_event(&other));
        drop(guard);
        remove(&chosen);
        remove(&other);
    }

    #[wasm_bindgen_test]
    fn invalid_data_forms_selector_is_an_error() {
        let options = Options::from_js(
            JSON::parse(r#"{"site":"demo","collector":"http://127.0.0.1:9","forms":"form[["}"#)
                .expect("JSON"),
        )
        .expect("options");
        let site = SiteConfig::from_js(JSON::parse(CONFIG).expect("JSON"), "demo").expect("config");
        let err =
            Guard::install(options, site, Outbox::new(DEAD_COLLECTOR)).expect_err("bad selector");
        assert!(err.to_string().contains("form[["), "{err}");
    }

    #[wasm_bindgen_test]
    fn forms_added_later_are_guarded_on_first_submit() {
        let guard = install(None);
        let late = add_form("t-late", "en", "", FEEDBACK);
        assert!(
            late.query_selector(".kelisim-consent")
                .expect("ok")
                .is_none()
        );
        assert!(submit_event(&late), "blocked: its new box is not ticked");
        assert!(
            late.query_selector(".kelisim-consent")
                .expect("ok")
                .is_some()
        );
        let error = field(&late, "p.kelisim-consent__error");
        assert!(!error.has_attribute("hidden"));
        drop(guard);
        remove(&late);
    }

    #[wasm_bindgen_test]
    fn block_goes_at_the_end_without_a_submit_button() {
        let form = add_form(
            "t-nobutton",
            "ru",
            "",
            r#"<input type="email" name="email">"#,
        );
        let guard = install(None);
        let last = form.last_element_child().expect("children");
        assert_eq!(
            last.get_attribute("name").as_deref(),
            Some("kelisim_receipt")
        );
        let block = last.previous_element_sibling().expect("block");
        assert_eq!(block.class_name(), "kelisim-consent");
        drop(guard);
        remove(&form);
    }
}
