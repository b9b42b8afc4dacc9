//! The visitor's consent receipt as a web page (`GET /v1/receipts/{ref}?lang=kk`).
//!
//! Pure rendering: the handler gathers a [`Page`] (the signed payload, whether its signature
//! verifies, the operator, the label text the visitor saw, a later withdrawal) and this
//! module turns it into HTML in Kazakh, Russian or English. Every value is escaped; the page
//! has no script and no inline style (the CSS is `/kelisim-receipt.css`), so it is served
//! under a CSP of `default-src 'none'; style-src 'self'`.

use crate::config::Operator;
use crate::receipt::{Choice, Event, Kind, ReceiptPayload};
use crate::web::html::escape;

/// Languages the page itself is written in.
pub const PAGE_LANGUAGES: [&str; 3] = ["kk", "ru", "en"];

/// The Content-Security-Policy the page is served with.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
                       form-action 'none'; frame-ancestors 'none'";

/// Path of the page's stylesheet.
pub const CSS_PATH: &str = "/kelisim-receipt.css";

/// The stylesheet itself.
pub const CSS: &str = include_str!("../../../assets/receipt.css");

/// Everything the page shows.
#[derive(Debug)]
pub struct Page<'a> {
    /// One of [`PAGE_LANGUAGES`].
    pub lang: &'a str,
    pub payload: &'a ReceiptPayload,
    /// The site's operator, if the site is still configured.
    pub operator: Option<&'a Operator>,
    /// The exact checkbox label, if the configuration still has the text whose hash the
    /// receipt carries.
    pub label: Option<&'a str>,
    /// `Ok(kid)` if the signature verifies against the collector's keys, else why not.
    pub signature: Result<&'a str, String>,
    /// `(id, issued_at)` of the receipt that withdrew this consent.
    pub withdrawn_by: Option<(&'a str, &'a str)>,
    /// `(id, name)` of the purposes or cookie categories the configuration names in the
    /// page's language; the others are shown by id.
    pub choice_names: Vec<(&'a str, &'a str)>,
}

/// The page language: `?lang=` if the page exists in it, else the best of
/// `Accept-Language`, else the language of the receipt's notice, else English.
pub fn page_language(requested: Option<&str>, accept: Option<&str>, notice: &str) -> &'static str {
    let supported = |lang: &str| PAGE_LANGUAGES.iter().copied().find(|l| *l == lang);
    if let Some(lang) = requested.and_then(supported) {
        return lang;
    }
    let available: Vec<String> = PAGE_LANGUAGES.iter().map(|l| (*l).to_owned()).collect();
    crate::web::negotiate::pick_language(accept, &available)
        .and_then(supported)
        .or_else(|| supported(notice))
        .unwrap_or("en")
}

struct Texts {
    title: &'static str,
    intro: &'static str,
    given: &'static str,
    refused: &'static str,
    updated: &'static str,
    withdrawn: &'static str,
    withdrawn_on: &'static str,
    withdraws: &'static str,
    operator: &'static str,
    bin: &'static str,
    address: &'static str,
    withdraw_how: &'static str,
    contact: &'static str,
    when: &'static str,
    label: &'static str,
    label_gone: &'static str,
    policy: &'static str,
    version: &'static str,
    purposes: &'static str,
    categories: &'static str,
    yes: &'static str,
    no: &'static str,
    page: &'static str,
    reference: &'static str,
    seq: &'static str,
    signature: &'static str,
    valid: &'static str,
    invalid: &'static str,
    download: &'static str,
    download_proof: &'static str,
    verify: &'static str,
}

fn texts(lang: &str) -> Texts {
    match lang {
        "kk" => Texts {
            title: "Келісім туралы түбіртек",
            intro: "Бұл — келісіміңіздің қол қойылған жазбасы. Оны сақтаңыз: ол неге және қашан келісім бергеніңізді растайды.",
            given: "Сіз келісім бердіңіз",
            refused: "Сіз келісім беруден бас тарттыңыз",
            updated: "Сіз таңдауыңызды өзгерттіңіз",
            withdrawn: "Сіз келісіміңізді кері қайтарып алдыңыз",
            withdrawn_on: "Бұл келісім кері қайтарылды:",
            withdraws: "Бұл түбіртек мына келісімді кері қайтарады:",
            operator: "Оператор",
            bin: "БСН",
            address: "Мекенжайы",
            withdraw_how: "Келісімді кері қайтарып алу немесе деректеріңізді жою үшін операторға жазыңыз және осы түбіртектің сілтемесін көрсетіңіз.",
            contact: "Байланыс:",
            when: "Күні мен уақыты",
            label: "Белгі мәтіні",
            label_gone: "мәтін сайт баптауларында енді жоқ; оның SHA-256 хэші:",
            policy: "Келісім мәтіні",
            version: "нұсқа",
            purposes: "Өңдеу мақсаттары",
            categories: "Cookie санаттары",
            yes: "иә",
            no: "жоқ",
            page: "Бет",
            reference: "Түбіртек нөмірі",
            seq: "Журналдағы нөмірі",
            signature: "Қолтаңба",
            valid: "жарамды (Ed25519, кілт",
            invalid: "ЖАРАМСЫЗ:",
            download: "Қол қойылған түбіртекті жүктеп алу (JWS)",
            download_proof: "Түбіртекті журналдағы дәлелімен бірге жүктеп алу (tlog-proof)",
            verify: "Қолтаңбаны кез келген адам жинағыштың ашық кілттері арқылы тексере алады:",
        },
        "ru" => Texts {
            title: "Квитанция о согласии",
            intro: "Это подписанная запись вашего согласия. Сохраните её: она подтверждает, на что и когда вы дали согласие.",
            given: "Вы дали согласие",
            refused: "Вы отказались дать согласие",
            updated: "Вы изменили свой выбор",
            withdrawn: "Вы отозвали согласие",
            withdrawn_on: "Это согласие отозвано:",
            withdraws: "Эта квитанция отзывает согласие:",
            operator: "Оператор",
            bin: "БИН",
            address: "Адрес",
            withdraw_how: "Чтобы отозвать согласие или потребовать удалить ваши данные, напишите оператору и укажите номер этой квитанции.",
            contact: "Контакт:",
            when: "Дата и время",
            label: "Текст отметки",
            label_gone: "текста больше нет в настройках сайта; его SHA-256:",
            policy: "Текст согласия",
            version: "версия",
            purposes: "Цели обработки",
            categories: "Категории cookie",
            yes: "да",
            no: "нет",
            page: "Страница",
            reference: "Номер квитанции",
            seq: "Номер в журнале",
            signature: "Подпись",
            valid: "действительна (Ed25519, ключ",
            invalid: "НЕДЕЙСТВИТЕЛЬНА:",
            download: "Скачать подписанную квитанцию (JWS)",
            download_proof: "Скачать квитанцию с доказательством её записи в журнал (tlog-proof)",
            verify: "Подпись может проверить любой по открытым ключам сборщика:",
        },
        _ => Texts {
            title: "Consent receipt",
            intro: "This is the signed record of your consent. Keep it: it proves what you agreed to and when.",
            given: "You gave your consent",
            refused: "You refused consent",
            updated: "You changed your choices",
            withdrawn: "You withdrew your consent",
            withdrawn_on: "This consent was withdrawn:",
            withdraws: "This receipt withdraws the consent of receipt",
            operator: "Operator",
            bin: "BIN",
            address: "Address",
            withdraw_how: "To withdraw this consent or have your data erased, write to the operator and quote this receipt's reference.",
            contact: "Contact:",
            when: "Date and time",
            label: "Checkbox text",
            label_gone: "the text is no longer in the site's configuration; its SHA-256 is",
            policy: "Consent text",
            version: "version",
            purposes: "Purposes",
            categories: "Cookie categories",
            yes: "yes",
            no: "no",
            page: "Page",
            reference: "Receipt number",
            seq: "Number in the log",
            signature: "Signature",
            valid: "valid (Ed25519, key",
            invalid: "NOT VALID:",
            download: "Download the signed receipt (JWS)",
            download_proof: "Download the receipt with its proof of inclusion in the log (tlog-proof)",
            verify: "Anyone can check the signature with the collector's public keys:",
        },
    }
}

/// `2026-11-21T09:15:02.123Z` → `2026-11-21 09:15:02 UTC`.
fn readable_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..19)) {
        (Some(date), Some(time)) if rfc3339.ends_with('Z') => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

fn choices(out: &mut String, title: &str, list: &[Choice], page: &Page<'_>, t: &Texts) {
    out.push_str(&format!("<dt>{title}</dt><dd><ul>"));
    for c in list {
        let name = match page.choice_names.iter().find(|(id, _)| *id == c.id) {
            Some((_, name)) => escape(name),
            None => format!("<code>{}</code>", escape(&c.id)),
        };
        out.push_str(&format!(
            "<li>{name}: {}</li>",
            if c.granted { t.yes } else { t.no }
        ));
    }
    out.push_str("</ul></dd>\n");
}

/// A plain e-mail address (for a `mailto:` link): one `@`, no spaces, quotes or angle brackets.
fn is_email(s: &str) -> bool {
    s.split('@').count() == 2
        && !s.starts_with('@')
        && !s.ends_with('@')
        && !s.contains(|c: char| c.is_whitespace() || "\"'<>()?&".contains(c))
}

/// Renders the whole page.
pub fn render(page: &Page<'_>) -> String {
    let t = texts(page.lang);
    let p = page.payload;
    let (event_text, event_class) = match p.event {
        Event::Given => (t.given, "given"),
        Event::Refused => (t.refused, "refused"),
        Event::Updated => (t.updated, "updated"),
        Event::Withdrawn => (t.withdrawn, "withdrawn"),
    };
    let mut body = String::with_capacity(4096);
    body.push_str(&format!("<h1>{}</h1>\n", t.title));
    body.push_str(&format!(
        "<p class=\"receipt__event receipt__event--{event_class}\" id=\"receipt-event\">{event_text}</p>\n"
    ));
    if let Some((id, at)) = page.withdrawn_by {
        body.push_str(&format!(
            "<p class=\"receipt__notice\" id=\"receipt-withdrawn\" role=\"status\">{} \
             <time datetime=\"{at}\">{}</time> (<a href=\"/v1/receipts/{id}\">{id}</a>)</p>\n",
            t.withdrawn_on,
            escape(&readable_time(at)),
            at = escape(at),
            id = escape(id),
        ));
    }
    if let Some(withdrawn) = &p.withdraws {
        body.push_str(&format!(
            "<p class=\"receipt__notice\">{} <a href=\"/v1/receipts/{id}\">{id}</a></p>\n",
            t.withdraws,
            id = escape(withdrawn)
        ));
    }
    body.push_str(&format!("<p class=\"receipt__intro\">{}</p>\n", t.intro));
    body.push_str("<dl class=\"receipt__facts\">\n");
    let operator = match page.operator {
        Some(op) => format!("{} ({} {})", escape(&op.name), t.bin, escape(&op.bin)),
        None => format!("<code>{}</code>", escape(&p.site)),
    };
    body.push_str(&format!("<dt>{}</dt><dd>{operator}</dd>\n", t.operator));
    if let Some(address) = page.operator.and_then(|op| op.address.as_deref()) {
        body.push_str(&format!(
            "<dt>{}</dt><dd id=\"receipt-address\">{}</dd>\n",
            t.address,
            escape(address)
        ));
    }
    body.push_str(&format!(
        "<dt>{}</dt><dd><time datetime=\"{}\">{}</time></dd>\n",
        t.when,
        escape(&p.issued_at),
        escape(&readable_time(&p.issued_at))
    ));
    let label = match page.label {
        Some(text) => format!(
            "<q lang=\"{}\">{}</q>",
            escape(&p.notice.lang),
            escape(text)
        ),
        None => format!(
            "<span>{} <code>{}</code></span>",
            t.label_gone,
            escape(&p.notice.sha256)
        ),
    };
    body.push_str(&format!("<dt>{}</dt><dd>{label}</dd>\n", t.label));
    let version = format!("{} {}", t.version, escape(&p.policy.version));
    let policy = if p.policy.url.starts_with("https://") || p.policy.url.starts_with("http://") {
        format!("<a href=\"{}\">{version}</a>", escape(&p.policy.url))
    } else {
        version
    };
    body.push_str(&format!(
        "<dt>{}</dt><dd>{policy} <span class=\"receipt__hash\">SHA-256 <code>{}</code></span></dd>\n",
        t.policy,
        escape(&p.policy.sha256)
    ));
    match (p.kind, &p.purposes, &p.categories) {
        (Kind::Form, Some(list), _) => choices(&mut body, t.purposes, list, page, &t),
        (Kind::Cookies, _, Some(list)) => choices(&mut body, t.categories, list, page, &t),
        _ => {}
    }
    body.push_str(&format!(
        "<dt>{}</dt><dd>{}</dd>\n",
        t.page,
        escape(&p.context.page_url)
    ));
    body.push_str(&format!(
        "<dt>{}</dt><dd><code id=\"receipt-ref\">{}</code></dd>\n",
        t.reference,
        escape(&p.reference)
    ));
    body.push_str(&format!("<dt>{}</dt><dd>{}</dd>\n", t.seq, p.seq));
    let signature = match &page.signature {
        Ok(kid) => format!(
            "<dd class=\"receipt__sig receipt__sig--valid\" id=\"receipt-signature\">{} <code>{}</code>)</dd>",
            t.valid,
            escape(kid)
        ),
        Err(reason) => format!(
            "<dd class=\"receipt__sig receipt__sig--invalid\" id=\"receipt-signature\">{} {}</dd>",
            t.invalid,
            escape(reason)
        ),
    };
    body.push_str(&format!("<dt>{}</dt>{signature}\n", t.signature));
    body.push_str("</dl>\n");
    // How to withdraw (Art. 8; docs/compliance.md L15): the operator's contact, when the
    // config names one. A withdrawal's own receipt needs no such line.
    if p.event != Event::Withdrawn {
        let contact = match page.operator.and_then(|op| op.contact.as_deref()) {
            Some(c) if is_email(c) => format!(
                " {} <a href=\"mailto:{c}\">{c}</a>",
                t.contact,
                c = escape(c)
            ),
            Some(c) => format!(" {} {}", t.contact, escape(c)),
            None => String::new(),
        };
        body.push_str(&format!(
            "<p class=\"receipt__withdraw\" id=\"receipt-withdraw\">{}{contact}</p>\n",
            t.withdraw_how
        ));
    }
    body.push_str(&format!(
        "<p><a class=\"receipt__download\" id=\"receipt-download\" href=\"/v1/receipts/{}?format=jws\" download=\"kelisim-receipt-{}.jws\">{}</a></p>\n",
        escape(&p.id),
        escape(&p.reference),
        t.download
    ));
    body.push_str(&format!(
        "<p><a class=\"receipt__download\" id=\"receipt-proof\" href=\"/v1/receipts/{}/proof\" download=\"kelisim-receipt-{}.tlog-proof\">{}</a></p>\n",
        escape(&p.id),
        escape(&p.reference),
        t.download_proof
    ));
    body.push_str(&format!(
        "<p class=\"receipt__verify\">{} <a href=\"/.well-known/jwks.json\">/.well-known/jwks.json</a></p>\n",
        t.verify
    ));
    format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title} {reference}</title>\n<link rel=\"stylesheet\" href=\"{CSS_PATH}\">\n\
         </head>\n<body>\n<main class=\"receipt\">\n{body}</main>\n</body>\n</html>\n",
        lang = page.lang,
        title = t.title,
        reference = escape(&p.reference),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::{Context, Notice, PolicyRef, Subject};

    fn payload() -> ReceiptPayload {
        ReceiptPayload {
            v: 1,
            id: "019a4f7e-8c1b-7d2e-9a3f-4b5c6d7e8f90".into(),
            seq: 42,
            issued_at: "2026-11-21T09:15:02.123Z".into(),
            site: "demo".into(),
            kind: Kind::Form,
            event: Event::Given,
            reference: "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3".into(),
            withdraws: None,
            policy: PolicyRef {
                version: "2026-03".into(),
                sha256: "ab".repeat(32),
                url: "http://127.0.0.1:8080/v1/sites/demo/policies/2026-03?lang=kk".into(),
            },
            notice: Notice {
                lang: "kk".into(),
                sha256: "cd".repeat(32),
            },
            purposes: Some(vec![Choice {
                id: "feedback".into(),
                granted: true,
            }]),
            categories: None,
            subject: Subject {
                browser_id: None,
                identifiers: vec![],
            },
            context: Context {
                page_url: "http://127.0.0.1:8080/kk/contact.html".into(),
                form_id: Some("feedback".into()),
                fields: vec!["name".into()],
                gpc: false,
            },
            prev: Some("00".repeat(32)),
        }
    }

    fn operator() -> Operator {
        Operator {
            name: "ТОО «Алтын Жол» <script>".into(),
            bin: "180940012348".into(),
            address: None,
            contact: None,
            jurisdiction: Some("KZ".into()),
        }
    }

    #[test]
    fn page_states_what_when_and_who_in_the_chosen_language_escaped() {
        let p = payload();
        let op = operator();
        let html = render(&Page {
            lang: "kk",
            payload: &p,
            operator: Some(&op),
            label: Some("Дербес деректерді жинауға және өңдеуге келісемін"),
            signature: Ok("kid-1"),
            withdrawn_by: Some((
                "019a0000-0000-7000-8000-000000000001",
                "2026-11-22T10:00:00.000Z",
            )),
            choice_names: vec![("feedback", "Өтінішіңізге <жауап>")],
        });
        assert!(html.contains("<li>Өтінішіңізге &lt;жауап&gt;: "), "{html}");
        assert!(html.contains("<html lang=\"kk\">"), "{html}");
        assert!(html.contains("Келісім туралы түбіртек"));
        assert!(html.contains("Сіз келісім бердіңіз"));
        assert!(
            html.contains("<q lang=\"kk\">Дербес деректерді жинауға және өңдеуге келісемін</q>")
        );
        assert!(html.contains("ТОО «Алтын Жол» &lt;script&gt; (БСН 180940012348)"));
        assert!(html.contains("2026-11-21 09:15:02 UTC"));
        assert!(
            html.contains("href=\"http://127.0.0.1:8080/v1/sites/demo/policies/2026-03?lang=kk\"")
        );
        assert!(html.contains("id=\"receipt-withdrawn\""));
        assert!(html.contains("2026-11-22 10:00:00 UTC"));
        assert!(html.contains("receipt__sig--valid"));
        assert!(html.contains(
            "href=\"/v1/receipts/019a4f7e-8c1b-7d2e-9a3f-4b5c6d7e8f90?format=jws\" download=\"kelisim-receipt-0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3.jws\""
        ));
        assert!(html.contains(
            "href=\"/v1/receipts/019a4f7e-8c1b-7d2e-9a3f-4b5c6d7e8f90/proof\" download=\"kelisim-receipt-0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3.tlog-proof\""
        ));
        assert!(html.contains("<link rel=\"stylesheet\" href=\"/kelisim-receipt.css\">"));
        // Strict CSP: nothing inline.
        for forbidden in ["<script", "style=", "<style", "onclick", "<script>"] {
            assert!(!html.contains(forbidden), "`{forbidden}` in page");
        }
    }

    #[test]
    fn the_operators_address_and_how_to_withdraw_are_stated_in_each_language() {
        let p = payload();
        let mut op = operator();
        op.address = Some("Алматы, ул. Толе би, 59".into());
        op.contact = Some("privacy@altynjol.kz".into());
        for (lang, how) in [
            ("kk", "Келісімді кері қайтарып алу"),
            ("ru", "Чтобы отозвать согласие"),
            ("en", "To withdraw this consent"),
        ] {
            let html = render(&Page {
                lang,
                payload: &p,
                operator: Some(&op),
                label: None,
                signature: Ok("kid-1"),
                withdrawn_by: None,
                choice_names: Vec::new(),
            });
            assert!(
                html.contains("<dd id=\"receipt-address\">Алматы, ул. Толе би, 59</dd>"),
                "{html}"
            );
            assert!(html.contains(how), "{lang}: {html}");
            assert!(
                html.contains("<a href=\"mailto:privacy@altynjol.kz\">privacy@altynjol.kz</a>"),
                "{lang}: {html}"
            );
        }
        // A contact that is not an e-mail is shown as text; none: the sentence alone.
        op.contact = Some("+7 727 000 00 00 <b>".into());
        let en = |op: &Operator| {
            render(&Page {
                lang: "en",
                payload: &p,
                operator: Some(op),
                label: None,
                signature: Ok("kid-1"),
                withdrawn_by: None,
                choice_names: Vec::new(),
            })
        };
        let html = en(&op);
        assert!(
            html.contains("Contact: +7 727 000 00 00 &lt;b&gt;</p>"),
            "{html}"
        );
        op.contact = None;
        op.address = None;
        let html = en(&op);
        assert!(
            html.contains("quote this receipt's reference.</p>"),
            "{html}"
        );
        assert!(!html.contains("receipt-address"));
    }

    #[test]
    fn a_bad_signature_and_a_forgotten_label_are_stated() {
        let mut p = payload();
        p.policy.url = "javascript:alert(1)".into();
        let html = render(&Page {
            lang: "en",
            payload: &p,
            operator: None,
            label: None,
            signature: Err("signature does not match".into()),
            withdrawn_by: None,
            choice_names: Vec::new(),
        });
        assert!(
            html.contains("<li><code>feedback</code>: "),
            "unnamed: the id"
        );
        assert!(html.contains("receipt__sig--invalid"));
        assert!(html.contains("NOT VALID: signature does not match"));
        assert!(html.contains(&"cd".repeat(32)), "the label's hash is shown");
        assert!(!html.contains("javascript:"), "only http(s) policy links");
        assert!(!html.contains("receipt-withdrawn"));
    }

    #[test]
    fn language_choice() {
        assert_eq!(page_language(Some("kk"), Some("en"), "ru"), "kk");
        assert_eq!(
            page_language(Some("de"), Some("ru-RU,ru;q=0.9"), "kk"),
            "ru"
        );
        assert_eq!(page_language(None, None, "kk"), "kk");
        assert_eq!(page_language(None, Some("de"), "uz"), "en");
    }
}
