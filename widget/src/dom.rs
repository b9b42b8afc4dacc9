//! Small DOM helpers shared by the guard and the outbox.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Window};

pub fn window() -> Option<Window> {
    web_sys::window()
}

pub fn document() -> Option<Document> {
    window()?.document()
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

/// `<tag class="class">`.
pub fn element(document: &Document, tag: &str, class: &str) -> Result<Element, JsValue> {
    let element = document.create_element(tag)?;
    if !class.is_empty() {
        element.set_class_name(class);
    }
    Ok(element)
}

/// `console.warn(message, detail)`.
pub fn warn(message: &str, detail: &JsValue) {
    web_sys::console::warn_2(&JsValue::from_str(message), detail);
}

/// `n` in decimal, appended without `format!` (each costs about 1 KB of wasm).
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

/// What a thrown JS value says (`String(e)`), for error messages.
pub fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Object>()
        .map(|o| String::from(o.to_string()))
        .or_else(|| error.as_string())
        .unwrap_or_default()
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
