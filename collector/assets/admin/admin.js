// Kelisim admin page: sign in with a bearer token, search, page through, open, export,
// withdraw and erase (at once or pending, with the erasure requests and their due dates).
// Talks only to /v1/admin on this origin; no inline code (strict CSP).
"use strict";

// Every text in [kk, ru, en].
const T = {
  title: ["Kelisim — келісім түбіртектері", "Kelisim — квитанции согласий", "Kelisim — consent receipts"],
  language: ["Тіл", "Язык", "Language"],
  signin: ["Кіру", "Вход", "Sign in"],
  site: ["Сайт идентификаторы", "Идентификатор сайта", "Site id"],
  token: ["Әкімші токені", "Токен администратора", "Admin token"],
  token_hint: ["Токенді жасау: kelisim-collector tokens create --site SITE", "Создать токен: kelisim-collector tokens create --site SITE", "Create one with: kelisim-collector tokens create --site SITE"],
  signin_button: ["Кіру", "Войти", "Sign in"],
  signed_in: ["Сайт", "Сайт", "Signed in to site"],
  signout: ["Шығу", "Выйти", "Sign out"],
  receipts: ["Түбіртектер", "Квитанции", "Receipts"],
  subject: ["Телефон немесе e-mail", "Телефон или e-mail", "Phone or e-mail"],
  from: ["Бастап", "С", "From"],
  to: ["Дейін", "До", "Before"],
  kind: ["Түрі", "Вид", "Kind"],
  any: ["кез келген", "любой", "any"],
  kind_form: ["нысан", "форма", "form"],
  kind_cookies: ["cookie", "cookie", "cookies"],
  event: ["Оқиға", "Событие", "Event"],
  ev_given: ["берілді", "дано", "given"],
  ev_refused: ["бас тартылды", "отказ", "refused"],
  ev_withdrawn: ["кері қайтарылды", "отозвано", "withdrawn"],
  ev_updated: ["өзгертілді", "изменено", "updated"],
  lang: ["Тіл", "Язык", "Language"],
  policy: ["Саясат нұсқасы", "Версия политики", "Policy version"],
  form_id: ["Нысан идентификаторы", "Идентификатор формы", "Form id"],
  search: ["Іздеу", "Найти", "Search"],
  col_seq: ["№", "№", "#"],
  col_time: ["Уақыт", "Время", "Time"],
  col_status: ["Күйі", "Статус", "Status"],
  col_open: ["Түбіртек", "Квитанция", "Receipt"],
  newer: ["← Жаңарақ", "← Новее", "← Newer"],
  older: ["Ескірек →", "Старее →", "Older →"],
  page_n: ["Бет ", "Страница ", "Page "],
  sig_valid: ["✓ қолтаңба дұрыс", "✓ подпись верна", "✓ signature valid"],
  sig_invalid: ["✗ қолтаңба жарамсыз", "✗ подпись неверна", "✗ signature invalid"],
  export: ["Экспорт", "Экспорт", "Export"],
  export_csv: ["CSV (Excel)", "CSV (Excel)", "CSV (Excel)"],
  export_ndjson: ["NDJSON", "NDJSON", "NDJSON"],
  export_kantara: ["Kantara түбіртектері", "Квитанции Kantara", "Kantara receipts"],
  lifecycle: ["Дербес деректер субъектісінің өтініштері", "Запросы субъектов персональных данных", "Data subject requests"],
  withdraw: ["Келісімді кері қайтару", "Отозвать согласие", "Withdraw consent"],
  erase: ["Идентификаторларды жою", "Удалить идентификаторы", "Erase identifiers"],
  receipt: ["Түбіртек", "Квитанция", "Receipt"],
  download_jws: ["Қол қойылған түбіртекті жүктеу (JWS)", "Скачать подписанную квитанцию (JWS)", "Download the signed receipt (JWS)"],
  download_kantara: ["Kantara JSON", "Kantara JSON", "Kantara JSON"],
  download_proof: ["Журнал дәлелімен (.tlog-proof)", "С доказательством из журнала (.tlog-proof)", "With its log proof (.tlog-proof)"],
  payload: ["Қол қойылған мазмұн", "Подписанное содержимое", "Signed content"],
  close: ["Жабу", "Закрыть", "Close"],
  confirm: ["Сенімдісіз бе?", "Вы уверены?", "Are you sure?"],
  cancel: ["Бас тарту", "Отмена", "Cancel"],
  confirm_ok: ["Иә, орындау", "Да, выполнить", "Yes, do it"],
  open: ["Ашу", "Открыть", "Open"],
  total: ["Табылды: ", "Найдено: ", "Found: "],
  none: ["Ештеңе табылмады", "Ничего не найдено", "Nothing found"],
  err_auth: ["Токен қабылданбады", "Токен не принят", "The token was not accepted"],
  err_forbidden: ["Бұл токен бұл сайтқа немесе әрекетке рұқсат бермейді", "Этот токен не даёт доступа к этому сайту или действию", "This token does not allow this site or action"],
  err_generic: ["Қате: ", "Ошибка: ", "Error: "],
  withdrew: ["Кері қайтарылған келісімдер: ", "Отозвано согласий: ", "Consents withdrawn: "],
  erased: ["Идентификаторлары жойылған түбіртектер: ", "Идентификаторы удалены из квитанций: ", "Identifiers erased from receipts: "],
  confirm_withdraw: ["Осы субъектінің барлық келісімдері үшін қол қойылған кері қайтару түбіртегі жасалады.", "Для всех согласий этого субъекта будут выданы подписанные квитанции об отзыве.", "Every consent of this data subject gets a signed withdrawal receipt."],
  confirm_erase: ["Телефон/e-mail бойынша іздеу индексі біржола жойылады; түбіртектердің өзі сақталады.", "Индекс поиска по телефону/e-mail будет удалён безвозвратно; сами квитанции сохранятся.", "The phone/e-mail search index is destroyed for good; the receipts themselves stay."],
  signature: ["Қолтаңба", "Подпись", "Signature"],
  chain_pos: ["Тізбектегі орны", "Позиция в цепочке", "Chain position"],
  id: ["Идентификатор", "Идентификатор", "Id"],
  st_given: ["жарамды", "действует", "given"],
  st_withdrawn: ["кері қайтарылды", "отозвано", "withdrawn"],
  st_superseded: ["ауыстырылды", "заменено", "superseded"],
  st_expired: ["мерзімі өтті", "истекло", "expired"],
  st_refused: ["бас тартылды", "отказ", "refused"],
  st_withdrawal: ["кері қайтару", "отзыв", "withdrawal"],
  received: ["Өтініш келген күн", "Дата получения запроса", "Request received"],
  received_label: ["Жою өтініші келген күн", "Дата получения запроса на удаление", "Erasure request received on"],
  pending_label: ["Жою: тек тіркеу, кейін орындау (тұлғасы әлі тексерілуде)", "Удаление: только зарегистрировать, выполнить позже (личность ещё проверяется)", "Erasure: record only, carry out later (identity still being checked)"],
  erasures: ["Жою өтініштері", "Запросы на удаление", "Erasure requests"],
  due: ["Орындау мерзімі", "Срок исполнения", "Due"],
  col_receipts: ["Түбіртектер", "Квитанции", "Receipts"],
  col_action: ["Әрекет", "Действие", "Action"],
  er_pending: ["күтуде", "ожидает", "pending"],
  er_done: ["орындалды", "выполнено", "done"],
  overdue: ["мерзімі өтті", "просрочено", "overdue"],
  execute: ["Қазір орындау", "Выполнить сейчас", "Carry out now"],
  recorded_pending: ["Өтініш тіркелді, орындау мерзімі: ", "Запрос зарегистрирован, срок исполнения: ", "Request recorded, due: "],
  confirm_execute: ["Осы өтініш бойынша телефон/e-mail іздеу индексі біржола жойылады; түбіртектердің өзі сақталады.", "Индекс поиска по телефону/e-mail по этому запросу будет удалён безвозвратно; сами квитанции сохранятся.", "The phone/e-mail search index of this request is destroyed for good; the receipts themselves stay."],
  no_erasures: ["Жою өтініштері жоқ", "Запросов на удаление нет", "No erasure requests"],
  pending_count: ["Күтудегі өтініштер: ", "Ожидают исполнения: ", "Pending: "],
  analytics: ["Келісімдер талдауы", "Аналитика согласий", "Consent analytics"],
  period_from: ["Бірінші күн", "Первый день", "First day"],
  period_to: ["Соңғы күн", "Последний день", "Last day"],
  bucket: ["Топтау", "Группировка", "Per"],
  bucket_day: ["күн", "день", "day"],
  bucket_week: ["апта", "неделя", "week"],
  show: ["Көрсету", "Показать", "Show"],
  zone_note: ["Күндер сайттың уақыт белдеуі бойынша: ", "Дни по часовому поясу сайта: ", "Days in the site's time zone: "],
  chart_events: ["Келісімдер мен cookie таңдаулары", "Согласия и выбор cookie", "Consents and cookie choices"],
  chart_categories: ["Cookie санаттары: рұқсат берілген таңдаулар үлесі", "Категории cookie: доля выборов с разрешением", "Cookie categories: share of choices granting each"],
  chart_langs: ["«Барлығын қабылдау» үлесі тілдер бойынша", "Доля «принять все» по языкам", "\"Accept all\" share by language"],
  chart_policies: ["«Барлығын қабылдау» үлесі саясат нұсқалары бойынша", "Доля «принять все» по версиям политики", "\"Accept all\" share by policy version"],
  s_form_given: ["Нысандағы келісімдер", "Согласия в формах", "Form consents"],
  s_accept_all: ["Cookie: барлығын қабылдау", "Cookie: принять все", "Cookies: accept all"],
  s_reject_all: ["Cookie: барлығынан бас тарту", "Cookie: отклонить все", "Cookies: reject all"],
  s_custom: ["Cookie: таңдау бойынша", "Cookie: выборочно", "Cookies: custom"],
  s_withdrawals: ["Кері қайтарулар", "Отзывы согласий", "Withdrawals"],
  chart_bucket: ["Кезең", "Период", "Period"],
  chart_name: ["Атауы", "Название", "Name"],
  chart_rate: ["Үлесі", "Доля", "Share"],
  chart_counts: ["Саны", "Количество", "Counts"],
  of: [" / ", " из ", " of "],
  art8: ["Келісімде не айтылуы керек (8-бап)", "Что должно быть в согласии (ст. 8)", "What the consent must state (Art. 8)"],
  art8_item: ["Тармақ", "Пункт", "Item"],
  art8_key: ["Баптау кілті", "Ключ настроек", "Config key"],
  art8_empty_n: ["Баптауда толтырылмаған: ", "Не заполнено в настройках: ", "Left empty in the config: "],
  health: ["Сайттың күйі", "Состояние сайта", "Site health"],
  health_hint: ["Соңғы 30 күнде виджет сайт беттерінде не тапты және оны қалай түзету керек.", "Что виджет нашёл на страницах сайта за последние 30 дней и как это исправить.", "What the widget found on the site's pages in the last 30 days, and how to fix it."],
  health_ok: ["Соңғы 30 күнде виджет ешқандай мәселе хабарламады.", "За последние 30 дней виджет не сообщил о проблемах.", "The widget reported no problems in the last 30 days."],
  health_n: ["Табылғаны: ", "Найдено: ", "Found: "],
  health_errors: [", оның ішінде қате: ", ", из них ошибок: ", ", errors among them: "],
  col_severity: ["Деңгейі", "Важность", "Severity"],
  col_fix: ["Мәселе және шешімі", "Проблема и решение", "Problem and fix"],
  col_page: ["Бет", "Страница", "Page"],
  col_times: ["Рет", "Раз", "Times"],
  col_last_seen: ["Соңғы рет", "Последний раз", "Last seen"],
  sev_error: ["Қате", "Ошибка", "Error"],
  sev_warning: ["Ескерту", "Предупреждение", "Warning"],
  art8_all_set: ["Баптаудың барлық кілттері толтырылған; келісім мәтіні де оларды айтуы керек.", "Все ключи настроек заполнены; текст согласия должен говорить то же.", "Every config key is filled in; the consent text must say the same."],
  cov_set: ["толтырылған", "заполнено", "set"],
  cov_empty: ["бос — толтырыңыз", "пусто — заполните", "empty — fill it in"],
  a8_operator_name: ["Оператордың атауы", "Наименование оператора", "Operator's name"],
  a8_operator_bin: ["Оператордың БСН/ЖСН", "БИН/ИИН оператора", "Operator's BIN/IIN"],
  a8_operator_address: ["Оператордың мекенжайы", "Адрес оператора", "Operator's address"],
  a8_withdrawal_contact: ["Келісімді кері қайтару үшін байланыс", "Контакт для отзыва согласия", "Contact for withdrawing consent"],
  a8_consent_text: ["Келісім мәтіні мен нұсқасы", "Текст и версия согласия", "Consent text and version"],
  a8_term: ["Келісімнің мерзімі", "Срок согласия", "Term of the consent"],
  a8_cookie_third_parties: ["Cookie санаттарының үшінші тараптары", "Третьи лица категорий cookie", "Third parties of the cookie categories"],
  a8_data_collected: ["Жиналатын деректер тізбесі", "Перечень собираемых данных", "List of data collected"],
  a8_form_third_parties: ["Нысан деректерін алатын үшінші тараптар", "Третьи лица, получающие данные форм", "Third parties receiving form data"],
  a8_cross_border: ["Трансшекаралық беру", "Трансграничная передача", "Cross-border transfer"],
  a8_public_sources: ["Жалпыға қолжетімді дереккөздерде жариялау", "Размещение в общедоступных источниках", "Publication in public sources"],
  no_choices: ["cookie таңдаулары жоқ", "нет выборов cookie", "no cookie choices"],
};

const LANG_INDEX = { kk: 0, ru: 1, en: 2 };
const lang = document.documentElement.lang in LANG_INDEX ? document.documentElement.lang : "ru";
const t = (key) => (T[key] ? T[key][LANG_INDEX[lang]] : key);

function translate() {
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

const $ = (id) => document.getElementById(id);
let session = null; // { site, token }
// Keyset paging: the `before` of every page shown so far (null: the newest), and the next.
let cursors = [null];
// Short pages, so the dashboard stays readable; the export has every row.
const PAGE_SIZE = 20;
let nextBefore = null;

function api(path, options = {}) {
  const headers = Object.assign({ authorization: "Bearer " + session.token }, options.headers || {});
  return fetch("/v1/admin/sites/" + encodeURIComponent(session.site) + path, Object.assign({}, options, { headers }));
}

async function problem(res) {
  if (res.status === 401) return t("err_auth");
  if (res.status === 403) return t("err_forbidden");
  try {
    const body = await res.json();
    return t("err_generic") + (body.detail || res.status);
  } catch {
    return t("err_generic") + res.status;
  }
}

function show(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

function filters() {
  const params = new URLSearchParams();
  for (const el of $("filters").elements) {
    if (el.name && el.value.trim()) params.set(el.name, el.value.trim());
  }
  return params;
}

// `move`: 0 the newest page again (new filters), 1 the next older page, -1 the newer one.
async function search(move = 0) {
  const params = filters();
  params.set("limit", String(PAGE_SIZE));
  const wanted = move === 0 ? [null] : move > 0 ? [...cursors, nextBefore] : cursors.slice(0, -1);
  const before = wanted[wanted.length - 1];
  if (before !== null && before !== undefined) params.set("before", String(before));
  const res = await api("/receipts?" + params);
  if (!res.ok) {
    show($("list-error"), await problem(res));
    return;
  }
  show($("list-error"), "");
  const page = await res.json();
  cursors = wanted.length ? wanted : [null];
  const body = $("results").tBodies[0];
  body.replaceChildren();
  for (const r of page.receipts) body.append(rowFor(r));
  $("total").textContent = page.receipts.length
    ? t("total") + page.total + (page.total_exact ? "" : "+")
    : t("none");
  nextBefore = page.next ?? null;
  $("older").disabled = nextBefore === null;
  $("newer").disabled = cursors.length <= 1;
  $("page-n").textContent = t("page_n") + cursors.length;
  $("pager").hidden = nextBefore === null && cursors.length <= 1;
}

// A stored time (RFC 3339 UTC) in the site's time zone, as the page's language writes it.
function localTime(at) {
  if (!siteZone) return at.replace("T", " ").replace(/\.\d+Z$/, " UTC");
  return new Intl.DateTimeFormat(lang, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    timeZone: siteZone,
  }).format(new Date(at));
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function rowFor(r) {
  const tr = document.createElement("tr");
  tr.dataset.id = r.id;
  tr.append(
    cell(String(r.seq)),
    cell(localTime(r.issued_at)),
    cell(t("kind_" + r.kind)),
    cell(t("ev_" + r.event)),
    cell(t("st_" + r.status), "status-" + r.status),
    cell(r.lang),
    cell(r.policy_version),
  );
  const td = document.createElement("td");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link open-receipt";
  button.textContent = t("open");
  button.setAttribute("aria-label", t("open") + " " + r.seq);
  button.addEventListener("click", () => openReceipt(r.id));
  td.append(button);
  tr.append(td);
  return tr;
}

async function download(path, fallbackName) {
  const res = await api(path);
  if (!res.ok) {
    show($("list-error"), await problem(res));
    return;
  }
  const disposition = res.headers.get("content-disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = match ? match[1] : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function openReceipt(id) {
  const res = await api("/receipts/" + encodeURIComponent(id));
  if (!res.ok) {
    show($("list-error"), await problem(res));
    return;
  }
  const r = await res.json();
  const facts = $("detail-facts");
  facts.replaceChildren();
  const fact = (k, v) => {
    const dt = document.createElement("dt");
    dt.textContent = t(k);
    const dd = document.createElement("dd");
    dd.textContent = v;
    facts.append(dt, dd);
  };
  fact("id", r.id);
  fact("col_time", localTime(r.issued_at) + " (" + (siteZone || "UTC") + ") · " + r.issued_at);
  fact("col_status", t("st_" + r.status));
  const valid = r.signature === "valid";
  fact("signature", (valid ? t("sig_valid") : t("sig_invalid")) + " — Ed25519, " + r.kid);
  facts.lastElementChild.className = valid ? "sig-valid" : "sig-invalid";
  fact("chain_pos", "seq " + r.chain.seq + ", prev " + (r.chain.prev || "").slice(0, 16) + "…");
  $("detail-payload").textContent = JSON.stringify(r.payload, null, 2);
  $("detail-jws").onclick = (e) => { e.preventDefault(); download("/receipts/" + id + "?format=jws", id + ".jws"); };
  $("detail-kantara").onclick = (e) => { e.preventDefault(); download("/receipts/" + id + "?format=kantara", id + ".json"); };
  // Public: the receipt with its inclusion proof, checkable offline (`verify FILE.tlog-proof`).
  $("detail-proof").href = "/v1/receipts/" + encodeURIComponent(id) + "/proof";
  $("detail-proof").download = id + ".tlog-proof";
  $("detail").showModal();
}

function confirmDialog(text) {
  return new Promise((resolve) => {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

async function subjectAction(path, confirmKey, doneKey, count, extra = {}) {
  const input = $("a-subject");
  if (!input.reportValidity()) return;
  if (!(await confirmDialog(confirmKey))) return;
  const res = await api(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(Object.assign({ subject: input.value.trim() }, extra)),
  });
  $("action-result").textContent = res.ok ? count(await res.json(), doneKey) : await problem(res);
  if (res.ok) {
    search(0);
    erasures();
  }
}

// What the erasure form adds: pending, and the day the request arrived.
function erasureOptions() {
  const extra = {};
  if ($("a-pending").checked) extra.pending = true;
  if ($("a-received").value) extra.received = $("a-received").value;
  return extra;
}

const shortTime = (at) => (at || "").replace("T", " ").replace(/:\d\d\.\d+Z$/, "");

async function erasures() {
  const res = await api("/erasure-requests");
  if (!res.ok) {
    show($("erasures-summary"), await problem(res));
    return;
  }
  const list = await res.json();
  const body = $("erasures").tBodies[0];
  body.replaceChildren();
  for (const e of list.erasures) {
    const tr = document.createElement("tr");
    const status = cell(t("er_" + e.status) + (e.overdue ? " — " + t("overdue") : ""), e.overdue ? "overdue" : "");
    tr.append(cell(shortTime(e.received_at)), cell(shortTime(e.due_at)), status, cell(String(e.receipts)));
    const td = document.createElement("td");
    if (e.status === "pending") {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = t("execute");
      button.setAttribute("aria-label", t("execute") + " " + shortTime(e.due_at));
      button.addEventListener("click", () => executeErasure(e.id));
      td.append(button);
    }
    tr.append(td);
    body.append(tr);
  }
  $("erasures").hidden = list.erasures.length === 0;
  show($("erasures-summary"), list.erasures.length
    ? t("pending_count") + list.pending + (list.overdue ? " (" + t("overdue") + ": " + list.overdue + ")" : "")
    : t("no_erasures"));
}

async function executeErasure(id) {
  if (!(await confirmDialog(t("confirm_execute")))) return;
  const res = await api("/erasure-requests/" + encodeURIComponent(id) + "/execute", { method: "POST" });
  $("action-result").textContent = res.ok ? t("erased") + (await res.json()).receipts : await problem(res);
  if (res.ok) {
    search(0);
    erasures();
  }
}

// The site's time zone, from the analytics (the receipts' times are shown in it).
let siteZone = null;

const SERIES = [
  { key: "form_given", cls: "s-form" },
  { key: "accept_all", cls: "s-accept" },
  { key: "custom", cls: "s-custom" },
  { key: "reject_all", cls: "s-reject" },
  { key: "withdrawals", cls: "s-withdraw" },
];

// A bucket's first day (a calendar date) as the page's language writes it.
function dayLabel(date) {
  const [y, m, d] = date.split("-").map(Number);
  return new Intl.DateTimeFormat(lang, { day: "numeric", month: "short", timeZone: "UTC" }).format(Date.UTC(y, m - 1, d));
}

async function analytics() {
  const params = new URLSearchParams();
  for (const el of $("period").elements) {
    if (el.name && el.value) params.set(el.name, el.value);
  }
  const res = await api("/analytics?" + params);
  if (!res.ok) {
    show($("analytics-error"), await problem(res));
    return;
  }
  show($("analytics-error"), "");
  const a = await res.json();
  siteZone = a.time_zone;
  if (!$("p-from").value) $("p-from").value = a.from;
  if (!$("p-to").value) $("p-to").value = a.to;
  $("analytics-zone").textContent = t("zone_note") + a.time_zone;
  $("th-time").textContent = t("col_time") + " (" + a.time_zone + ")";
  const tt = (key) => t("s_" + key);
  KelisimCharts.stacked($("chart-events"), {
    title: t("chart_events"),
    buckets: a.buckets,
    series: SERIES,
    label: (b) => dayLabel(b.start),
    t: tt,
  });
  const detail = (part, whole) => (whole ? part + t("of") + whole : t("no_choices"));
  KelisimCharts.rates($("chart-categories"), {
    title: t("chart_categories"),
    rows: a.categories.map((c) => ({ name: c.category, rate: c.rate, detail: detail(c.granted, c.choices) })),
    t,
  });
  const groups = (list) => list.map((g) => ({
    name: g.key,
    rate: g.acceptance_rate,
    detail: detail(g.accept_all, g.accept_all + g.reject_all + g.custom),
  }));
  KelisimCharts.rates($("chart-langs"), { title: t("chart_langs"), rows: groups(a.languages), t });
  KelisimCharts.rates($("chart-policies"), { title: t("chart_policies"), rows: groups(a.policy_versions), t });
}

async function art8() {
  const res = await api("/compliance");
  if (!res.ok) {
    show($("art8-summary"), await problem(res));
    return;
  }
  const c = await res.json();
  const body = $("art8-table").tBodies[0];
  body.replaceChildren();
  for (const item of c.art8) {
    const tr = document.createElement("tr");
    tr.dataset.item = item.item;
    tr.dataset.coverage = item.coverage;
    tr.append(cell(t("a8_" + item.item)), cell(item.key || "—"), cell(t("cov_" + item.coverage), "cov-" + item.coverage));
    body.append(tr);
  }
  const empty = c.art8.filter((i) => i.coverage === "empty");
  $("art8-summary").textContent = empty.length
    ? t("art8_empty_n") + empty.map((i) => t("a8_" + i.item)).join(", ")
    : t("art8_all_set");
  $("art8-summary").className = empty.length ? "error" : "";
}

// What the site's widgets reported (GET …/health): the fix comes in the page's language.
async function health() {
  const res = await api("/health?lang=" + lang);
  if (!res.ok) {
    show($("health-summary"), await problem(res));
    return;
  }
  const h = await res.json();
  const body = $("health-table").tBodies[0];
  body.replaceChildren();
  for (const item of h.items) {
    const tr = document.createElement("tr");
    tr.dataset.code = item.code;
    tr.dataset.severity = item.severity;
    tr.append(cell(t("sev_" + item.severity), "sev-" + item.severity), cell(item.fix), cell(item.path),
      cell(String(item.count)), cell(localTime(item.last_seen)));
    body.append(tr);
  }
  const errors = h.items.filter((i) => i.severity === "error").length;
  $("health-table").hidden = h.items.length === 0;
  $("health-summary").textContent = h.items.length
    ? t("health_n") + h.items.length + (errors ? t("health_errors") + errors : "")
    : t("health_ok");
  $("health-summary").className = errors ? "error" : "";
}

function enter() {
  $("signin").hidden = true;
  $("app").hidden = false;
  $("site-name").textContent = session.site;
  // The list shows times in the site's zone, which the analytics name.
  analytics().finally(() => {
    search(0);
    health();
  });
  erasures();
  art8();
}

async function signIn(e) {
  e.preventDefault();
  session = { site: $("site").value.trim(), token: $("token").value.trim() };
  const res = await api("/stats?from=9999-01-01");
  if (!res.ok) {
    show($("signin-error"), await problem(res));
    session = null;
    return;
  }
  show($("signin-error"), "");
  sessionStorage.setItem("kelisim:admin", JSON.stringify(session));
  $("token").value = "";
  enter();
}

function start() {
  translate();
  $("signin-form").addEventListener("submit", signIn);
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); search(0); });
  $("older").addEventListener("click", () => search(1));
  $("newer").addEventListener("click", () => search(-1));
  $("period").addEventListener("submit", (e) => { e.preventDefault(); analytics(); });
  $("signout").addEventListener("click", () => { sessionStorage.removeItem("kelisim:admin"); location.reload(); });
  for (const b of document.querySelectorAll("[data-export]")) {
    b.addEventListener("click", () => {
      const params = filters();
      params.set("format", b.dataset.export);
      download("/export?" + params, "export." + b.dataset.export);
    });
  }
  $("withdraw").addEventListener("click", () =>
    subjectAction("/withdrawals", t("confirm_withdraw"), "withdrew", (r, key) => t(key) + r.withdrawals.length));
  $("erase").addEventListener("click", () =>
    subjectAction("/erasures", t("confirm_erase"), "erased",
      (r, key) => (r.status === "pending" ? t("recorded_pending") + shortTime(r.due_at) : t(key) + r.receipts),
      erasureOptions()));
  try {
    session = JSON.parse(sessionStorage.getItem("kelisim:admin") || "null");
  } catch {
    session = null;
  }
  if (session) enter();
}

start();
