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
//!
//! This file: which forms are guarded and the events the loader forwards. `block`: the consent
//! block on each form. `record`: the receipt a ticked submission queues, and the plain
//! checkbox's. The rules they ask are `kelisim_widget_core::policy`'s.

mod block;
mod record;

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

/// The guard in a real browser (`cargo xtask wasm-test`): builds forms in the test page's
/// document and drives them as the loader does (it forwards `submit`, `invalid`, `change` and
/// `form.submit()`); the loader's own wiring is covered by the end-to-end tests.
#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests {
    use std::rc::Rc;

    use js_sys::{JSON, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_test::wasm_bindgen_test;
    use web_sys::{Element, HtmlFormElement, HtmlInputElement};

    use super::Guard;
    use crate::config::{Options, SiteConfig};
    use crate::receipt::{self, Outbox, test_host};

    const COLLECTOR: &str = "http://127.0.0.1:9";

    const CONFIG: &str = r#"{
      "site": "demo", "revision": "0000000000000000",
      "operator": { "name": "ТОО «Алтын Жол Логистика»", "bin": "180940012348" },
      "policy": { "version": "2026-03", "url": "http://127.0.0.1:9/v1/sites/demo/policies/2026-03" },
      "languages": ["ru", "kk", "en"], "default_language": "ru",
      "texts": {
        "ru": { "label": "Я согласен(на) на обработку персональных данных", "link": "Текст согласия", "error": "Отметьте согласие, чтобы отправить форму", "receipt": "Квитанция о согласии" },
        "kk": { "label": "Дербес деректерді жинауға және өңдеуге келісемін", "link": "Келісім мәтіні", "error": "Форманы жіберу үшін келісімді белгілеңіз", "receipt": "Келісім туралы түбіртек" },
        "en": { "label": "I agree to the processing of my <b>personal</b> data", "link": "Consent text", "error": "Tick the box to send the form", "receipt": "Your consent receipt" }
      },
      "purposes": [
        { "id": "feedback", "required": true },
        { "id": "newsletter", "required": false, "label": { "ru": "Хочу получать новости по e-mail", "kk": "Жаңалықтарды e-mail арқылы алғым келеді", "en": "Send me <i>news</i> by e-mail" } }
      ]
    }"#;

    const FEEDBACK: &str = r#"
      <input name="name" autocomplete="name">
      <input name="phone" type="tel">
      <textarea name="message"></textarea>
      <input type="hidden" name="lang" value="kk">
      <div class="actions"><button type="submit">Жіберу</button></div>"#;

    fn document() -> web_sys::Document {
        crate::dom::document()
    }

    fn storage() -> web_sys::Storage {
        crate::dom::local_storage().expect("test page has localStorage")
    }

    fn clear_storage() {
        for key in [
            receipt::QUEUE_KEY,
            receipt::BROWSER_ID_KEY,
            receipt::ACKED_KEY,
            receipt::RETRY_KEY,
        ] {
            storage().remove_item(key).expect("removable");
        }
    }

    fn install(forms: Option<&str>) -> (Guard, test_host::Posts) {
        let mut options = String::from(r#"{"site":"demo","collector":""#);
        options.push_str(COLLECTOR);
        options.push('"');
        if let Some(selector) = forms {
            options.push_str(r#","forms":"#);
            options.push_str(&serde_json::to_string(selector).expect("JSON string"));
        }
        options.push('}');
        let options =
            Options::from_js(&JSON::parse(&options).expect("options JSON")).expect("valid options");
        let site = SiteConfig::from_js(&JSON::parse(CONFIG).expect("config JSON"), "demo")
            .expect("valid config");
        let (host, posts) = test_host::recording();
        let outbox = Outbox::new(&options.collector, host);
        let guard = Guard::install(options, Rc::new(site), Rc::new(outbox), page(forms))
            .expect("guard installs");
        // As the loader does right after `start`.
        guard.scan(page_forms());
        (guard, posts)
    }

    /// The loader's page answers (`lang` as its `langOf`, without shadow roots here; `personal`
    /// narrowed by `data-forms` as the loader's is).
    fn page(forms: Option<&str>) -> super::Page {
        let only = forms.map(str::to_owned);
        let page = js_sys::Object::new();
        let lang =
            wasm_bindgen::closure::Closure::<dyn Fn(Element) -> String>::new(|e: Element| {
                e.closest("[lang]")
                    .ok()
                    .flatten()
                    .and_then(|h| h.get_attribute("lang"))
                    .unwrap_or_default()
            });
        // The loader's generated rules are bound to these by one table of cases (loader_rules).
        let personal = wasm_bindgen::closure::Closure::<dyn Fn(HtmlFormElement) -> bool>::new(
            move |form: HtmlFormElement| {
                if let Some(selector) = &only
                    && !form.matches(selector).unwrap_or(true)
                {
                    return false;
                }
                let elements = form.elements();
                let fields = (0..elements.length())
                    .filter_map(|i| elements.item(i))
                    .map(|e| super::record::describe_all(&e))
                    .collect();
                kelisim_widget_core::policy::is_personal_data_form(
                    &kelisim_widget_core::policy::FormInfo {
                        forced: form.has_attribute("data-kelisim-form"),
                        ignored: form.has_attribute("data-kelisim-ignore"),
                        fields,
                    },
                )
            },
        );
        let typed = wasm_bindgen::closure::Closure::<dyn Fn(Element) -> bool>::new(|e: Element| {
            kelisim_widget_core::recorders::role(&super::record::describe_all(&e)).is_some()
        });
        Reflect::set(&page, &"lang".into(), lang.as_ref()).expect("set lang");
        Reflect::set(&page, &"personal".into(), personal.as_ref()).expect("set personal");
        Reflect::set(&page, &"typed".into(), typed.as_ref()).expect("set typed");
        // The test page lives as long as the test run: leaking the closures is harmless here.
        lang.forget();
        personal.forget();
        typed.forget();
        page.unchecked_into()
    }

    /// Every form of the test page, as the loader hands them over.
    fn page_forms() -> Vec<HtmlFormElement> {
        let forms = document().forms();
        (0..forms.length())
            .filter_map(|i| forms.item(i))
            .map(JsCast::unchecked_into)
            .collect()
    }

    /// Adds `<form id=… lang=…>inner</form>` to the body (inside a wrapper we remove later).
    fn add_form(id: &str, lang: &str, attrs: &str, inner: &str) -> HtmlFormElement {
        let doc = document();
        let wrapper = doc.create_element("div").expect("div");
        wrapper.set_inner_html(
            &[
                r#"<form action="/feedback" method="post" id=""#,
                id,
                r#"" lang=""#,
                lang,
                r#"" "#,
                attrs,
                ">",
                inner,
                "</form>",
            ]
            .concat(),
        );
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

    fn has(form: &HtmlFormElement, selector: &str) -> bool {
        form.query_selector(selector)
            .expect("valid selector")
            .is_some()
    }

    fn type_into(form: &HtmlFormElement, name: &str, value: &str) {
        let selector = ["[name=", name, "]"].concat();
        Reflect::set(&field(form, &selector), &"value".into(), &value.into()).expect("set value");
    }

    fn checkbox(form: &HtmlFormElement) -> HtmlInputElement {
        field(form, "input.kelisim-consent__box").unchecked_into()
    }

    /// A visitor's click on the box, forwarded as the loader forwards `change`.
    fn tick(guard: &Guard, b: &HtmlInputElement) {
        b.click();
        guard.touch(b.as_ref(), false);
    }

    fn reference(form: &HtmlFormElement) -> String {
        field(form, "input[name=kelisim_receipt]")
            .unchecked_into::<HtmlInputElement>()
            .value()
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

    fn focused_is(element: &Element) -> bool {
        document()
            .active_element()
            .is_some_and(|f| AsRef::<JsValue>::as_ref(&f) == AsRef::<JsValue>::as_ref(element))
    }

    #[wasm_bindgen_test]
    fn consent_block_follows_the_dom_contract() {
        clear_storage();
        let form = add_form("t-contract", "kk-KZ", "", FEEDBACK);
        let (guard, _) = install(None);

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
                "kelisim-consent__error",
                "kelisim-consent__purpose"
            ]
        );
        let b = checkbox(&form);
        assert_eq!(b.type_(), "checkbox");
        assert_eq!(b.name(), "kelisim_consent");
        assert_eq!(b.value(), "yes");
        // aria-required, not required: validation plugins that read `required` leave it alone,
        // and the browser still refuses the form with the site's own message.
        assert!(!b.required() && !b.checked());
        assert_eq!(b.get_attribute("aria-required").as_deref(), Some("true"));
        assert_eq!(
            b.validation_message().as_deref(),
            Ok("Форманы жіберу үшін келісімді белгілеңіз")
        );
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
        assert!(
            !has(&form, ".kelisim-consent"),
            "dropping removes the block"
        );
        assert!(!has(&form, "[name=kelisim_receipt]"));
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn label_is_rendered_as_text_never_html() {
        let form = add_form("t-text", "en", "", FEEDBACK);
        let (guard, _) = install(None);
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
    fn unticked_submit_is_refused_with_an_accessible_error() {
        clear_storage();
        let form = add_form("t-block", "ru", "", FEEDBACK);
        let (guard, posts) = install(None);

        assert!(!guard.submit(&form), "submission refused");

        let b = checkbox(&form);
        let error = field(&form, "p.kelisim-consent__error");
        assert!(!error.has_attribute("hidden"), "error visible");
        assert_eq!(error.get_attribute("role").as_deref(), Some("alert"));
        assert_eq!(error.get_attribute("lang").as_deref(), Some("ru"));
        assert_eq!(
            error.text_content().as_deref(),
            Some("Отметьте согласие, чтобы отправить форму")
        );
        assert_eq!(b.get_attribute("aria-invalid").as_deref(), Some("true"));
        assert_eq!(b.get_attribute("aria-describedby"), Some(error.id()));
        assert!(focused_is(b.as_ref()), "the box has focus");
        assert_eq!(queue().length(), 0, "nothing recorded");
        assert!(posts.borrow().is_empty(), "nothing sent");
        assert_eq!(reference(&form), "");

        // Ticking (a real click, forwarded as the loader forwards `change`) clears the error.
        tick(&guard, &b);
        assert!(b.checked());
        assert!(error.has_attribute("hidden"));
        assert!(!error.has_attribute("role"));
        assert!(!b.has_attribute("aria-invalid"));
        assert!(!b.has_attribute("aria-describedby"));

        drop(guard);
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn browser_validation_shows_our_error_instead_of_its_bubble() {
        let form = add_form("t-invalid", "en", "", FEEDBACK);
        let (guard, _) = install(None);
        let b = checkbox(&form);
        assert!(!b.check_validity(), "invalid while unticked");
        // The loader forwards `invalid` and cancels it when we answer true.
        assert!(guard.touch(b.as_ref(), true));
        let error = field(&form, "p.kelisim-consent__error");
        assert!(!error.has_attribute("hidden"));
        assert_eq!(
            error.text_content().as_deref(),
            Some("Tick the box to send the form")
        );
        assert_eq!(b.get_attribute("aria-invalid").as_deref(), Some("true"));
        // Events on anything else are not ours.
        assert!(!guard.touch(field(&form, "[name=name]").as_ref(), true));
        assert!(!guard.touch(&JsValue::NULL, false));
        // Ticked, the box is valid; unticked again, invalid again.
        tick(&guard, &b);
        assert!(b.check_validity(), "valid once ticked");
        tick(&guard, &b);
        assert!(!b.check_validity(), "invalid once unticked");
        // Ticked by a script, without a `change`: the stale message goes at the browser's
        // `invalid`, and the next try passes.
        b.set_checked(true);
        assert!(guard.touch(b.as_ref(), true));
        assert!(b.check_validity());
        drop(guard);
        assert!(b.check_validity(), "no message of ours left behind");
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn ticked_submit_passes_and_queues_a_receipt_without_typed_values() {
        clear_storage();
        let form = add_form("t-pass", "kk", "", FEEDBACK);
        let (guard, posts) = install(None);
        type_into(&form, "name", "Айгерим Сапарова");
        type_into(&form, "phone", " 8 (701) 123-45-67 ");
        type_into(&form, "message", "Нужна доставка двух паллет в Шымкент");

        tick(&guard, &checkbox(&form));
        assert!(guard.submit(&form), "submission allowed");

        let key = reference(&form);
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
            r#"[{"id":"feedback","granted":true},{"id":"newsletter","granted":false}]"#,
            "the optional purpose's box was left unticked"
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
        // Sent at once, through the loader's transport, as the exact queued body (less the
        // time it was queued), with a withdrawal secret of its own.
        {
            let posts = posts.borrow();
            assert_eq!(posts.len(), 1);
            assert_eq!(posts[0].url, "http://127.0.0.1:9/v1/receipts");
            assert_eq!(posts[0].key, key);
            let mut queued: serde_json::Value = serde_json::from_str(&json(&item)).expect("JSON");
            assert!(queued["queued_at"].is_number(), "{queued}");
            queued.as_object_mut().expect("object").remove("queued_at");
            let sent: serde_json::Value = serde_json::from_str(&posts[0].body).expect("JSON");
            assert_eq!(sent, queued);
            let secret = sent["secret"].as_str().expect("a secret");
            assert!(receipt::is_key(secret) && secret != key, "{sent}");
        }

        // The same submission again (a site's handler calling form.submit() after the event,
        // or a double click) records nothing new; a changed phone records a new receipt.
        assert!(guard.submit(&form));
        assert_eq!(queue().length(), 1);
        assert_eq!(reference(&form), key);
        type_into(&form, "phone", "+7 777 000 11 22");
        assert!(guard.submit(&form));
        assert_eq!(queue().length(), 2);
        assert_ne!(reference(&form), key);

        // Unticking withdraws the reference the next submission would have carried.
        tick(&guard, &checkbox(&form));
        assert_eq!(reference(&form), "");
        assert!(!guard.submit(&form));

        drop(guard);
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn the_shield_learns_what_is_typed_into_guarded_fields_only() {
        clear_storage();
        let form = add_form(
            "t-shield",
            "ru",
            "",
            r#"<input name="name" value="Prefilled Servername">
               <input name="phone" type="tel"><textarea name="message"></textarea>
               <input type="hidden" name="campaign" value="spring-promo">
               <button type="submit">Go</button>"#,
        );
        let other = add_form(
            "t-other",
            "ru",
            r#"role="search""#,
            r#"<input name="q" type="search"><button>Search</button>"#,
        );
        let (guard, _) = install(None);
        let shield = guard.shield();
        // What the server filled in is protected from the start.
        assert!(shield.redact("hello prefilled servername").is_some());
        // Typing, forwarded as the loader forwards `input` events.
        type_into(&form, "message", "Жеткізу Алматыдан");
        guard.typed(field(&form, "[name=message]").as_ref(), false);
        assert_eq!(
            shield.redact("msg=Жеткізу алматыдан!").as_deref(),
            Some("msg=[kelisim:redacted]!")
        );
        // The field changed before it was committed: the old value is free again.
        type_into(&form, "message", "Другой текст");
        guard.typed(field(&form, "[name=message]").as_ref(), true);
        assert!(shield.redact("Жеткізу Алматыдан").is_none());
        assert!(shield.redact("другой текст").is_some());
        // Hidden fields, the consent box and forms without personal data teach nothing.
        guard.typed(field(&form, "[name=campaign]").as_ref(), true);
        assert!(shield.redact("spring-promo").is_none());
        type_into(&other, "q", "Караганда");
        guard.typed(field(&other, "[name=q]").as_ref(), true);
        assert!(shield.redact("Караганда").is_none());
        guard.typed(checkbox(&form).as_ref(), true);
        // Phones need no typing: a number written as one is personal data.
        assert!(shield.redact_number(87_011_234_567.0));
        assert!(!shield.redact_number(98_765_432.0));

        // A GET submission leaves the note naming its typed fields, for the next page.
        form.set_method("get");
        form.set_action("/landing?old=1");
        let session = crate::dom::global("sessionStorage").unchecked_into::<web_sys::Storage>();
        session
            .remove_item(crate::shield::GET_NOTE)
            .expect("removable");
        tick(&guard, &checkbox(&form));
        assert!(guard.submit(&form));
        let note = session
            .get_item(crate::shield::GET_NOTE)
            .expect("readable")
            .expect("a note");
        let action = form.action();
        let action = action.strip_suffix("?old=1").expect("the action as set");
        assert_eq!(note, [action, "\nname\nphone\nmessage"].concat());
        session
            .remove_item(crate::shield::GET_NOTE)
            .expect("removable");

        drop(guard);
        remove(&form);
        remove(&other);
    }

    /// The page address the receipt must carry: the test page's, without query or fragment.
    fn page_url() -> String {
        kelisim_widget_core::policy::clean_page_url(&document().url().expect("url"))
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
        let (guard, _) = install(None);
        for form in [&search, &ignored] {
            assert!(!has(form, ".kelisim-consent"));
            assert!(guard.submit(form), "allowed");
        }
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
        let (guard, _) = install(Some("form.lead"));
        assert!(has(&chosen, ".kelisim-consent"));
        assert!(!has(&other, ".kelisim-consent"));
        assert!(!guard.submit(&chosen));
        assert!(guard.submit(&other));
        drop(guard);
        remove(&chosen);
        remove(&other);
    }

    #[wasm_bindgen_test]
    fn invalid_data_forms_selector_is_an_error() {
        let options = Options::from_js(
            &JSON::parse(r#"{"site":"demo","collector":"http://127.0.0.1:9","forms":"form[["}"#)
                .expect("JSON"),
        )
        .expect("options");
        let site =
            SiteConfig::from_js(&JSON::parse(CONFIG).expect("JSON"), "demo").expect("config");
        let (host, _) = test_host::recording();
        let err = Guard::install(
            options,
            Rc::new(site),
            Rc::new(Outbox::new(COLLECTOR, host)),
            page(None),
        )
        .err()
        .expect("bad selector");
        assert!(err.contains("form[["), "{err}");
    }

    #[wasm_bindgen_test]
    fn forms_added_later_are_guarded_by_scan_or_at_the_latest_on_submit() {
        let (guard, _) = install(None);
        let late = add_form("t-late", "en", "", FEEDBACK);
        assert!(!has(&late, ".kelisim-consent"), "not yet scanned");
        guard.scan(page_forms());
        assert!(has(&late, ".kelisim-consent"), "guarded by the scan");
        guard.scan(page_forms());
        assert_eq!(
            late.query_selector_all(".kelisim-consent")
                .expect("ok")
                .length(),
            1,
            "a second scan adds nothing"
        );

        let later = add_form("t-later", "en", "", FEEDBACK);
        assert!(!guard.submit(&later), "refused: its new box is not ticked");
        assert!(!field(&later, "p.kelisim-consent__error").has_attribute("hidden"));
        drop(guard);
        remove(&late);
        remove(&later);
    }

    #[wasm_bindgen_test]
    fn consents_the_plain_checkbox_took_become_receipts_under_their_reference() {
        clear_storage();
        // What the loader's fallback left (loader.js, note()): one valid note, and two that are
        // not (no key, not an object) and are dropped.
        let note = r#"[
          {"key": "0123456789abcdef0123456789abcdef", "policy": "2026-03", "lang": "kk",
           "url": "https://user:pw@example.kz/contact.html", "form": "callback", "gpc": true,
           "fields": [["input", "text", "name"], ["input", "tel", "phone"],
                      ["input", "hidden", "utm"], ["input", "checkbox", "kelisim_consent"],
                      ["input", "hidden", "kelisim_receipt"], ["button", "", ""]]},
          {"policy": "2026-03"}, 7]"#;
        storage()
            .set_item(super::record::FALLBACK_KEY, note)
            .expect("writable");
        let (guard, posts) = install(None);
        guard.flush_and_notify();
        assert_eq!(
            storage()
                .get_item(super::record::FALLBACK_KEY)
                .expect("readable"),
            None,
            "taken once"
        );
        let posts = posts.borrow();
        assert_eq!(posts.len(), 1, "{posts:?}");
        let sent: receipt::ReceiptRequest =
            serde_json::from_str(&posts[0].body).expect("a receipt request on the wire");
        assert_eq!(sent.key, "0123456789abcdef0123456789abcdef");
        assert_eq!(sent.policy_version, "2026-03");
        assert_eq!(sent.lang, "kk");
        assert_eq!(sent.context.page_url, "https://example.kz/contact.html");
        assert_eq!(sent.context.form_id.as_deref(), Some("callback"));
        assert_eq!(sent.context.fields, ["name", "phone"]);
        assert!(sent.context.gpc);
        assert!(
            sent.subject.identifiers.is_empty(),
            "the loader keeps no phone"
        );
        assert_eq!(
            serde_json::to_string(&sent.purposes).expect("JSON"),
            r#"[{"id":"feedback","granted":true},{"id":"newsletter","granted":false}]"#,
            "the plain checkbox shows no optional box, so it grants no optional purpose"
        );
        assert!(receipt::is_key(&sent.subject.browser_id));
        assert_eq!(queue().length(), 1, "kept until the collector answers");
        drop(posts);
        drop(guard);
    }

    #[wasm_bindgen_test]
    fn each_optional_purpose_has_its_own_unticked_box_and_is_granted_only_when_ticked() {
        clear_storage();
        let form = add_form("t-optional", "kk", "", FEEDBACK);
        let (guard, _) = install(None);
        let news: HtmlInputElement = field(
            &form,
            ".kelisim-consent__purpose input.kelisim-consent__option",
        )
        .unchecked_into();
        assert_eq!(news.type_(), "checkbox");
        assert_eq!(
            (news.name().as_str(), news.value().as_str()),
            ("kelisim_purpose", "newsletter")
        );
        assert!(!news.checked(), "never pre-ticked");
        assert!(!news.required() && !news.has_attribute("aria-required"));
        assert!(
            news.check_validity(),
            "leaving it unticked holds nothing back"
        );
        let label = field(&form, ".kelisim-consent__purpose label");
        assert_eq!(label.get_attribute("for"), Some(news.id()));
        assert_ne!(news.id(), checkbox(&form).id());
        assert_eq!(
            label.text_content().as_deref(),
            Some("Жаңалықтарды e-mail арқылы алғым келеді"),
            "in the form's language"
        );
        let purposes = |i: u32| json(&get(&queue().get(i), &["purposes"]));

        // The optional box alone sends nothing: the consent box is what the form needs.
        type_into(&form, "phone", "+7 701 123 45 67");
        tick(&guard, &news);
        assert!(
            !guard.submit(&form),
            "the required consent box is still unticked"
        );
        assert_eq!(queue().length(), 0);

        tick(&guard, &checkbox(&form));
        assert!(guard.submit(&form));
        assert_eq!(
            purposes(0),
            r#"[{"id":"feedback","granted":true},{"id":"newsletter","granted":true}]"#
        );

        // Unticked again before the next submission: a new receipt, which grants it no more.
        news.set_checked(false);
        assert!(guard.submit(&form));
        assert_eq!(queue().length(), 2);
        assert_eq!(
            purposes(1),
            r#"[{"id":"feedback","granted":true},{"id":"newsletter","granted":false}]"#
        );

        drop(guard);
        assert!(!has(&form, "[name=kelisim_purpose]"), "dropping removes it");
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn a_site_box_marked_data_kelisim_purpose_is_adopted_for_its_purpose() {
        clear_storage();
        let form = add_form(
            "t-adopt-purpose",
            "ru",
            "",
            r#"<input type="email" name="email">
               <label><input type="checkbox" name="news" value="1" data-kelisim-purpose="newsletter">
               Новости</label><button>Send</button>"#,
        );
        let (guard, _) = install(None);
        assert!(
            !has(&form, ".kelisim-consent__purpose"),
            "no second box for it"
        );
        let news: HtmlInputElement = field(&form, "[data-kelisim-purpose]").unchecked_into();
        tick(&guard, &checkbox(&form));
        news.set_checked(true);
        assert!(guard.submit(&form));
        assert_eq!(
            json(&get(&queue().get(0), &["purposes"])),
            r#"[{"id":"feedback","granted":true},{"id":"newsletter","granted":true}]"#
        );
        drop(guard);
        assert!(has(&form, "[data-kelisim-purpose]"), "the site's box stays");
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn block_goes_at_the_end_without_a_submit_button() {
        let form = add_form(
            "t-nobutton",
            "ru",
            "",
            r#"<input type="email" name="email">"#,
        );
        let (guard, _) = install(None);
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

    #[wasm_bindgen_test]
    fn a_site_checkbox_marked_data_kelisim_consent_is_adopted() {
        clear_storage();
        let form = add_form(
            "t-adopt",
            "en",
            "",
            r#"<input type="email" name="email">
               <p><label><input type="checkbox" name="agree" value="1" data-kelisim-consent>
               I agree</label></p><button>Send</button>"#,
        );
        let (guard, _) = install(None);
        assert!(!has(&form, ".kelisim-consent"), "no second box");
        let b: HtmlInputElement = field(&form, "[data-kelisim-consent]").unchecked_into();
        assert_eq!(b.get_attribute("aria-required").as_deref(), Some("true"));
        assert!(!b.check_validity(), "invalid while unticked");
        assert!(!guard.submit(&form));
        let error = field(&form, "p.kelisim-consent__error");
        let label = b.closest("label").expect("ok").expect("label");
        assert_eq!(
            label
                .next_element_sibling()
                .map(|e| AsRef::<JsValue>::as_ref(&e) == AsRef::<JsValue>::as_ref(&error)),
            Some(true),
            "the message follows the site's label"
        );
        assert!(!error.has_attribute("hidden"));
        assert_eq!(b.get_attribute("aria-describedby"), Some(error.id()));

        tick(&guard, &b);
        assert!(error.has_attribute("hidden"));
        assert!(guard.submit(&form));
        assert!(receipt::is_key(&reference(&form)));

        let row = error
            .next_element_sibling()
            .expect("the optional purpose's row");
        assert_eq!(row.class_name(), "kelisim-consent__purpose");
        assert_eq!(
            row.text_content().as_deref(),
            Some("Send me <i>news</i> by e-mail"),
            "after the message, as text"
        );

        drop(guard);
        assert!(
            !b.has_attribute("aria-required") && b.check_validity(),
            "the site's box is as it was"
        );
        assert!(!has(&form, ".kelisim-consent__error"));
        assert!(!has(&form, ".kelisim-consent__purpose"));
        assert!(!has(&form, "[name=kelisim_receipt]"));
        remove(&form);
    }

    #[wasm_bindgen_test]
    fn an_acknowledged_receipt_gets_a_notice_until_the_visitor_closes_it() {
        clear_storage();
        let form = add_form("t-notice", "ru", "", FEEDBACK);
        let (guard, _) = install(None);
        tick(&guard, &checkbox(&form));
        assert!(guard.submit(&form));
        let key = reference(&form);
        let notice = || document().query_selector(".kelisim-notice").expect("ok");

        guard.delivered(&key, 0);
        assert!(notice().is_none(), "no answer, no notice");
        assert_eq!(queue().length(), 1, "kept for the next page");

        guard.delivered(&key, 201);
        assert_eq!(queue().length(), 0, "acknowledged");
        let shown = notice().expect("notice shown");
        assert_eq!(shown.get_attribute("role").as_deref(), Some("status"));
        let link = shown
            .query_selector("a.kelisim-notice__link")
            .expect("ok")
            .expect("link");
        let lang = document()
            .document_element()
            .and_then(|e| e.get_attribute("lang"))
            .filter(|l| ["kk", "en"].contains(&l.as_str()))
            .unwrap_or_else(|| "ru".into());
        assert_eq!(
            link.get_attribute("href"),
            Some(
                [
                    "http://127.0.0.1:9/v1/receipts/",
                    &key,
                    "?site=demo&lang=",
                    &lang
                ]
                .concat()
            )
        );

        // Closing: the close button's form is submitted (dialog method) and refused by us.
        let close: HtmlFormElement = shown
            .query_selector("form.kelisim-notice__close")
            .expect("ok")
            .expect("close form")
            .unchecked_into();
        let button = close.query_selector("button").expect("ok").expect("button");
        assert!(
            button
                .get_attribute("aria-label")
                .is_some_and(|l| !l.is_empty())
        );
        assert!(!guard.submit(&close));
        assert!(notice().is_none(), "closed");
        assert_eq!(storage().get_item(receipt::ACKED_KEY).expect("ok"), None);

        drop(guard);
        remove(&form);
    }
}
