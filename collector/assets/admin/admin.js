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
  col_time: ["Уақыт (UTC)", "Время (UTC)", "Time (UTC)"],
  col_status: ["Күйі", "Статус", "Status"],
  col_open: ["Түбіртек", "Квитанция", "Receipt"],
  more: ["Келесі бет", "Следующая страница", "Next page"],
  export: ["Экспорт", "Экспорт", "Export"],
  export_csv: ["CSV (Excel)", "CSV (Excel)", "CSV (Excel)"],
  export_ndjson: ["NDJSON", "NDJSON", "NDJSON"],
  export_kantara: ["Kantara түбіртектері", "Квитанции Kantara", "Kantara receipts"],
  lifecycle: ["Дербес деректер субъектісінің өтініштері", "Запросы субъектов персональных данных", "Data subject requests"],
  withdraw: ["Келісімді кері қайтару", "Отозвать согласие", "Withdraw consent"],
  erase: ["Идентификаторларды жою", "Удалить идентификаторы", "Erase identifiers"],
  chart: ["Уақыт бойынша келісімдер", "Согласия по дням", "Consent over time"],
  receipt: ["Түбіртек", "Квитанция", "Receipt"],
  download_jws: ["Қол қойылған түбіртекті жүктеу (JWS)", "Скачать подписанную квитанцию (JWS)", "Download the signed receipt (JWS)"],
  download_kantara: ["Kantara JSON", "Kantara JSON", "Kantara JSON"],
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

async function search(append) {
  const params = filters();
  if (append && nextBefore !== null) params.set("before", String(nextBefore));
  const res = await api("/receipts?" + params);
  if (!res.ok) {
    show($("list-error"), await problem(res));
    return;
  }
  show($("list-error"), "");
  const page = await res.json();
  const body = $("results").tBodies[0];
  if (!append) body.replaceChildren();
  for (const r of page.receipts) body.append(rowFor(r));
  $("total").textContent = page.receipts.length || append
    ? t("total") + page.total + (page.total_exact ? "" : "+")
    : t("none");
  nextBefore = page.next ?? null;
  $("more").hidden = nextBefore === null;
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
    cell(r.issued_at.replace("T", " ").replace(/\.\d+Z$/, "")),
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
  fact("col_time", r.issued_at);
  fact("col_status", t("st_" + r.status));
  fact("signature", r.signature === "valid" ? "✓ Ed25519 (" + r.kid + ")" : "✗ " + r.signature);
  fact("chain_pos", "seq " + r.chain.seq + ", prev " + (r.chain.prev || "").slice(0, 16) + "…");
  $("detail-payload").textContent = JSON.stringify(r.payload, null, 2);
  $("detail-jws").onclick = (e) => { e.preventDefault(); download("/receipts/" + id + "?format=jws", id + ".jws"); };
  $("detail-kantara").onclick = (e) => { e.preventDefault(); download("/receipts/" + id + "?format=kantara", id + ".json"); };
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
    search(false);
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
    search(false);
    erasures();
  }
}

async function chart() {
  const res = await api("/stats");
  if (!res.ok) return;
  const stats = await res.json();
  const days = Object.entries(stats.per_day).slice(-30);
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", "0 0 300 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  const max = Math.max(1, ...days.map(([, c]) => c.given + c.refused + c.withdrawn));
  const width = 300 / Math.max(days.length, 1);
  days.forEach(([, c], i) => {
    let y = 100;
    for (const kind of ["given", "refused", "withdrawn"]) {
      const h = (c[kind] / max) * 100;
      const rect = document.createElementNS(svgNs, "rect");
      rect.setAttribute("x", String(i * width + width * 0.1));
      rect.setAttribute("width", String(width * 0.8));
      rect.setAttribute("y", String(y - h));
      rect.setAttribute("height", String(h));
      rect.setAttribute("class", "bar-" + kind);
      svg.append(rect);
      y -= h;
    }
  });
  $("chart").replaceChildren(svg);
  const total = stats.total;
  $("chart-caption").textContent =
    t("ev_given") + ": " + total.given + " · " + t("ev_refused") + ": " + total.refused + " · " + t("ev_withdrawn") + ": " + total.withdrawn;
}

function enter() {
  $("signin").hidden = true;
  $("app").hidden = false;
  $("site-name").textContent = session.site;
  search(false);
  chart();
  erasures();
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
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); search(false); });
  $("more").addEventListener("click", () => search(true));
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
