//! The cookie banner's built-in texts in Kazakh, Russian and English: the banner, the
//! Global Privacy Control note and the well-known categories' names and descriptions. A
//! site's `[site.texts.<lang>.cookies]` overrides them (`cookies`).

/// Index of `gpc_note` in `TEXT_KEYS` (`cookies`).
pub(super) const GPC_NOTE: usize = 8;

/// Built-in banner texts in [`TEXT_KEYS`](super::cookies::TEXT_KEYS) order. `gpc_note` is a prefix: the names of the
/// categories Global Privacy Control refuses follow it (see [`builtin_gpc_note`]).
pub(super) fn builtin_texts(lang: &str) -> Option<[&'static str; 11]> {
    match lang {
        "ru" => Some([
            "Мы используем файлы cookie",
            "Необходимые cookie нужны для работы сайта. С вашего согласия мы также используем \
             аналитические и маркетинговые cookie: чтобы понимать, как посещают сайт, и \
             показывать рекламу. Вы можете принять все, отказаться или выбрать сами и изменить \
             решение в любой момент.",
            "Принять все",
            "Отклонить все",
            "Настроить",
            "Сохранить выбор",
            "Закрыть",
            "Сервисы:",
            "Ваш браузер передаёт сигнал Global Privacy Control, поэтому эти категории \
             останутся выключенными, даже если вы примете все: ",
            "Вы отключили категорию cookie. Уже запущенные скрипты перестанут работать после \
             перезагрузки страницы.",
            "Настройки cookie",
        ]),
        "kk" => Some([
            "Біз cookie файлдарын пайдаланамыз",
            "Қажетті cookie файлдары сайттың жұмысына керек. Сіздің келісіміңізбен біз \
             аналитикалық және маркетингтік cookie файлдарын да пайдаланамыз: сайттың қалай \
             пайдаланылатынын түсіну және жарнама көрсету үшін. Барлығын қабылдауға, бас тартуға \
             немесе өзіңіз таңдауға болады, шешіміңізді кез келген уақытта өзгерте аласыз.",
            "Барлығын қабылдау",
            "Барлығынан бас тарту",
            "Баптау",
            "Таңдауды сақтау",
            "Жабу",
            "Қызметтер:",
            "Браузеріңіз Global Privacy Control сигналын жібереді, сондықтан «Барлығын \
             қабылдау» басылса да мына санаттар өшірулі қалады: ",
            "Сіз cookie санатын өшірдіңіз. Іске қосылып қойған скрипттер бет қайта жүктелгеннен \
             кейін тоқтайды.",
            "Cookie баптаулары",
        ]),
        "en" => Some([
            "We use cookies",
            "Necessary cookies keep this site working. With your consent we also use analytics \
             and marketing cookies, to understand how the site is used and to show advertising. \
             You can accept all, reject all or choose, and change your mind at any time.",
            "Accept all",
            "Reject all",
            "Settings",
            "Save choices",
            "Close",
            "Services:",
            "Your browser sends a Global Privacy Control signal, so these categories stay off \
             even if you accept all: ",
            "You turned a cookie category off. Scripts already running stop when you reload the \
             page.",
            "Cookie settings",
        ]),
        _ => None,
    }
}

/// The built-in GPC note: its prefix, the names of the refused categories in `lang`, quoted,
/// and the way to turn them on. Precise for whatever the site refuses.
pub(super) fn builtin_gpc_note(
    lang: &str,
    gpc_denies: &[String],
    named: &[(String, String, String)],
) -> String {
    let prefix = builtin_texts(lang).map_or("", |t| t[GPC_NOTE]);
    let (tail, open, close) = builtin_gpc_tail(lang);
    let names: Vec<String> = gpc_denies
        .iter()
        .filter_map(|id| named.iter().find(|(i, _, _)| i == id))
        .map(|(_, name, _)| format!("{open}{name}{close}"))
        .collect();
    format!("{prefix}{}{tail}", names.join(", "))
}

/// The built-in GPC note's end (after the category names), and the quotes around each name.
pub(super) fn builtin_gpc_tail(lang: &str) -> (&'static str, &'static str, &'static str) {
    match lang {
        "ru" => (". Включить их можно в настройках.", "«", "»"),
        "kk" => (". Оларды баптауларда қосуға болады.", "«", "»"),
        _ => (". You can turn them on in the settings.", "“", "”"),
    }
}

/// Built-in name and description of the standard categories.
pub(super) fn builtin_category(lang: &str, id: &str) -> Option<(&'static str, &'static str)> {
    Some(match (lang, id) {
        ("ru", "necessary") => (
            "Необходимые",
            "Обеспечивают работу сайта и запоминают ваш выбор о cookie. Без них сайт не \
             работает, поэтому они всегда включены.",
        ),
        ("ru", "analytics") => (
            "Аналитика",
            "Помогают понять, как посетители пользуются сайтом: какие страницы открывают и \
             откуда приходят.",
        ),
        ("ru", "marketing") => (
            "Маркетинг",
            "Позволяют показывать вам интересную рекламу и измерять её эффективность, в том \
             числе на других сайтах.",
        ),
        ("kk", "necessary") => (
            "Қажетті",
            "Сайттың жұмысын қамтамасыз етеді және cookie туралы таңдауыңызды есте сақтайды. \
             Оларсыз сайт жұмыс істемейді, сондықтан олар әрқашан қосулы.",
        ),
        ("kk", "analytics") => (
            "Аналитика",
            "Келушілердің сайтты қалай пайдаланатынын түсінуге көмектеседі: қандай беттерді \
             ашады және қайдан келеді.",
        ),
        ("kk", "marketing") => (
            "Маркетинг",
            "Сізге қызықты жарнама көрсетуге және оның тиімділігін өлшеуге мүмкіндік береді, \
             соның ішінде басқа сайттарда.",
        ),
        ("en", "necessary") => (
            "Necessary",
            "Keep the site working and remember your cookie choice. The site cannot work \
             without them, so they are always on.",
        ),
        ("en", "analytics") => (
            "Analytics",
            "Help us understand how visitors use the site: which pages they open and where \
             they come from.",
        ),
        ("en", "marketing") => (
            "Marketing",
            "Let us show you advertising that interests you and measure how it performs, also \
             on other sites.",
        ),
        _ => return None,
    })
}
