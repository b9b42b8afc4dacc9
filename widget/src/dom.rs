//! Small DOM helpers shared by the guard, the banner, the notices and the outbox. The globals
//! come from imported statics (one import each) rather than `web_sys::window()`, whose
//! global-object detection alone adds five imports and their glue.
//!
//! Building elements goes through imports that do not catch (`createElement` with our own tag
//! names, `setAttribute` with our own names, `append`/`before`/`after` of nodes we just made
//! cannot throw): web-sys's catching versions return a `Result` at every call, whose checks
//! and the glue's `handleError` wrappers cost about 2 KB of wasm across the widget. Should one
//! throw anyway, the exception reaches the loader, which falls back to its plain checkbox.

use alloc::string::String;

use js_sys::Reflect;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, Storage};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = document)]
    static DOCUMENT: Document;

    #[wasm_bindgen(thread_local_v2, js_name = globalThis)]
    static GLOBAL: JsValue;

    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(message: &str, detail: &str);

    /// An element seen only for `scrollIntoView(options)` (web-sys's needs two more features).
    type Scrollable;
    #[wasm_bindgen(method, js_name = scrollIntoView)]
    fn scroll_into_view(this: &Scrollable, options: &JsValue);

    /// The document or an element, for the non-catching builders below.
    type Tree;
    #[wasm_bindgen(method, js_name = createElement)]
    fn create(this: &Tree, tag: &str) -> Element;
    #[wasm_bindgen(method, js_name = setAttribute)]
    fn set(this: &Tree, name: &str, value: &str);
    #[wasm_bindgen(method, js_name = append)]
    fn append_node(this: &Tree, child: &Element);
    #[wasm_bindgen(method, js_name = prepend)]
    fn prepend_node(this: &Tree, child: &Element);
    #[wasm_bindgen(method, js_name = before)]
    fn before_node(this: &Tree, node: &Element);
    #[wasm_bindgen(method, js_name = after)]
    fn after_node(this: &Tree, node: &Element);
    #[wasm_bindgen(method, setter = textContent)]
    fn set_text_content(this: &Tree, text: &JsValue);
    #[wasm_bindgen(method, js_name = querySelector)]
    fn query_node(this: &Tree, selector: &str) -> Option<Element>;
    #[wasm_bindgen(method, js_name = closest)]
    fn closest_node(this: &Tree, selector: &str) -> Option<Element>;
}

/// Where the widget adds its own blocks: the body (the root element in a page without one).
pub fn body(document: &Document) -> Option<Element> {
    document
        .body()
        .map(Into::into)
        .or_else(|| document.document_element())
}

/// `root.querySelector(selector)` for one of our own (valid) selectors.
pub fn query(root: &Element, selector: &str) -> Option<Element> {
    root.unchecked_ref::<Tree>().query_node(selector)
}

/// `element.closest(selector)` for one of our own (valid) selectors.
pub fn closest(element: &Element, selector: &str) -> Option<Element> {
    element.unchecked_ref::<Tree>().closest_node(selector)
}

/// `element.textContent = text` for a text the config holds as a JS string.
pub fn set_text(element: &Element, text: &JsValue) {
    element.unchecked_ref::<Tree>().set_text_content(text);
}

/// `parent.append(child)`.
pub fn append(parent: &Element, child: &Element) {
    parent.unchecked_ref::<Tree>().append_node(child);
}

/// `parent.prepend(child)`.
pub fn prepend(parent: &Element, child: &Element) {
    parent.unchecked_ref::<Tree>().prepend_node(child);
}

/// `node.before(new)`: `new` goes just before `node`.
pub fn before(node: &Element, new: &Element) {
    node.unchecked_ref::<Tree>().before_node(new);
}

/// `node.after(new)`: `new` goes just after `node`.
pub fn after(node: &Element, new: &Element) {
    node.unchecked_ref::<Tree>().after_node(new);
}

pub fn document() -> Document {
    DOCUMENT.with(Document::clone)
}

/// `globalThis[name]`, or `undefined` (also when reading it throws).
pub fn global(name: &str) -> JsValue {
    GLOBAL.with(|g| Reflect::get(g, &JsValue::from_str(name)).unwrap_or_default())
}

/// `localStorage`, unless the browser refuses it (reading it throws in some privacy modes).
pub fn local_storage() -> Option<Storage> {
    let storage = global("localStorage");
    (!storage.is_undefined() && !storage.is_null()).then(|| storage.unchecked_into())
}

/// An attribute's value, or "" when it is absent.
pub fn attr(element: &Element, name: &str) -> String {
    element.get_attribute(name).unwrap_or_default()
}

/// Sets attributes that cannot fail (the names are ours and valid).
pub fn set_attrs(element: &Element, attrs: &[(&str, &str)]) {
    let tree = element.unchecked_ref::<Tree>();
    for (name, value) in attrs {
        tree.set(name, value);
    }
}

/// `<tag class="class">` with attributes and text (as text, never HTML).
pub fn element(
    document: &Document,
    tag: &str,
    class: &str,
    attrs: &[(&str, &str)],
    text: Option<&str>,
) -> Element {
    let element = document.unchecked_ref::<Tree>().create(tag);
    if !class.is_empty() {
        element.set_class_name(class);
    }
    set_attrs(&element, attrs);
    if text.is_some() {
        element.set_text_content(text);
    }
    element
}

/// Scrolls the least needed to show `element` (focus alone may leave what follows hidden).
pub fn reveal(element: &Element) {
    let options = js_sys::Object::new();
    let _ = Reflect::set(&options, &"block".into(), &"nearest".into());
    element
        .unchecked_ref::<Scrollable>()
        .scroll_into_view(&options);
}

/// `console.warn(message, detail)`.
pub fn warn(message: &str, detail: &str) {
    console_warn(message, detail);
}
