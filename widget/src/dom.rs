//! Small DOM helpers shared by the guard, the notice and the outbox. The globals come from
//! imported statics (one import each) rather than `web_sys::window()`, whose global-object
//! detection alone adds five imports and their glue.

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

/// Sets attributes that cannot fail on an element we just created (the names are valid).
pub fn set_attrs(element: &Element, attrs: &[(&str, &str)]) {
    for (name, value) in attrs {
        let _ = element.set_attribute(name, value);
    }
}

/// `<tag class="class">` with attributes and text.
pub fn element(
    document: &Document,
    tag: &str,
    class: &str,
    attrs: &[(&str, &str)],
    text: Option<&str>,
) -> Result<Element, JsValue> {
    let element = document.create_element(tag)?;
    if !class.is_empty() {
        element.set_class_name(class);
    }
    set_attrs(&element, attrs);
    if text.is_some() {
        element.set_text_content(text);
    }
    Ok(element)
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

/// `n` in decimal, appended without `format!` (core::fmt is not shipped).
pub fn push_decimal(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        // n % 10 < 10, so the cast is lossless.
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 42, 1000, u32::MAX] {
            let mut s = String::from("id-");
            push_decimal(&mut s, n);
            assert_eq!(s, ["id-".to_owned(), n.to_string()].concat());
        }
    }
}
