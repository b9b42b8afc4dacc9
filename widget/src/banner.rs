//! The cookie banner on the page: the first layer (Accept all, Reject all, Settings, equally
//! prominent), the preferences centre (a native modal `<dialog>`: focus trapped, Esc closes,
//! dialog semantics), the floating control that reopens it, and what a choice does: the
//! first-party cookie, a receipt through the outbox, and the loader told what is now granted
//! (it runs the gated scripts and updates Google Consent Mode).
//!
//! Like the guard, the banner registers no listener: the loader forwards every `click`
//! (`Banner::click`), and the notice's close button is a `<form method="dialog">` whose
//! submission arrives through the loader's submit listener. The rules are in `choice`.

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, HtmlInputElement};

use crate::config::{self, CookieTexts, Cookies, Options, SiteConfig, Text};
use crate::dom;
use crate::notice::ReceiptNotice;
use crate::receipt::{self, ConsentEvent, Context, Grant, Host, Kind, Outbox, ReceiptRequest};
use kelisim_widget_core::choice::{self, Grants, Record};
use kelisim_widget_core::policy;

/// What a click on one of the banner's controls (or a site's `data-kelisim-open`) asks for.
const ACTIONS: &str = "[data-kelisim-action],[data-kelisim-open]";

/// The banner and its state on the page. Dropping it removes everything it added.
pub struct Banner {
    document: Document,
    site: Rc<SiteConfig>,
    /// The texts in `lang`.
    texts: CookieTexts,
    outbox: Rc<Outbox>,
    host: Host,
    collector: String,
    /// The language shown (one the site has texts for).
    lang: String,
    /// `navigator.globalPrivacyControl` at start.
    gpc: bool,
    /// The valid stored choice and the reference of the receipt that recorded it.
    state: RefCell<Option<(Grants, Option<String>)>>,
    shown: RefCell<Shown>,
}

/// What the banner put on the page.
#[derive(Default)]
struct Shown {
    banner: Option<Element>,
    prefs: Option<Element>,
    /// The settings' toggles, one per category in the config's order.
    toggles: Vec<HtmlInputElement>,
    open: Option<Element>,
    notice: Option<ReceiptNotice>,
}

impl Drop for Banner {
    fn drop(&mut self) {
        let shown = self.shown.get_mut();
        shown.notice = None;
        for element in [&shown.banner, &shown.prefs, &shown.open]
            .into_iter()
            .flatten()
        {
            element.remove();
        }
    }
}

impl Banner {
    /// Applies the stored choice, or shows the first layer when there is none for the current
    /// revision, and tells the loader what is granted. Without cookie categories there is no
    /// banner (`None`) and nothing gated runs.
    pub fn start(
        options: &Options,
        site: Rc<SiteConfig>,
        outbox: Rc<Outbox>,
        host: Host,
    ) -> Option<Self> {
        let Some(cookies) = &site.cookies else {
            host.consent(&Array::new(), &JsValue::NULL);
            return None;
        };
        let document = dom::document();
        let page = document
            .document_element()
            .map(|root| dom::attr(&root, "lang"));
        let notice = site.notice_for(options.lang.as_deref(), page.as_deref());
        // `SiteConfig::from_js` read cookie texts for every language, as there are cookies.
        let texts = notice.texts.cookies.clone()?;
        let lang = notice.lang.clone();
        let gpc =
            config::get(&dom::global("navigator"), "globalPrivacyControl").as_bool() == Some(true);
        let header = document_cookie(&document).unwrap_or_default();
        let stored = choice::cookie_value(&header, choice::COOKIE)
            .and_then(|value| choice::stored(value, &cookies.revision, &cookies.categories))
            .map(|(grants, reference)| (grants, reference.map(ToOwned::to_owned)));
        // Withdrawn at the collector: forgotten here too, so every page asks until answered.
        let stored = stored.filter(|(_, reference)| {
            let given = choice::still_given(reference.as_deref(), options.withdrawn.as_deref());
            if !given {
                let line = [choice::COOKIE, "=; Path=/; Max-Age=0"].concat();
                let _ = Reflect::set(&document, &"cookie".into(), &line.into());
            }
            given
        });
        let banner = Self {
            document,
            site: Rc::clone(&site),
            texts,
            outbox,
            host,
            collector: options.collector.clone(),
            lang,
            gpc,
            state: RefCell::new(None),
            shown: RefCell::default(),
        };
        match stored {
            Some((grants, reference)) => {
                banner.tell(&grants, true);
                banner.state.replace(Some((grants, reference)));
                banner.show_open();
            }
            None => {
                banner.tell(&choice::required_only(&cookies.categories), false);
                banner.show_banner();
            }
        }
        Some(banner)
    }

    /// A click anywhere on the page (forwarded by the loader). True when it was one of the
    /// banner's controls or a `data-kelisim-open` element: the loader then cancels its
    /// default (a footer link to `#` does not jump).
    pub fn click(&self, target: &Element) -> bool {
        let Some(element) = dom::closest(target, ACTIONS) else {
            return false;
        };
        if element.has_attribute("data-kelisim-open") {
            self.show_prefs();
            return true;
        }
        let cookies = self.cookies();
        match dom::attr(&element, "data-kelisim-action").as_str() {
            "accept" => self.choose(choice::accept_all(
                &cookies.categories,
                self.gpc,
                &cookies.gpc_denies,
            )),
            "reject" => self.choose(choice::required_only(&cookies.categories)),
            "save" => self.choose(self.toggled()),
            "settings" => self.show_prefs(),
            "close" => self.close_prefs(),
            _ => return false,
        }
        true
    }

    /// Opens the preferences centre (the floating control, `data-kelisim-open`, the JS API).
    pub fn open(&self) {
        self.show_prefs();
    }

    /// Whether `form` is the close button of the banner's notice (which it then closes).
    pub fn closes(&self, form: &JsValue) -> bool {
        let mut shown = self.shown.borrow_mut();
        if shown.notice.as_ref().is_some_and(|n| n.is_close(form)) {
            shown.notice = None;
            return true;
        }
        false
    }

    fn cookies(&self) -> &Cookies {
        self.site
            .cookies
            .as_ref()
            .expect("a banner exists only with cookie categories")
    }

    /// Tells the loader what is granted; `chosen`: a choice exists, so Google Consent Mode is
    /// updated (before any choice its default, everything denied, stands).
    fn tell(&self, grants: &[bool], chosen: bool) {
        let cookies = self.cookies();
        let ids = Array::new();
        for id in choice::granted_ids(&cookies.categories, grants) {
            ids.push(&JsValue::from_str(id));
        }
        let update = if chosen {
            let update = Object::new();
            for (kind, granted) in choice::consent_mode(&cookies.categories, grants) {
                let value = if granted { "granted" } else { "denied" };
                let _ = Reflect::set(&update, &kind.into(), &value.into());
            }
            update.into()
        } else {
            JsValue::NULL
        };
        self.host.consent(&ids, &update);
    }

    /// A choice: recorded (receipt or withdrawal), kept in the cookie, applied; the banner and
    /// the settings close and the floating control takes their place.
    fn choose(&self, grants: Grants) {
        let cookies = self.cookies();
        let previous = self.state.take();
        let before = previous.as_ref().map(|(g, r)| (g.as_slice(), r.as_deref()));
        let reference = match choice::record(before, &grants, &cookies.categories) {
            Record::Unchanged => previous.as_ref().and_then(|(_, r)| r.clone()),
            record => self.send(&record, &grants),
        };
        let value = choice::cookie(
            &cookies.revision,
            reference.as_deref(),
            &cookies.categories,
            &grants,
        );
        let https = config::get(&dom::global("location"), "protocol").as_string();
        let attributes =
            choice::cookie_attributes(cookies.expiry_days, https.as_deref() == Some("https:"));
        let line = [choice::COOKIE, "=", &value, &attributes].concat();
        let _ = Reflect::set(&self.document, &"cookie".into(), &line.into());

        self.tell(&grants, true);
        let revoked = choice::revoked(previous.as_ref().map(|(g, _)| g.as_slice()), &grants);
        self.state.replace(Some((grants, reference)));
        if let Some(banner) = self.shown.borrow_mut().banner.take() {
            banner.remove();
        }
        self.close_prefs();
        self.show_open();
        if revoked {
            let note = self
                .texts
                .get(Text::ReloadNote)
                .as_string()
                .unwrap_or_default();
            let mut shown = self.shown.borrow_mut();
            shown.notice = None;
            shown.notice = Some(ReceiptNotice::show(&self.document, None, &note, &self.lang));
        }
    }

    /// Queues the receipt (or withdrawal) of `grants`; its reference, if one could be made.
    fn send(&self, record: &Record, grants: &[bool]) -> Option<String> {
        let (Some(key), Some(secret), Some(browser_id)) = (
            receipt::random_key(),
            receipt::random_key(),
            self.outbox.browser_id(),
        ) else {
            dom::warn(
                "kelisim: no crypto.getRandomValues; the choice has no receipt",
                "",
            );
            return None;
        };
        let event = match record {
            Record::Withdraw(reference) => match self.outbox.held_secret(reference) {
                Some(held) => {
                    self.outbox
                        .withdraw(&self.site.site, reference, &key, &held);
                    return Some(key);
                }
                // A choice recorded before withdrawal secrets (or whose secret this browser
                // lost) cannot be withdrawn from here: the refusal is recorded instead.
                None => ConsentEvent::Refused,
            },
            Record::Given => ConsentEvent::Given,
            Record::Refused => ConsentEvent::Refused,
            Record::Updated | Record::Unchanged => ConsentEvent::Updated,
        };
        let categories = self
            .cookies()
            .categories
            .iter()
            .zip(grants)
            .map(|(c, granted)| Grant {
                id: c.id.clone(),
                granted: *granted,
            })
            .collect();
        self.outbox.hold(&key, &secret);
        self.outbox.submit(&ReceiptRequest {
            site: self.site.site.clone(),
            kind: Kind::Cookies,
            event,
            key: key.clone(),
            secret: Some(secret),
            policy_version: self.site.policy_version.clone(),
            lang: self.lang.clone(),
            purposes: None,
            categories: Some(categories),
            subject: receipt::Subject {
                browser_id,
                identifiers: Vec::new(),
            },
            context: Context {
                page_url: policy::clean_page_url(&self.document.url().unwrap_or_default()),
                form_id: None,
                fields: Vec::new(),
                gpc: self.gpc,
            },
        });
        Some(key)
    }

    /// The settings' toggles as a choice: required categories always granted.
    fn toggled(&self) -> Grants {
        let shown = self.shown.borrow();
        self.cookies()
            .categories
            .iter()
            .zip(&shown.toggles)
            .map(|(c, toggle)| c.required || toggle.checked())
            .collect()
    }

    /// The Global Privacy Control note, if the browser sends the signal and it concerns one of
    /// this site's categories.
    fn gpc_note(&self, parent: &Element) {
        let cookies = self.cookies();
        if self.gpc
            && cookies
                .categories
                .iter()
                .any(|c| !c.required && cookies.gpc_denies.contains(&c.id))
        {
            let note = self.element("p", "kelisim-banner__gpc", &[], None);
            dom::set_text(&note, &self.texts.get(Text::GpcNote));
            dom::append(parent, &note);
        }
    }

    /// `<div class="kelisim-banner__actions">` with Accept all and Reject all (same element,
    /// same class, so the same size and weight) and `third`.
    fn actions(&self, parent: &Element, third: (&str, Text)) {
        let actions = self.element("div", "kelisim-banner__actions", &[], None);
        for (action, text) in [
            ("accept", Text::AcceptAll),
            ("reject", Text::RejectAll),
            third,
        ] {
            let button = self.element(
                "button",
                "kelisim-button",
                &[("type", "button"), ("data-kelisim-action", action)],
                None,
            );
            dom::set_text(&button, &self.texts.get(text));
            dom::append(&actions, &button);
        }
        dom::append(parent, &actions);
    }

    /// The first layer, first in the body (read first by screen readers; on small screens it
    /// sits above the page instead of over the form).
    fn show_banner(&self) {
        let texts = &self.texts;
        let section = self.element(
            "section",
            "kelisim-banner",
            &[
                ("aria-labelledby", "kelisim-banner-title"),
                ("lang", &self.lang),
            ],
            None,
        );
        let title = self.element(
            "h2",
            "kelisim-banner__title",
            &[("id", "kelisim-banner-title")],
            None,
        );
        dom::set_text(&title, &texts.get(Text::Title));
        dom::append(&section, &title);
        let body = self.element("p", "kelisim-banner__body", &[], None);
        dom::set_text(&body, &texts.get(Text::Body));
        dom::append(&section, &body);
        self.gpc_note(&section);
        self.actions(&section, ("settings", Text::Settings));
        self.add(&section, true);
        self.shown.borrow_mut().banner = Some(section);
    }

    /// The preferences centre, built afresh from the current choice and shown as a modal.
    fn show_prefs(&self) {
        self.close_prefs();
        let texts = &self.texts;
        let cookies = self.cookies();
        let state = self.state.borrow();
        let required;
        let grants = match &*state {
            Some((grants, _)) => grants,
            // No pre-ticked optional categories.
            None => {
                required = choice::required_only(&cookies.categories);
                &required
            }
        };
        let mut toggles = Vec::new();
        let dialog = self.element(
            "dialog",
            "kelisim-prefs",
            &[
                ("aria-labelledby", "kelisim-prefs-title"),
                ("lang", &self.lang),
            ],
            None,
        );
        let head = self.element("div", "kelisim-prefs__head", &[], None);
        let title = self.element(
            "h2",
            "kelisim-prefs__title",
            &[("id", "kelisim-prefs-title")],
            None,
        );
        dom::set_text(&title, &texts.get(Text::Open));
        let close = texts.get(Text::Close).as_string().unwrap_or_default();
        let button = self.element(
            "button",
            "kelisim-prefs__close",
            &[
                ("type", "button"),
                ("data-kelisim-action", "close"),
                ("aria-label", &close),
                ("title", &close),
            ],
            Some("×"),
        );
        dom::append(&head, &title);
        dom::append(&head, &button);
        dom::append(&dialog, &head);
        self.gpc_note(&dialog);

        for (category, granted) in cookies.categories.iter().zip(grants) {
            let id = ["kelisim-cat-", category.id.as_str()].concat();
            let described = [id.as_str(), "-desc"].concat();
            let block = self.element("div", "kelisim-prefs__category", &[], None);
            let toggle = self.element(
                "input",
                "kelisim-prefs__toggle",
                &[
                    ("type", "checkbox"),
                    ("role", "switch"),
                    ("id", &id),
                    ("aria-describedby", &described),
                ],
                None,
            );
            if *granted {
                dom::set_attrs(&toggle, &[("checked", "")]);
            }
            if category.required {
                dom::set_attrs(&toggle, &[("disabled", "")]);
            }
            let label = self.element("label", "kelisim-prefs__name", &[("for", &id)], None);
            dom::set_text(&label, &texts.category(&category.id, "name"));
            let description = self.element(
                "p",
                "kelisim-prefs__description",
                &[("id", &described)],
                None,
            );
            dom::set_text(&description, &texts.category(&category.id, "description"));
            for child in [&toggle, &label, &description] {
                dom::append(&block, child);
            }
            toggles.push(toggle.unchecked_into());
            if !category.services.is_empty() {
                let mut line = texts.get(Text::Services).as_string().unwrap_or_default();
                for (i, service) in category.services.iter().enumerate() {
                    line.push_str(if i == 0 { " " } else { ", " });
                    line.push_str(service);
                }
                let services = self.element("p", "kelisim-prefs__services", &[], Some(&line));
                dom::append(&block, &services);
            }
            dom::append(&dialog, &block);
        }

        if let Some((_, Some(reference))) = &*state {
            let href =
                policy::receipt_link(&self.collector, &self.site.site, reference, &self.lang);
            let link = self.element(
                "a",
                "kelisim-prefs__receipt",
                &[("href", &href), ("target", "_blank"), ("rel", "noopener")],
                Some(&self.site.notice(Some(&self.lang)).texts.receipt),
            );
            dom::append(&dialog, &link);
        }
        self.actions(&dialog, ("save", Text::Save));
        self.add(&dialog, false);
        dialog.unchecked_ref::<Dialog>().show_modal();
        let mut shown = self.shown.borrow_mut();
        shown.prefs = Some(dialog);
        shown.toggles = toggles;
    }

    fn close_prefs(&self) {
        if let Some(prefs) = self.shown.borrow_mut().prefs.take() {
            prefs.unchecked_ref::<Dialog>().close();
            prefs.remove();
        }
    }

    /// The floating control that reopens the settings once a choice is made.
    fn show_open(&self) {
        if self.shown.borrow().open.is_some() {
            return;
        }
        // A small round control with the label as its accessible name and tooltip: a text pill
        // at the corner covered the page's own controls near it.
        let label = self.texts.get(Text::Open).as_string().unwrap_or_default();
        let button = self.element(
            "button",
            "kelisim-open",
            &[
                ("type", "button"),
                ("data-kelisim-open", ""),
                ("aria-label", &label),
                ("title", &label),
            ],
            None,
        );
        self.add(&button, false);
        self.shown.borrow_mut().open = Some(button);
    }

    fn element(
        &self,
        tag: &str,
        class: &str,
        attrs: &[(&str, &str)],
        text: Option<&str>,
    ) -> Element {
        dom::element(&self.document, tag, class, attrs, text)
    }

    /// Appends `element` to the body, or, with `first`, puts it before everything there.
    fn add(&self, element: &Element, first: bool) {
        if let Some(parent) = dom::body(&self.document) {
            if first {
                dom::prepend(&parent, element);
            } else {
                dom::append(&parent, element);
            }
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// A `<dialog>`: its two methods without web-sys's catching wrappers (a dialog we just
    /// created and attached can always be shown modally).
    type Dialog;
    #[wasm_bindgen(method, js_name = showModal)]
    fn show_modal(this: &Dialog);
    #[wasm_bindgen(method)]
    fn close(this: &Dialog);
}

/// `document.cookie`, read through `Reflect` (one import fewer than web-sys's `HtmlDocument`).
fn document_cookie(document: &Document) -> Option<String> {
    Reflect::get(document, &"cookie".into()).ok()?.as_string()
}

/// The banner in a real browser (`cargo xtask wasm-test`): clicks are forwarded as the loader
/// forwards them; the loader's own gating is covered by the end-to-end tests.
#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests {
    use std::rc::Rc;

    use js_sys::{JSON, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_test::wasm_bindgen_test;
    use web_sys::{Element, HtmlInputElement};

    use super::Banner;
    use crate::config::{Options, SiteConfig};
    use crate::receipt::{self, Outbox, test_host};

    const CONFIG: &str = include_str!("../../tests/fixtures/wire/config_cookies.json");
    const ALL: [&str; 4] = ["necessary", "analytics", "marketing", "session_recording"];

    fn document() -> web_sys::Document {
        crate::dom::document()
    }

    /// A fresh browser: no cookie, no queue, no GPC signal.
    fn clear() {
        let _ = Reflect::set(
            &document(),
            &"cookie".into(),
            &"kelisim_cookies=; Max-Age=0; Path=/".into(),
        );
        let storage = crate::dom::local_storage().expect("localStorage");
        for key in [
            receipt::QUEUE_KEY,
            receipt::ACKED_KEY,
            receipt::RETRY_KEY,
            receipt::HELD_KEY,
        ] {
            storage.remove_item(key).expect("removable");
        }
        gpc(None);
    }

    /// Sets (or removes) `navigator.globalPrivacyControl`.
    fn gpc(on: Option<bool>) {
        let navigator = crate::dom::global("navigator");
        let descriptor = js_sys::Object::new();
        let _ = Reflect::set(&descriptor, &"configurable".into(), &true.into());
        let _ = Reflect::set(
            &descriptor,
            &"value".into(),
            &on.map_or(JsValue::UNDEFINED, JsValue::from),
        );
        let target: js_sys::Object = navigator.unchecked_into();
        let key = JsValue::from_str("globalPrivacyControl");
        Reflect::define_property(&target, &key, &descriptor)
            .expect("navigator accepts the property");
    }

    fn start(config: &str) -> (Banner, test_host::Posts, test_host::Consents) {
        let options = Options::from_js(
            &JSON::parse(r#"{"site":"demo","collector":"http://127.0.0.1:9","lang":"en"}"#)
                .expect("JSON"),
        )
        .expect("options");
        let site = Rc::new(
            SiteConfig::from_js(&JSON::parse(config).expect("JSON"), "demo").expect("config"),
        );
        let (host, posts, consents) = test_host::recording_all();
        let outbox = Rc::new(Outbox::new(&options.collector, host.clone()));
        let banner = Banner::start(&options, site, outbox, host).expect("a banner");
        (banner, posts, consents)
    }

    fn find(selector: &str) -> Option<Element> {
        document().query_selector(selector).expect("valid selector")
    }

    fn click(banner: &Banner, selector: &str) {
        let target = find(selector).unwrap_or_else(|| panic!("no {selector}"));
        assert!(banner.click(&target), "{selector} is one of ours");
    }

    fn cookie() -> String {
        let all = Reflect::get(&document(), &"cookie".into())
            .expect("cookie")
            .as_string()
            .unwrap_or_default();
        kelisim_widget_core::choice::cookie_value(&all, kelisim_widget_core::choice::COOKIE)
            .unwrap_or_default()
            .to_owned()
    }

    fn queue() -> Vec<serde_json::Value> {
        let text = crate::dom::local_storage()
            .and_then(|s| s.get_item(receipt::QUEUE_KEY).ok().flatten())
            .unwrap_or_else(|| "[]".into());
        serde_json::from_str(&text).expect("queue JSON")
    }

    fn granted(consents: &test_host::Consents) -> (Vec<String>, serde_json::Value) {
        let last = consents.borrow().last().cloned().expect("told");
        (last.0, serde_json::from_str(&last.1).expect("update JSON"))
    }

    fn toggle(id: &str) -> HtmlInputElement {
        find(&["#kelisim-cat-", id].concat())
            .expect("toggle")
            .unchecked_into()
    }

    #[wasm_bindgen_test]
    fn first_visit_shows_the_banner_and_runs_only_necessary() {
        clear();
        let (banner, posts, consents) = start(CONFIG);
        let section = find("section.kelisim-banner").expect("banner shown");
        let body = document().body().expect("body");
        assert_eq!(
            body.first_element_child().map(|e| e == section),
            Some(true),
            "first in the body"
        );
        assert_eq!(section.get_attribute("lang").as_deref(), Some("en"));
        let heading = find("#kelisim-banner-title").expect("title");
        assert_eq!(heading.text_content().as_deref(), Some("We use cookies"));
        // Accept, reject and settings: the same element and class, in this order.
        let buttons = section
            .query_selector_all(".kelisim-banner__actions > *")
            .expect("ok");
        let mut seen = Vec::new();
        for i in 0..buttons.length() {
            let b: Element = buttons.item(i).expect("item").unchecked_into();
            seen.push((
                b.local_name(),
                b.class_name(),
                b.get_attribute("data-kelisim-action").unwrap_or_default(),
                b.text_content().unwrap_or_default(),
            ));
        }
        assert_eq!(
            seen,
            [
                ("button", "kelisim-button", "accept", "Accept all"),
                ("button", "kelisim-button", "reject", "Reject all"),
                ("button", "kelisim-button", "settings", "Settings")
            ]
            .map(|(a, b, c, d)| (
                a.to_owned(),
                b.to_owned(),
                c.to_owned(),
                d.to_owned()
            ))
        );
        assert!(find(".kelisim-banner__gpc").is_none(), "no GPC signal");
        assert!(find(".kelisim-open").is_none(), "no floating control yet");
        assert_eq!(
            granted(&consents),
            (vec!["necessary".to_owned()], serde_json::Value::Null),
            "only the required category; Consent Mode keeps its default"
        );
        assert!(posts.borrow().is_empty(), "no choice, no receipt");
        assert_eq!(cookie(), "");
        drop(banner);
        assert!(find(".kelisim-banner").is_none(), "dropping removes it");
    }

    #[wasm_bindgen_test]
    fn accept_all_grants_everything_records_given_and_is_remembered() {
        clear();
        let (banner, posts, consents) = start(CONFIG);
        click(&banner, "[data-kelisim-action=accept]");
        assert!(find(".kelisim-banner").is_none(), "the banner is gone");
        assert!(find("button.kelisim-open[data-kelisim-open]").is_some());
        let (ids, update) = granted(&consents);
        assert_eq!(ids, ALL);
        assert_eq!(
            update,
            serde_json::json!({"ad_storage":"granted","ad_user_data":"granted",
                "ad_personalization":"granted","analytics_storage":"granted"})
        );
        let items = queue();
        assert_eq!(items.len(), 1);
        let item = &items[0];
        assert_eq!(item["kind"], "cookies");
        assert_eq!(item["event"], "given");
        assert_eq!(item["lang"], "en");
        assert_eq!(item["policy_version"], "2026-03");
        assert_eq!(
            item["categories"],
            serde_json::json!([{"id":"necessary","granted":true},{"id":"analytics","granted":true},
                {"id":"marketing","granted":true},{"id":"session_recording","granted":true}])
        );
        assert!(item.get("purposes").is_none());
        assert_eq!(item["context"]["form_id"], serde_json::Value::Null);
        assert_eq!(item["context"]["gpc"], false);
        let key = item["key"].as_str().expect("key").to_owned();
        assert_eq!(posts.borrow().len(), 1, "sent at once");
        assert_eq!(
            cookie(),
            [
                "1.3c5e0d1f2a4b6c7d.",
                &key,
                ".necessary:1+analytics:1+marketing:1+session_recording:1"
            ]
            .concat()
        );
        drop(banner);

        // The next page: no banner, the choice applied at once, nothing sent again.
        let (banner, posts, consents) = start(CONFIG);
        assert!(find(".kelisim-banner").is_none());
        assert!(find(".kelisim-open").is_some());
        assert_eq!(granted(&consents).0, ALL);
        assert!(posts.borrow().is_empty());
        drop(banner);

        // A new revision of the cookie part asks again.
        let (banner, _, consents) = start(&CONFIG.replace("3c5e0d1f2a4b6c7d", "0000000000000001"));
        assert!(find(".kelisim-banner").is_some(), "asked again");
        assert_eq!(granted(&consents).0, ["necessary"]);
        drop(banner);
        clear();
    }

    #[wasm_bindgen_test]
    fn settings_start_unticked_and_a_partial_choice_is_an_update() {
        clear();
        let (banner, _, consents) = start(CONFIG);
        click(&banner, "[data-kelisim-action=settings]");
        let dialog = find("dialog.kelisim-prefs").expect("settings shown");
        assert!(dialog.has_attribute("open"), "shown modally");
        assert_eq!(
            dialog.get_attribute("aria-labelledby").as_deref(),
            Some("kelisim-prefs-title")
        );
        assert!(toggle("necessary").checked() && toggle("necessary").disabled());
        for id in &ALL[1..] {
            assert!(!toggle(id).checked(), "{id} is not pre-ticked");
            assert!(!toggle(id).disabled());
        }
        let services = dialog
            .query_selector_all(".kelisim-prefs__services")
            .expect("ok");
        assert_eq!(
            services.item(1).and_then(|s| s.text_content()).as_deref(),
            Some("Services: Яндекс Метрика, Google Analytics 4")
        );
        let described = toggle("analytics")
            .get_attribute("aria-describedby")
            .expect("described");
        assert_eq!(
            find(&["#", &described].concat())
                .and_then(|d| d.text_content())
                .as_deref(),
            Some("Help us understand how the site is used.")
        );
        // Closing changes nothing.
        click(&banner, "[data-kelisim-action=close]");
        assert!(find("dialog.kelisim-prefs").is_none());
        assert!(find(".kelisim-banner").is_some(), "still to be answered");

        click(&banner, "[data-kelisim-action=settings]");
        toggle("analytics").set_checked(true);
        click(&banner, "dialog [data-kelisim-action=save]");
        assert!(find("dialog.kelisim-prefs").is_none() && find(".kelisim-banner").is_none());
        assert_eq!(granted(&consents).0, ["necessary", "analytics"]);
        assert_eq!(
            granted(&consents).1["analytics_storage"],
            "granted",
            "{:?}",
            granted(&consents)
        );
        assert_eq!(granted(&consents).1["ad_storage"], "denied");
        let items = queue();
        assert_eq!(
            items.last().map(|i| i["event"].clone()),
            Some("updated".into())
        );
        assert!(find(".kelisim-notice").is_none(), "nothing revoked");
        drop(banner);
        clear();
    }

    #[wasm_bindgen_test]
    fn revoking_says_a_reload_is_needed_and_rejecting_all_withdraws() {
        clear();
        let (banner, posts, _) = start(CONFIG);
        click(&banner, "[data-kelisim-action=accept]");
        let given = queue()[0]["key"].as_str().expect("key").to_owned();
        // The floating control reopens the settings with the current choice.
        click(&banner, ".kelisim-open");
        assert!(toggle("marketing").checked());
        toggle("marketing").set_checked(false);
        click(&banner, "dialog [data-kelisim-action=save]");
        let note = find(".kelisim-notice").expect("reload note");
        assert_eq!(note.get_attribute("role").as_deref(), Some("status"));
        assert_eq!(
            note.text_content()
                .as_deref()
                .map(|t| t.trim_end_matches('×')),
            Some("Scripts already running stop when you reload the page.")
        );
        let updated = queue()[1]["key"].as_str().expect("key").to_owned();
        let secret = queue()[1]["secret"].as_str().expect("secret").to_owned();
        assert!(receipt::is_key(&secret) && secret != updated);
        assert!(
            cookie().contains(&updated),
            "the cookie names the latest receipt"
        );
        assert!(
            !cookie().contains(&secret),
            "the cookie holds no capability"
        );

        // Reject all after a consent: that consent is withdrawn (once it is stored).
        click(&banner, ".kelisim-open");
        click(&banner, "dialog [data-kelisim-action=reject]");
        let items = queue();
        assert_eq!(items.len(), 3);
        assert_eq!(items[2]["withdraws"], updated.as_str());
        assert!(
            items[2].get("kind").is_none(),
            "a withdrawal, not a receipt"
        );
        assert!(
            !posts.borrow().iter().any(|p| p.url.ends_with("/withdraw")),
            "held while {updated} is not stored"
        );
        drop(banner);
        let storage = crate::dom::local_storage().expect("storage");
        let (host, posts) = test_host::recording();
        let outbox = Outbox::new("http://127.0.0.1:9", host);
        assert!(outbox.delivered(&given, 201) && outbox.delivered(&updated, 201));
        let sent = posts
            .borrow()
            .iter()
            .find(|p| p.url.contains("/withdraw"))
            .cloned()
            .expect("the withdrawal is sent");
        assert_eq!(
            sent.url,
            [
                "http://127.0.0.1:9/v1/receipts/",
                &updated,
                "/withdraw?site=demo"
            ]
            .concat(),
            "to the receipt on its site"
        );
        let body: serde_json::Value = serde_json::from_str(&sent.body).expect("JSON");
        assert_eq!(
            body["secret"],
            secret.as_str(),
            "with the withdrawn receipt's secret"
        );
        assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
        storage.remove_item(receipt::QUEUE_KEY).expect("ok");
        clear();
    }

    #[wasm_bindgen_test]
    fn a_choice_whose_secret_this_browser_does_not_hold_is_refused_instead() {
        clear();
        let (banner, _, _) = start(CONFIG);
        click(&banner, "[data-kelisim-action=accept]");
        // As for a choice recorded before withdrawal secrets existed.
        crate::dom::local_storage()
            .expect("storage")
            .remove_item(receipt::HELD_KEY)
            .expect("ok");
        click(&banner, ".kelisim-open");
        click(&banner, "dialog [data-kelisim-action=reject]");
        let items = queue();
        assert_eq!(items.len(), 2);
        assert!(items[1].get("withdraws").is_none(), "{:?}", items[1]);
        assert_eq!(items[1]["event"], "refused");
        drop(banner);
        clear();
    }

    #[wasm_bindgen_test]
    fn global_privacy_control_keeps_marketing_off_and_the_banner_says_why() {
        clear();
        gpc(Some(true));
        let (banner, _, consents) = start(CONFIG);
        let note = find(".kelisim-banner .kelisim-banner__gpc").expect("GPC note");
        assert_eq!(
            note.text_content().as_deref(),
            Some("Your browser sends a Global Privacy Control signal.")
        );
        click(&banner, "[data-kelisim-action=accept]");
        assert_eq!(
            granted(&consents).0,
            ["necessary", "analytics", "session_recording"]
        );
        let update = granted(&consents).1;
        assert_eq!(update["ad_storage"], "denied");
        assert_eq!(update["ad_user_data"], "denied");
        assert_eq!(update["ad_personalization"], "denied");
        assert_eq!(update["analytics_storage"], "granted");
        let item = queue().pop().expect("receipt");
        assert_eq!(item["event"], "updated", "not everything was granted");
        assert_eq!(item["context"]["gpc"], true);
        // An explicit choice in the settings still may turn marketing on.
        click(&banner, ".kelisim-open");
        assert!(find("dialog .kelisim-banner__gpc").is_some());
        toggle("marketing").set_checked(true);
        click(&banner, "dialog [data-kelisim-action=save]");
        assert_eq!(granted(&consents).0, ALL);
        drop(banner);
        clear();
    }

    #[wasm_bindgen_test]
    fn a_site_link_with_data_kelisim_open_opens_the_settings() {
        clear();
        let (banner, _, _) = start(CONFIG);
        let link = crate::dom::element(
            &document(),
            "a",
            "",
            &[("href", "#"), ("data-kelisim-open", "")],
            Some("Cookies"),
        );
        let inner = crate::dom::element(&document(), "span", "", &[], Some("settings"));
        crate::dom::append(&link, &inner);
        crate::dom::append(&document().body().expect("body").into(), &link);
        assert!(banner.click(&inner), "a click inside the link counts");
        assert!(find("dialog.kelisim-prefs[open]").is_some());
        assert!(
            !banner.click(&document().body().expect("body").into()),
            "not ours"
        );
        link.remove();
        drop(banner);
        assert!(find("dialog.kelisim-prefs").is_none());
        clear();
    }
}
