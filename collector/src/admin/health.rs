//! Integration health, as the widget reports it: the events a page's loader sends to
//! `POST /v1/sites/{site}/diagnostics` (what it saw that the operator cannot: an analytics
//! script that ran before it, a gated script that failed or was blocked by the page's CSP, a
//! personal-data form left unguarded, the plain-checkbox fallback), their validation, and the
//! fix for each in plain words (kk/ru/en) for the admin page's "Site health" panel.
//!
//! An event is value-free by construction: a code and a detail from closed lists (a vendor, a
//! cookie category of the site, a reason), a count, and the page's path without its query or
//! fragment, in which any segment that could name a person or an order (an `@`, four digits or
//! more, a long hex run) becomes `*`. Anything else is refused whole, so nothing a widget bug
//! or a stranger sends can carry a typed value or an identifier into the store. Pure: no HTTP,
//! no store.

use serde::{Deserialize, Serialize};

use crate::config::Site;

/// Most events in one request (a page reports each of its findings once).
pub const MAX_EVENTS: usize = 16;
/// Largest count one event may carry.
pub const MAX_COUNT: u32 = 1000;
/// Longest path kept, in bytes.
pub const MAX_PATH: usize = 256;
/// Most distinct (code, detail, path) rows a site keeps: a site with many pages, or someone
/// inventing paths, cannot grow the table past this. Further rows are dropped; known ones
/// still count.
pub const MAX_ROWS_PER_SITE: i64 = 500;
/// The panel shows what was seen within this many days; older rows are deleted.
pub const WINDOW_DAYS: i64 = 30;

/// `POST /v1/sites/{site}/diagnostics`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiagnosticsRequest {
    /// 1 to 16 events.
    pub events: Vec<EventRequest>,
}

/// One finding of the widget on one page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    /// The page's path (`location.pathname`): no query, no fragment.
    pub path: String,
    /// `analytics_before_widget`, `gated_script_failed`, `csp_blocked_gated`,
    /// `unguarded_form` or `widget_fallback`.
    pub code: String,
    /// Which vendor, category or reason (see `docs/admin.md`, "Site health").
    #[serde(default)]
    pub detail: String,
    /// How many times on that page view, 1 to 1000.
    pub count: u32,
}

/// What the widget can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// An analytics or session-recording script ran before `kelisim.js` (detail: the vendor).
    AnalyticsBeforeWidget,
    /// A gated script failed to load once allowed (detail: its category).
    GatedScriptFailed,
    /// The page's CSP blocked a gated script once allowed (detail: its category).
    CspBlockedGated,
    /// A form with personal-data fields is not guarded (detail: `ignored` or `selector`).
    UnguardedForm,
    /// The widget could not start; a plain checkbox guarded the forms (detail: the reason).
    WidgetFallback,
    /// Found by the collector, never sent by a widget: a form receipt names a field that
    /// `[site.data] collected` does not list (detail: the field's name).
    UndeclaredField,
}

impl Code {
    /// What a widget may report.
    pub const WIDGET: [Code; 5] = [
        Code::AnalyticsBeforeWidget,
        Code::GatedScriptFailed,
        Code::CspBlockedGated,
        Code::UnguardedForm,
        Code::WidgetFallback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::AnalyticsBeforeWidget => "analytics_before_widget",
            Code::GatedScriptFailed => "gated_script_failed",
            Code::CspBlockedGated => "csp_blocked_gated",
            Code::UnguardedForm => "unguarded_form",
            Code::WidgetFallback => "widget_fallback",
            Code::UndeclaredField => "undeclared_field",
        }
    }

    /// Any code a health row may hold.
    pub fn parse(s: &str) -> Option<Code> {
        Code::WIDGET
            .into_iter()
            .chain([Code::UndeclaredField])
            .find(|c| c.as_str() == s)
    }

    /// `error`: a promise to visitors may be broken; `warning`: the site works less well.
    pub fn severity(self) -> &'static str {
        match self {
            Code::AnalyticsBeforeWidget
            | Code::UnguardedForm
            | Code::CspBlockedGated
            | Code::UndeclaredField => "error",
            Code::GatedScriptFailed | Code::WidgetFallback => "warning",
        }
    }
}

/// The vendors the loader recognises (`widget/js/loader.js`, `VENDORS`), with their names.
pub const VENDORS: &[(&str, &str)] = &[
    ("yandex_metrika", "Yandex.Metrika"),
    ("google_analytics", "Google Analytics"),
    ("google_tag_manager", "Google Tag Manager"),
    ("matomo", "Matomo"),
    ("posthog", "PostHog"),
    ("hotjar", "Hotjar"),
    ("clarity", "Microsoft Clarity"),
    ("fullstory", "FullStory"),
    ("logrocket", "LogRocket"),
];

const FORM_REASONS: [&str; 2] = ["ignored", "selector"];
const FALLBACK_REASONS: [&str; 4] = ["timeout", "config", "wasm", "error"];

/// One validated event, ready for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub code: Code,
    pub detail: String,
    pub count: u32,
}

/// Why a request was refused: the message names the event and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// Validates every event of `request` for `site`; one bad event refuses them all.
pub fn validate(request: DiagnosticsRequest, site: &Site) -> Result<Vec<Diagnostic>, Invalid> {
    let n = request.events.len();
    if n == 0 || n > MAX_EVENTS {
        return Err(Invalid(format!(
            "`events` must hold 1 to {MAX_EVENTS} events, not {n}"
        )));
    }
    request
        .events
        .into_iter()
        .enumerate()
        .map(|(i, e)| event(e, site).map_err(|why| Invalid(format!("events[{i}]: {why}"))))
        .collect()
}

fn event(e: EventRequest, site: &Site) -> Result<Diagnostic, String> {
    let code = Code::WIDGET
        .into_iter()
        .find(|c| c.as_str() == e.code)
        .ok_or_else(|| {
            let known: Vec<_> = Code::WIDGET.iter().map(|c| c.as_str()).collect();
            format!("unknown `code` {:?}; one of {}", e.code, known.join(", "))
        })?;
    let detail_ok = match code {
        Code::AnalyticsBeforeWidget => VENDORS.iter().any(|(id, _)| *id == e.detail),
        Code::GatedScriptFailed | Code::CspBlockedGated => {
            site.categories.iter().any(|c| c.id == e.detail)
        }
        Code::UnguardedForm => FORM_REASONS.contains(&e.detail.as_str()),
        Code::WidgetFallback => FALLBACK_REASONS.contains(&e.detail.as_str()),
        Code::UndeclaredField => false,
    };
    if !detail_ok {
        return Err(format!(
            "`detail` {:?} is not one of {}'s details",
            e.detail,
            code.as_str()
        ));
    }
    if e.count == 0 || e.count > MAX_COUNT {
        return Err(format!("`count` must be 1 to {MAX_COUNT}, not {}", e.count));
    }
    Ok(Diagnostic {
        path: path(&e.path)?,
        code,
        detail: e.detail,
        count: e.count,
    })
}

/// The page's path as kept: absolute, no query or fragment, printable ASCII (a browser's
/// `location.pathname` is percent-encoded), each segment that could name someone as `*`.
pub fn path(raw: &str) -> Result<String, String> {
    if !raw.starts_with('/') || raw.len() > MAX_PATH {
        return Err(format!(
            "`path` must start with `/` and be at most {MAX_PATH} bytes"
        ));
    }
    if raw.contains(['?', '#']) || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("`path` must be a page's path alone: no query, fragment, space or control character (location.pathname)".into());
    }
    Ok(raw
        .split('/')
        .map(|segment| if personal(segment) { "*" } else { segment })
        .collect::<Vec<_>>()
        .join("/"))
}

/// Could this path segment name a person or a record: an e-mail (`@`, also as `%40`), a
/// phone, an IIN, an order number (four digits or more), a token (16+ hex characters)?
fn personal(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    let hex_run = segment
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    lower.contains('@') || lower.contains("%40") || digits >= 4 || hex_run >= 16
}

/// What the collector finds in a form receipt (`kind_form`) of `site` from `page_url`: each
/// field it names that `[site.data] collected` does not list, as an `undeclared_field` event
/// on the page's path. None while the config does not list the data, and none for a name
/// that is not a plain field name (it is skipped, never stored).
pub fn undeclared_fields(
    site: &Site,
    kind_form: bool,
    page_url: &str,
    fields: &[String],
) -> Vec<Diagnostic> {
    let Some(collected) = site.data.collected.as_ref().filter(|_| kind_form) else {
        return Vec::new();
    };
    let after_scheme = page_url
        .split_once("://")
        .map_or(page_url, |(_, rest)| rest);
    let page = after_scheme
        .find('/')
        .and_then(|at| path(&after_scheme[at..]).ok())
        .unwrap_or_else(|| "/".to_owned());
    fields
        .iter()
        .filter(|f| !collected.contains(f))
        .filter(|f| {
            (1..=64).contains(&f.len())
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b))
        })
        .take(MAX_EVENTS)
        .map(|f| Diagnostic {
            path: page.clone(),
            code: Code::UndeclaredField,
            detail: f.clone(),
            count: 1,
        })
        .collect()
}

/// The fix for one health row, in `lang` (`kk`, `ru`, anything else English).
pub fn fix(code: Code, detail: &str, path: &str, lang: &str) -> String {
    let l = match lang {
        "kk" => 0,
        "ru" => 1,
        _ => 2,
    };
    let vendor = VENDORS
        .iter()
        .find(|(id, _)| *id == detail)
        .map_or(detail, |(_, name)| name);
    let pick = |texts: [&str; 3]| {
        texts[l]
            .replace("{path}", path)
            .replace("{vendor}", vendor)
            .replace("{detail}", detail)
    };
    match (code, detail) {
        (Code::AnalyticsBeforeWidget, _) => pick([
            "{path} бетінде {vendor} kelisim.js-тен бұрын іске қосылды: ол келушілер теретін мәндерді және бет мекенжайын қорғанысқа дейін оқуы мүмкін. kelisim.js тегін {vendor} кодынан жоғары қойыңыз және кодты шектеңіз: type=\"text/plain\" data-kelisim-category=\"analytics\".",
            "На странице {path} {vendor} запустилась раньше kelisim.js: она могла прочитать то, что вводят посетители, и адрес страницы до защиты. Поставьте тег kelisim.js выше кода {vendor} и ограничьте этот код согласием: type=\"text/plain\" data-kelisim-category=\"analytics\".",
            "{vendor} ran before kelisim.js on {path}: it may have read what visitors type and the page's address before the shield. Move the kelisim.js tag above the {vendor} snippet, and gate the snippet: type=\"text/plain\" data-kelisim-category=\"analytics\".",
        ]),
        (Code::GatedScriptFailed, _) => pick([
            "{path} бетінде «{detail}» санатымен шектелген скрипт келуші рұқсат бергеннен кейін жүктелмеді. Оның src мекенжайын және беттің Content-Security-Policy оның доменіне рұқсат беретінін тексеріңіз.",
            "На странице {path} скрипт категории «{detail}» не загрузился после разрешения посетителя. Проверьте его адрес (src) и что Content-Security-Policy страницы разрешает его домен.",
            "A script gated as \"{detail}\" failed to load on {path} after the visitor allowed it. Check its src address, and that the page's Content-Security-Policy allows its origin.",
        ]),
        (Code::CspBlockedGated, _) => pick([
            "{path} бетінің Content-Security-Policy «{detail}» санатындағы скриптті бұғаттады: келуші рұқсат берсе де, ол орындалмады. Скриптке беттің nonce атрибутын беріңіз немесе оның кодын рұқсат етілген доменнен файл ретінде қосыңыз.",
            "Content-Security-Policy страницы {path} заблокировала скрипт категории «{detail}»: он не выполнился, хотя посетитель разрешил. Дайте скрипту nonce страницы или вынесите его код в файл на разрешённом домене.",
            "The page's Content-Security-Policy blocked a script gated as \"{detail}\" on {path}, so it did not run although the visitor allowed it. Give the script the page's nonce, or move its code to a file on an allowed origin.",
        ]),
        (Code::UnguardedForm, "selector") => pick([
            "{path} бетінде дербес деректер өрістері бар форма қорғалмаған: скрипт тегінің data-forms селекторы оған сәйкес келмейді. Келушілер оны келісімсіз жібере алады. data-forms кеңейтіңіз немесе алып тастаңыз.",
            "На странице {path} форма с полями персональных данных не защищена: селектор data-forms в теге скрипта её не выбирает. Посетители могут отправить её без согласия. Расширьте data-forms или уберите его.",
            "A form with personal-data fields on {path} is not guarded: the script tag's data-forms selector does not match it, so visitors can send it without consent. Widen data-forms, or remove it.",
        ]),
        (Code::UnguardedForm, _) => pick([
            "{path} бетінде дербес деректер өрістері бар форма қорғалмаған: онда data-kelisim-ignore бар. Егер ол дербес деректерді жинаса, атрибутты алып тастаңыз: әйтпесе келушілер оны келісімсіз жібереді.",
            "На странице {path} форма с полями персональных данных не защищена: у неё стоит data-kelisim-ignore. Если форма собирает персональные данные, уберите атрибут: иначе её отправляют без согласия.",
            "A form with personal-data fields on {path} is not guarded: it carries data-kelisim-ignore. If it collects personal data, remove the attribute: otherwise visitors send it without consent.",
        ]),
        (Code::WidgetFallback, "timeout") => pick([
            "{path} бетінде виджет 15 секундта жүктелмеді: формаларды қарапайым құсбелгі қорғады, cookie баннері көрсетілмеді, шектелген скрипттер іске қосылмады. kelisim.*.wasm файлы берілетінін және коллектор жауап беретінін тексеріңіз.",
            "На странице {path} виджет не загрузился за 15 секунд: формы защищала простая галочка, баннера cookie не было, ограниченные скрипты не запускались. Проверьте, что файл kelisim.*.wasm отдаётся и коллектор отвечает.",
            "The widget did not load within 15 s on {path}: a plain checkbox guarded the forms, no cookie banner was shown and gated scripts did not run. Check that kelisim.*.wasm is served and that the collector answers.",
        ]),
        (Code::WidgetFallback, "config") => pick([
            "{path} бетінде виджет сайт баптауын ала алмады, сондықтан формаларды қарапайым құсбелгі қорғады. Беттің домені сайттың allowed_origins тізімінде бар екенін және data-site дұрыс екенін тексеріңіз.",
            "На странице {path} виджет не получил настройки сайта, и формы защищала простая галочка. Проверьте, что домен страницы указан в allowed_origins сайта и что data-site верен.",
            "The widget could not fetch the site config on {path}, so a plain checkbox guarded the forms. Check that the page's origin is in the site's allowed_origins and that data-site is right.",
        ]),
        (Code::WidgetFallback, "wasm") => pick([
            "{path} бетінде браузер виджеттің WebAssembly кодын іске қоспады (беттің Content-Security-Policy), формаларды қарапайым құсбелгі қорғады. script-src ішіне 'wasm-unsafe-eval' қосыңыз.",
            "На странице {path} браузер не запустил WebAssembly виджета (Content-Security-Policy страницы), и формы защищала простая галочка. Добавьте 'wasm-unsafe-eval' в script-src.",
            "The browser refused to run the widget's WebAssembly on {path} (the page's Content-Security-Policy), so a plain checkbox guarded the forms. Add 'wasm-unsafe-eval' to script-src.",
        ]),
        (Code::UndeclaredField, _) => pick([
            "{path} бетіндегі форма «{detail}» өрісін жібереді, ал [site.data] collected оны атамайды. Егер келісім мәтіні бұл деректерді атамаса, оны мәтінге және collected тізіміне қосыңыз.",
            "Форма на странице {path} отправляет поле «{detail}», которого нет в [site.data] collected. Если текст согласия не называет эти данные, добавьте их в текст и в collected.",
            "The form on {path} sends the field \"{detail}\", which [site.data] collected does not list. If the consent text does not name this data, add it there and to collected.",
        ]),
        (Code::WidgetFallback, _) => pick([
            "{path} бетінде виджет қатемен тоқтады, формаларды қарапайым құсбелгі қорғады. Сол беттегі браузер консолін қараңыз: kelisim хабары себебін айтады.",
            "На странице {path} виджет остановился с ошибкой, и формы защищала простая галочка. Откройте консоль браузера на этой странице: сообщение kelisim называет причину.",
            "The widget stopped with an error on {path}, and a plain checkbox guarded the forms. Open the browser console on that page: kelisim's message names the cause.",
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo");
        let text = std::fs::read_to_string(dir.join("kelisim.toml")).expect("demo config");
        let config =
            crate::config::Config::parse(&text, &dir.join("kelisim.toml"), &dir).expect("valid");
        config.site("demo").expect("demo").clone()
    }

    fn one(path: &str, code: &str, detail: &str, count: u32) -> DiagnosticsRequest {
        DiagnosticsRequest {
            events: vec![EventRequest {
                path: path.into(),
                code: code.into(),
                detail: detail.into(),
                count,
            }],
        }
    }

    #[test]
    fn a_known_event_is_kept_as_sent() {
        let got = validate(
            one("/contact", "analytics_before_widget", "yandex_metrika", 1),
            &site(),
        )
        .expect("valid");
        assert_eq!(
            got,
            [Diagnostic {
                path: "/contact".into(),
                code: Code::AnalyticsBeforeWidget,
                detail: "yandex_metrika".into(),
                count: 1
            }]
        );
        validate(one("/", "gated_script_failed", "analytics", 3), &site()).expect("category");
        validate(one("/a/b", "unguarded_form", "ignored", 1), &site()).expect("reason");
        validate(one("/", "widget_fallback", "wasm", 1), &site()).expect("reason");
    }

    #[test]
    fn segments_that_could_name_someone_become_a_star() {
        for (raw, kept) in [
            ("/orders/123456/edit", "/orders/*/edit"),
            ("/u/aigerim@example.kz", "/u/*"),
            ("/u/aigerim%40example.kz/", "/u/*/"),
            ("/call/+7-701-123-45-67", "/call/*"),
            ("/t/0123456789abcdef0123", "/t/*"),
            ("/kk/contact", "/kk/contact"),
            ("/news/v2", "/news/v2"),
        ] {
            assert_eq!(path(raw).as_deref(), Ok(kept), "{raw}");
        }
    }

    #[test]
    fn anything_outside_the_closed_lists_is_refused_whole() {
        let s = site();
        for (request, says) in [
            (one("/", "typed_value", "", 1), "unknown `code`"),
            (
                one("/", "analytics_before_widget", "evil.example", 1),
                "`detail`",
            ),
            (one("/", "gated_script_failed", "nope", 1), "`detail`"),
            (one("/", "unguarded_form", "", 1), "`detail`"),
            (
                one("/", "widget_fallback", "ivan@example.kz", 1),
                "`detail`",
            ),
            (
                one("/c?phone=87011234567", "unguarded_form", "ignored", 1),
                "query",
            ),
            (one("/c#x", "unguarded_form", "ignored", 1), "query"),
            (one("/c d", "unguarded_form", "ignored", 1), "space"),
            (one("contact", "unguarded_form", "ignored", 1), "start with"),
            (one("/", "unguarded_form", "ignored", 0), "`count`"),
            (one("/", "unguarded_form", "ignored", 1001), "`count`"),
            (DiagnosticsRequest { events: vec![] }, "1 to 16"),
        ] {
            let Err(Invalid(why)) = validate(request, &s) else {
                panic!("accepted: {says}");
            };
            assert!(why.contains(says), "{why} should say {says}");
        }
        let long = format!("/{}", "a".repeat(MAX_PATH));
        assert!(validate(one(&long, "unguarded_form", "ignored", 1), &s).is_err());
        let many = DiagnosticsRequest {
            events: (0..=MAX_EVENTS)
                .map(|_| EventRequest {
                    path: "/".into(),
                    code: "unguarded_form".into(),
                    detail: "ignored".into(),
                    count: 1,
                })
                .collect(),
        };
        assert!(validate(many, &s).is_err());
    }

    #[test]
    fn a_form_field_the_config_does_not_list_is_found_and_only_then() {
        let mut s = site();
        let fields: Vec<String> = ["name", "passport", "bad name<"].map(String::from).to_vec();
        let found = undeclared_fields(&s, true, "https://altynzhol.kz/kk/contact", &fields);
        assert_eq!(
            found,
            [Diagnostic {
                path: "/kk/contact".into(),
                code: Code::UndeclaredField,
                detail: "passport".into(),
                count: 1
            }]
        );
        assert!(undeclared_fields(&s, false, "https://a.kz/", &fields).is_empty());
        s.data.collected = None;
        assert!(undeclared_fields(&s, true, "https://a.kz/", &fields).is_empty());
        // A widget cannot report it.
        let from_widget = validate(one("/", "undeclared_field", "passport", 1), &site());
        assert!(from_widget.is_err());
    }

    #[test]
    fn every_fix_names_the_page_in_each_language_and_says_what_to_do() {
        let details = |code| -> Vec<&str> {
            match code {
                Code::AnalyticsBeforeWidget => VENDORS.iter().map(|v| v.0).collect(),
                Code::GatedScriptFailed | Code::CspBlockedGated => vec!["analytics"],
                Code::UnguardedForm => FORM_REASONS.to_vec(),
                Code::WidgetFallback => FALLBACK_REASONS.to_vec(),
                Code::UndeclaredField => vec!["passport"],
            }
        };
        for code in Code::WIDGET.into_iter().chain([Code::UndeclaredField]) {
            for detail in details(code) {
                let texts: Vec<String> = ["kk", "ru", "en"]
                    .iter()
                    .map(|l| fix(code, detail, "/contact", l))
                    .collect();
                for t in &texts {
                    assert!(t.contains("/contact") && !t.contains('{'), "{t}");
                }
                assert!(texts[0] != texts[1] && texts[1] != texts[2], "{texts:?}");
            }
        }
        let metrika = fix(Code::AnalyticsBeforeWidget, "yandex_metrika", "/c", "en");
        assert!(metrika.starts_with("Yandex.Metrika ran before kelisim.js on /c"));
        assert!(fix(Code::UnguardedForm, "selector", "/c", "ru").contains("data-forms"));
        assert!(fix(Code::UnguardedForm, "ignored", "/c", "kk").contains("data-kelisim-ignore"));
    }
}
