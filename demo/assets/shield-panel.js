/* The demo's "what analytics received" panel, beside the contact form and on the shipment
 * tracking result: it lists, live, every call the gated stand-ins for Yandex.Metrika and
 * Google Analytics received (window.demoAnalytics.calls, announced by their `demoanalytics`
 * event), exactly as they received it, so a site owner sees Kelisim's shield replace what a
 * visitor types with [kelisim:redacted] as they type. Until the visitor allows analytics the
 * stand-ins do not run, and the panel says so and offers the cookie settings. Texts in the
 * page's language (kk, ru, en); values are written as text, never as HTML. */
(function () {
  'use strict';
  var host = document.getElementById('shield-panel');
  if (!host) return;
  var TEXTS = {
    ru: {
      title: 'Что получила аналитика',
      explain: 'Каждый вызов, который Яндекс Метрика и Google Analytics получили на этой странице, ' +
        'в том виде, в каком они его получили. Сайт отправляет в аналитику то, что вы вводите в ' +
        'форму, а Kelisim заменяет ваши данные на [kelisim:redacted] раньше, чем их увидит аналитика.',
      off: 'Аналитика выключена и ничего не получает. Чтобы увидеть, что она получает, разрешите ' +
        '«Аналитику» в настройках cookie.',
      open: 'Настройки cookie',
      empty: 'Пока ничего: начните заполнять форму.',
      sent: 'отправлено',
      count: 'Последние вызовы'
    },
    kk: {
      title: 'Аналитика не алды',
      explain: 'Яндекс Метрика мен Google Analytics осы бетте алған әрбір шақыру, дәл алған ' +
        'күйінде. Сайт нысанға енгізгеніңізді аналитикаға жібереді, ал Kelisim деректеріңізді ' +
        'аналитика көргенге дейін [kelisim:redacted] деп ауыстырады.',
      off: 'Аналитика өшірулі және ештеңе алмайды. Оның не алатынын көру үшін cookie ' +
        'баптауларында «Аналитиканы» рұқсат етіңіз.',
      open: 'Cookie баптаулары',
      empty: 'Әзірге ештеңе жоқ: нысанды толтыра бастаңыз.',
      sent: 'жіберілді',
      count: 'Соңғы шақырулар'
    },
    en: {
      title: 'What analytics received',
      explain: 'Every call Yandex.Metrika and Google Analytics received on this page, exactly as ' +
        'they received it. The site sends what you type in the form to analytics; Kelisim ' +
        'replaces your data with [kelisim:redacted] before analytics sees it.',
      off: 'Analytics is off and receives nothing. To see what it receives, allow "Analytics" in ' +
        'the cookie settings.',
      open: 'Cookie settings',
      empty: 'Nothing yet: start filling in the form.',
      sent: 'sent',
      count: 'Latest calls'
    }
  };
  var SHOWN = 15; // the latest calls; no scrolling box to reach by keyboard
  var TOKEN = '[kelisim:redacted]';
  var t = TEXTS[document.documentElement.lang] || TEXTS.ru;

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text) e.textContent = text;
    return e;
  }

  var heading = el('h2', '', t.title);
  heading.id = 'shield-panel-h';
  host.setAttribute('aria-labelledby', heading.id);
  var off = el('p', 'shield-panel__off', t.off + ' ');
  var open = el('button', 'shield-panel__open', t.open);
  open.type = 'button';
  open.setAttribute('data-kelisim-open', '');
  off.appendChild(open);
  var empty = el('p', 'shield-panel__empty', t.empty);
  var listHeading = el('h3', 'shield-panel__count', t.count);
  var list = el('ol', 'shield-panel__calls');
  list.reversed = true; // newest first, numbered as received: what was just typed is on top
  host.append(heading, el('p', 'shield-panel__explain', t.explain), off, empty, listHeading, list);

  /* `ym(98765432, "params", {…})`, with each redacted piece marked. */
  function line(entry) {
    var item = el('li', 'shield-panel__call');
    item.appendChild(el('span', 'shield-panel__to', entry.to));
    var code = el('code');
    var args = entry.args.map(function (a) { return JSON.stringify(a); }).join(', ');
    var text = entry.call === 'page_view'
      ? 'page_view ' + args + ' (' + t.sent + ')'
      : entry.call + '(' + args + ')';
    text.split(TOKEN).forEach(function (part, i) {
      if (i > 0) code.appendChild(el('mark', '', TOKEN));
      code.appendChild(document.createTextNode(part));
    });
    item.appendChild(code);
    return item;
  }

  function render() {
    var calls = (window.demoAnalytics && window.demoAnalytics.calls) || null;
    off.hidden = !!calls;
    // The Consent Mode and set-up calls come first; "empty" until the site sent anything else.
    var sent = calls && calls.some(function (c) { return c.call !== 'page_view' && !setUp(c); });
    empty.hidden = !calls || sent || !document.getElementById('feedback');
    listHeading.hidden = list.hidden = !calls;
    list.textContent = '';
    (calls || []).slice(-SHOWN).reverse().forEach(function (c) { list.appendChild(line(c)); });
    if (calls) list.start = calls.length;
  }

  function setUp(c) {
    return (c.call === 'gtag' && /^(consent|js|config)$/.test(c.args[0])) ||
      (c.call === 'ym' && c.args[1] === 'init');
  }

  window.addEventListener('demoanalytics', render);
  render();
})();
