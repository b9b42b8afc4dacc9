//! A consent text as a web page: what a visitor sees after clicking the consent box's link
//! (`GET /v1/sites/{site}/policies/{version}?lang=kk` from a browser).
//!
//! Receipts carry the SHA-256 of the text file's exact bytes, so those bytes stay available
//! unchanged (`?format=text`, or any request that does not ask for HTML by name); this page is
//! a rendering of them for people. Markdown is rendered with pulldown-cmark; raw HTML in the
//! file is shown as text, never interpreted, so a consent text cannot carry script or style
//! into the page. Served under the receipt page's strict CSP, with its stylesheet.

use pulldown_cmark::{Event, Options, Parser, html};

use crate::web::html::escape;

/// Everything the page shows.
#[derive(Debug)]
pub struct Page<'a> {
    /// The text's language (the page's `lang`).
    pub lang: &'a str,
    pub version: &'a str,
    /// The file's exact text.
    pub text: &'a str,
    /// Markdown (`.md`) or plain text.
    pub markdown: bool,
    /// Hex SHA-256 of `text`, as receipts carry it.
    pub sha256: &'a str,
    /// Where the exact bytes are served (a path with `?lang=…&format=text`).
    pub exact_url: &'a str,
}

struct Texts {
    title: &'static str,
    version: &'static str,
    exact: &'static str,
}

fn texts(lang: &str) -> Texts {
    match lang {
        "kk" => Texts {
            title: "Келісім мәтіні",
            version: "Редакция",
            exact: "Түбіртектер осы файлдың SHA-256 хешін сақтайды; файлдың дәл мәтіні:",
        },
        "ru" => Texts {
            title: "Текст согласия",
            version: "Редакция",
            exact: "Квитанции хранят SHA-256 этого файла; точный текст файла:",
        },
        _ => Texts {
            title: "Consent text",
            version: "Version",
            exact: "Receipts carry the SHA-256 of this file; its exact text:",
        },
    }
}

/// Markdown to HTML with every raw HTML block and inline tag turned into visible text.
fn markdown_html(text: &str) -> String {
    let events = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(
        |event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            other => other,
        },
    );
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// Renders the whole page.
pub fn render(page: &Page<'_>) -> String {
    let t = texts(page.lang);
    let body = if page.markdown {
        markdown_html(page.text)
    } else {
        format!("<pre class=\"policy__plain\">{}</pre>\n", escape(page.text))
    };
    format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title} {version}</title>\n<link rel=\"stylesheet\" href=\"{css}\">\n\
         </head>\n<body>\n<main class=\"receipt policy\">\n{body}\
         <p class=\"receipt__verify\">{version_word} {version}. {exact} \
         <a href=\"{url}\">SHA-256 <code>{sha}</code></a></p>\n</main>\n</body>\n</html>\n",
        lang = escape(page.lang),
        title = t.title,
        version = escape(page.version),
        css = crate::web::pages::receipt::CSS_PATH,
        version_word = t.version,
        exact = t.exact,
        url = escape(page.exact_url),
        sha = escape(page.sha256),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str, markdown: bool) -> String {
        render(&Page {
            lang: "ru",
            version: "2026-03",
            text,
            markdown,
            sha256: &"ab".repeat(32),
            exact_url: "/v1/sites/demo/policies/2026-03?lang=ru&format=text",
        })
    }

    #[test]
    fn markdown_is_rendered_and_raw_html_stays_text() {
        let html = page(
            "# Согласие\n\n1. **Какие данные.** Имя\n\n<script>alert(1)</script>\n\n\
             Текст <img src=x onerror=alert(1)> и [ссылка](https://example.kz)",
            true,
        );
        assert!(html.contains("<h1>Согласие</h1>"), "{html}");
        assert!(html.contains("<ol>\n<li><strong>Какие данные.</strong> Имя</li>"));
        assert!(html.contains("<a href=\"https://example.kz\">ссылка</a>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        for forbidden in ["<script", "<img", "style=", "<style"] {
            assert!(!html.contains(forbidden), "`{forbidden}` in page");
        }
        assert!(html.contains("<html lang=\"ru\">"));
        assert!(html.contains("?lang=ru&amp;format=text"));
        assert!(html.contains(&"ab".repeat(32)));
    }

    #[test]
    fn plain_text_is_preformatted_and_escaped() {
        let html = page("Line one\n# not a heading <b>", false);
        assert!(
            html.contains("<pre class=\"policy__plain\">Line one\n# not a heading &lt;b&gt;</pre>")
        );
    }
}
