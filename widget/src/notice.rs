//! Small notices in a corner of the page. The visitor's proof: once the collector has
//! acknowledged a receipt, a notice links to it (the collector renders the signed receipt as a
//! page in the visitor's language, with the JWS to download). It appears on the page where the
//! answer arrived, or on the next page view when the form's navigation left first, and stays
//! until the visitor closes it. The cookie banner uses the same notice, without a link, to say
//! that a revoked category's running scripts stop only with a reload.
//!
//! The close button is a `<form method="dialog">`: its submission reaches the guard through the
//! loader's submit listener like any other, so the notice needs no listener of its own.

use wasm_bindgen::JsValue;
use web_sys::{Document, Element};

use crate::dom;

/// The close button's accessible name; other languages get the English one.
pub fn close_label(lang: &str) -> &'static str {
    match lang {
        "kk" => "Жабу",
        "ru" => "Закрыть",
        _ => "Close",
    }
}

/// The notice on the page; dropping it removes it.
pub struct ReceiptNotice {
    block: Element,
    close: Element,
}

impl ReceiptNotice {
    /// Adds `<div class="kelisim-notice" role="status">` at the end of the body, with a link to
    /// `href` reading `text`, or `text` alone.
    pub fn show(document: &Document, href: Option<&str>, text: &str, lang: &str) -> Self {
        let block = dom::element(
            document,
            "div",
            "kelisim-notice",
            &[("role", "status"), ("lang", lang)],
            None,
        );
        let link = match href {
            Some(href) => dom::element(
                document,
                "a",
                "kelisim-notice__link",
                &[("href", href), ("target", "_blank"), ("rel", "noopener")],
                Some(text),
            ),
            None => dom::element(document, "span", "kelisim-notice__text", &[], Some(text)),
        };
        let close = dom::element(
            document,
            "form",
            "kelisim-notice__close",
            &[("method", "dialog")],
            None,
        );
        let label = close_label(lang);
        let button = dom::element(
            document,
            "button",
            "",
            &[("type", "submit"), ("aria-label", label), ("title", label)],
            Some("×"),
        );
        dom::append(&close, &button);
        for child in [&link, &close] {
            dom::append(&block, child);
        }
        if let Some(parent) = dom::body(document) {
            dom::append(&parent, &block);
        }
        Self { block, close }
    }

    /// Whether `form` is this notice's close button form.
    pub fn is_close(&self, form: &JsValue) -> bool {
        AsRef::<JsValue>::as_ref(&self.close) == form
    }
}

impl Drop for ReceiptNotice {
    fn drop(&mut self) {
        self.block.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_label_in_each_built_in_language_and_english_otherwise() {
        assert_eq!(close_label("kk"), "Жабу");
        assert_eq!(close_label("ru"), "Закрыть");
        assert_eq!(close_label("en"), "Close");
        assert_eq!(close_label("uz"), "Close");
    }
}
