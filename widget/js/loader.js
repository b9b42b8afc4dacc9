/*! Kelisim loader. <script src=".../kelisim.js" data-site="SITE" defer></script>
 * Pushes Consent Mode's default, then owns every listener (capture-phase submit/invalid/
 * change/click/input on window and on every shadow root, a patched
 * HTMLFormElement.prototype.submit, jQuery's submit hooks, a MutationObserver) and every way
 * out of the page a form's values can take (fetch, XMLHttpRequest, sendBeacon), and asks the
 * wasm widget, once loaded, what to allow. Until then it holds personal-data forms; if the
 * widget cannot load or breaks, a plain checkbox guards them. From its first moment it puts the
 * session recorders' markers on their fields and keeps them there. Gated scripts and iframes
 * run once the widget grants their category. No eval, no inline style (strict CSP).
 * xtask fills in the __KELISIM_* names (content-hashed, relative to this file). */
(function () {
  'use strict';
  var script = document.currentScript;
  var root = document.documentElement;
  if (!script || !script.src || root.hasAttribute('data-kelisim')) return; // loaded twice
  root.setAttribute('data-kelisim', 'loading');

  var own = false; // the loader's own Consent Mode calls: nothing personal, never held
  // Consent Mode v2 default before any tag (ungated tags: put this script first, no defer).
  function gtag() {
    own = true;
    try {
      (window.dataLayer = window.dataLayer || []).push(arguments); // `arguments`, as gtag.js wants
    } finally {
      own = false;
    }
  }
  var D = 'denied';
  gtag('consent', 'default', {
    ad_storage: D, ad_user_data: D, ad_personalization: D, analytics_storage: D,
    wait_for_update: 500
  });

  var base = script.src;
  var data = script.dataset;
  var site = data.site || '';
  var collector = (data.collector || new URL(base).origin).replace(/\/+$/, '');
  var only = data.forms || '';
  var widget = null; // the wasm Widget, once it has taken over
  var fallen = false; // the plain checkbox is in charge
  var config = null; // the site config, once it arrived
  var settled; // the config request, settled either way
  var BOX = 'input.kelisim-consent__box,input[type=checkbox][data-kelisim-consent]';
  var SUBMIT = 'button[type=submit],button:not([type]),input[type=submit],input[type=image]';
  // Fallback labels, for when the config did not arrive either.
  var TEXTS = {
    ru: 'Я согласен(на) на обработку персональных данных',
    kk: 'Дербес деректерді жинауға және өңдеуге келісемін',
    en: 'I agree to the processing of my personal data'
  };
  // rules: begin. The pre-wasm rules: which fields carry personal data (policy.rs), which
  // fields get the recorders' markers (recorders.rs). widget/js/rules.test.js runs these lines
  // on the table of cases the wasm's rules are tested with (tests/fixtures/rules/fields.json).
  // generated: begin
  // From crates/widget-core/src/policy.rs, recorders.rs, redact.rs, choice.rs and
  // storage.rs by `cargo test -p
  // kelisim-widget-core loader_rules`, which rewrites this region when they change.
  var WORDS = /^(tel|fio|iin|mail|mob|sms|imya|familiya|otchestvo|pochta)$/i;
  var PARTS = /phone|email|name|telefon|mobile|whatsapp|passport|address|birth/i;
  var AUTOFILL = /^(name|nickname|email|street-address|postal-code|(tel|address-|bday).*|.*(-name))$/i;
  var PERSONAL_TYPES = /^(tel|email)$/i;
  var NOT_TYPED = /^(hidden|submit|button|reset|image|checkbox|radio|search)$/i;
  var FREE_TEXT = /^(|text|search|url)$/i;
  var OWN = 'kelisim_';
  var MIN_TYPED = 3, WHOLE_WORD_BELOW = 6;
  var MARKS = [['ym-disable-submit', [['data-matomo-ignore', '']]],
    ['ym-disable-keys ym-hide-content rr-block rr-ignore rr-mask ph-no-capture sentry-mask fs-exclude', [['data-sentry-mask', ''], ['data-clarity-mask', 'true'], ['data-hj-suppress', ''], ['data-private', ''], ['data-recording-sensitive', ''], ['data-matomo-mask', '']]],
    ['ym-disable-keys ym-hide-content rr-block rr-ignore rr-mask ph-no-capture sentry-mask fs-exclude', [['data-sentry-mask', ''], ['data-clarity-mask', 'true'], ['data-hj-suppress', ''], ['data-private', ''], ['data-recording-sensitive', ''], ['data-matomo-mask', '']]]];
  var MARKED = ['class', 'data-sentry-mask', 'data-clarity-mask', 'data-hj-suppress', 'data-private', 'data-recording-sensitive', 'data-matomo-mask', 'data-matomo-ignore'];
  var COOKIE = 'kelisim_cookies';
  var CONSENT_MODE = [['ad_storage', 'marketing'], ['ad_user_data', 'marketing'], ['ad_personalization', 'marketing'], ['analytics_storage', 'analytics']];
  var PENDING = ['kelisim:queue', 'kelisim:acked', 'kelisim:fallback'];
  // generated: end
  // policy::reads_personal: words split at non-letters and camelCase humps.
  function reads(name) {
    return (name || '').replace(/([a-z])(?=[A-Z])/g, '$1 ').split(/[^A-Za-z]+/)
      .some(function (word) { return WORDS.test(word) || PARTS.test(word); });
  }
  // policy::is_personal_field, for a form control.
  function personalField(f) {
    var tag = f.localName;
    var type = (f.getAttribute('type') || '').trim();
    if (tag === 'textarea' || (tag === 'input' && PERSONAL_TYPES.test(type))) return true;
    return (tag === 'select' || (tag === 'input' && !NOT_TYPED.test(type))) &&
      ((f.getAttribute('autocomplete') || '').split(/[ \t\n\f\r]+/).some(function (token) {
        return AUTOFILL.test(token);
      }) || reads(f.getAttribute('name')) || reads(f.id));
  }
  // recorders::role: 1 personal data, 2 free text (MARKS' indexes), 0 nothing typed there.
  function role(f) {
    var type = (f.getAttribute('type') || '').trim();
    return (f.getAttribute('name') || '').indexOf(OWN) === 0 ? 0
      : f.localName === 'textarea' ? 2
        : personalField(f) ? 1
          : f.localName === 'input' && FREE_TEXT.test(type) ? 2 : 0;
  }
  // choice::cookie_value: the value of cookie `name` in a document.cookie string, or null.
  function cookieValue(header, name) {
    var value = null;
    header.split(';').some(function (pair) {
      var i = pair.indexOf('=');
      return i >= 0 && pair.slice(0, i).trim() === name && (value = pair.slice(i + 1).trim(), 1);
    });
    return value;
  }
  // choice::stored: the grants (one per category) a cookie value holds for this revision, or
  // null when the visitor is asked again.
  function storedChoice(value, revision, categories) {
    var parts = (value || '').split('.');
    var items = (parts[3] || '').split('+');
    var grants = parts.length === 4 && parts[0] === '1' && parts[1] === revision &&
      /^(-|[0-9a-f]{32})$/.test(parts[2]) && items.length === categories.length &&
      categories.map(function (c) {
        var flag;
        items.some(function (item) {
          var i = item.indexOf(':');
          return i >= 0 && item.slice(0, i) === c.id && (flag = item.slice(i + 1), 1);
        });
        return flag === '1' || (flag === '0' && !c.required ? false : null);
      });
    return grants && grants.indexOf(null) < 0 ? grants : null;
  }
  // choice::consent_mode: Consent Mode's update for these grants.
  function consentMode(categories, grants) {
    var update = {};
    CONSENT_MODE.forEach(function (m) {
      update[m[0]] = categories.some(function (c, i) {
        return grants[i] && c.id === m[1];
      }) ? 'granted' : 'denied';
    });
    return update;
  }
  // policy::choose_language (primary_language): null for the site's default.
  function chooseLanguage(requested, page, supported) {
    var chosen = null;
    [requested, page].some(function (tag) {
      if (tag == null) return false;
      var lang = tag.trim().split(/[-_]/)[0].toLowerCase();
      if (lang === 'kz') lang = 'kk';
      return supported.indexOf(lang) >= 0 && (chosen = lang);
    });
    return chosen;
  }
  // rules: end

  function personal(form) {
    try {
      if (only && !form.matches(only)) return false;
    } catch (e) { /* a bad selector narrows nothing: fail closed */ }
    if (form.hasAttribute('data-kelisim-form')) return true;
    if (form.hasAttribute('data-kelisim-ignore')) return false;
    return [].some.call(form.elements, personalField);
  }

  // The nearest `lang` around `node`, across shadow-root boundaries ('' when none).
  function langOf(node) {
    for (var holder; node; node = node.getRootNode().host) {
      if ((holder = node.closest('[lang]'))) return holder.getAttribute('lang');
    }
    return '';
  }

  function language(form) {
    var lang = (data.lang || langOf(form)).split(/[-_]/)[0].toLowerCase();
    if (lang === 'kz') lang = 'kk';
    return TEXTS[lang] ? lang : 'ru';
  }

  function el(tag, cls, parent) {
    var e = document.createElement(tag);
    e.className = cls;
    parent.appendChild(e);
    return e;
  }

  var boxes = 0;
  // The fallback box: the config's label and consent-text link when it arrived. Like the
  // widget's (guard.rs, sync_validity), it is aria-required and reports its message as its own
  // validity while unticked, so validation plugins leave it alone.
  function plainBox(form) {
    var box = form.querySelector(BOX);
    var lang = language(form);
    var texts = (config && config.texts && config.texts[lang]) || {};
    if (!box) {
      var block = document.createElement('div');
      block.className = 'kelisim-consent';
      block.lang = lang;
      box = el('input', 'kelisim-consent__box', block);
      box.type = 'checkbox';
      box.name = 'kelisim_consent';
      box.value = 'yes';
      box.id = 'kelisim-consent-f' + ++boxes;
      var label = el('label', 'kelisim-consent__label', block);
      label.htmlFor = box.id;
      label.textContent = texts.label || TEXTS[lang];
      if (texts.link && config.policy) {
        var link = el('a', 'kelisim-consent__link', block);
        link.href = config.policy.url + '?lang=' + lang;
        link.target = '_blank';
        link.rel = 'noopener';
        link.textContent = texts.link;
      }
      var button = form.querySelector(SUBMIT);
      if (button && button.parentNode) button.parentNode.insertBefore(block, button);
      else form.appendChild(block);
    }
    box.setAttribute('aria-required', 'true');
    box.setCustomValidity(box.checked ? '' : texts.error || TEXTS[lang]);
    return box;
  }

  function plainBoxes(list) {
    list.forEach(function (form) {
      if (personal(form)) plainBox(form);
    });
  }

  // The session recorders' markers (MARKS) go on personal-data forms and their typed fields
  // from the loader's first moment: before the wasm, and without it. A site that re-renders
  // replaces the class attribute (React: setAttribute('class'); Vue, Svelte: className =), or
  // morphs attributes away: the observer puts them back at once, before the observer of any
  // recorder started after this script, and before a recorder reads a field (rrweb reads an
  // input's value in a task of its own).
  var kept = new WeakMap(); // marked element -> its MARKS entry
  function restore(el) {
    var marks = kept.get(el);
    marks[1].forEach(function (a) {
      if (!el.hasAttribute(a[0])) el.setAttribute(a[0], a[1]);
    });
    var now = el.getAttribute('class') || '';
    var want = now;
    var have = now.split(/\s+/);
    marks[0].split(' ').forEach(function (c) {
      if (c && have.indexOf(c) < 0) want += (want && ' ') + c;
    });
    if (want !== now) el.setAttribute('class', want);
  }
  function mark(el, marks) {
    kept.set(el, marks);
    restore(el);
  }
  function markForm(form) {
    mark(form, MARKS[0]);
    [].forEach.call(form.elements, function (f) {
      var r = role(f);
      if (r) mark(f, MARKS[r]);
    });
    // A form in a shadow root gets the widget's styles there (the document's do not reach it).
    var root = form.getRootNode();
    if (root !== document && css && !root.querySelector('link[data-kelisim]')) {
      var link = css.cloneNode();
      link.setAttribute('data-kelisim', '');
      root.prepend(link);
    }
  }

  // Shadow roots: `submit`, `change` and `invalid` do not cross their boundary, and
  // document.forms does not list their forms. Every root made after this script (attachShadow)
  // or open before it gets the same listeners and observer as the document.
  var roots = [];
  var TYPES = ['submit', 'invalid', 'change', 'click', 'input'];
  var OBSERVED = { childList: true, subtree: true, attributes: true, attributeFilter: MARKED };
  var observer = new MutationObserver(function (records) {
    var added;
    records.forEach(function (r) {
      if (r.type === 'childList') added = 1;
      else if (kept.has(r.target)) restore(r.target);
    });
    if (added) changed();
  });
  function listen(target) {
    TYPES.forEach(function (type) {
      target.addEventListener(type, on, true);
    });
  }
  function adopt(root) {
    if (roots.indexOf(root) < 0) {
      roots.push(root);
      listen(root);
      observer.observe(root, OBSERVED);
      shadows(root);
    }
  }
  function shadows(node) {
    [].forEach.call(node.querySelectorAll('*'), function (e) {
      if (e.shadowRoot) adopt(e.shadowRoot);
    });
  }
  var attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function () {
    var root = attach.apply(this, arguments);
    adopt(root);
    return root;
  };
  function forms() {
    var list = [].slice.call(document.forms);
    roots.forEach(function (root) {
      list.push.apply(list, root.querySelectorAll('form'));
    });
    return list;
  }

  // May this form be sent now? The one gate for submit events, form.submit(), jQuery's own
  // submit and a request carrying the form's values.
  function pass(form) {
    if (!(form instanceof HTMLFormElement)) return true;
    if (widget) {
      try {
        return widget.submit(form);
      } catch (e) {
        fail(e); // the wasm broke: hold, then the plain checkbox decides
      }
    }
    if (!personal(form)) return true;
    if (!fallen) return false;
    var box = plainBox(form);
    if (box.checked) return remember(form), true;
    box.focus();
    box.reportValidity();
    return false;
  }

  // A consent the plain checkbox took: the form carries a reference, and the widget records
  // the receipt under it on a later page where it loads (guard.rs, record_fallback). Only with
  // the config's label shown (the receipt names its hash) and once per form and page; no
  // value of the form is kept.
  var FALLBACK = 'kelisim:fallback';
  function remember(form) {
    var lang = language(form);
    try {
      if (!config.texts[lang] || form.querySelector('[name=kelisim_receipt]')) return;
      var key = '';
      crypto.getRandomValues(new Uint8Array(16)).forEach(function (b) {
        key += (b + 256).toString(16).slice(1);
      });
      var notes = JSON.parse(localStorage.getItem(FALLBACK)) || [];
      notes.push({
        key: key,
        policy: config.policy.version,
        lang: lang,
        url: location.href.split(/[?#]/)[0],
        form: form.getAttribute('id') || '',
        gpc: navigator.globalPrivacyControl === true,
        fields: [].map.call(form.elements, function (f) {
          return [f.localName, f.getAttribute('type') || '', f.getAttribute('name') || ''];
        })
      });
      localStorage.setItem(FALLBACK, JSON.stringify(notes.slice(-64)));
      var field = el('input', '', form); // kept: the form may carry its reference
      field.type = 'hidden';
      field.name = 'kelisim_receipt';
      field.value = key;
    } catch (e) { /* no config, crypto or storage: no receipt for this consent */ }
  }

  // Registered before any later site script, so the site's own submit handlers run after
  // the guard, and a refused submission never reaches them.
  function on(event) {
    var target = event.target;
    var type = event.type;
    if (type === 'submit') {
      if (!pass(target)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    } else if (widget) {
      try {
        // What a visitor types is what the shield looks for, before anything is committed.
        if (type === 'input' || type === 'change') {
          widget.typed(target, type === 'change');
          answers.clear();
        }
        if (type !== 'input' && (type === 'click' ? target instanceof Element && widget.click(target)
          : widget.touch(target, type === 'invalid'))) event.preventDefault();
      } catch (e) {
        fail(e);
      }
    } else if (light && type === 'click' && target instanceof Element &&
      target.closest('[data-kelisim-open]')) {
      event.preventDefault();
      opening();
    } else if (fallen && type === 'change' && target.form && personal(target.form)) {
      plainBox(target.form); // its validity follows the tick
    }
  }
  listen(window);
  observer.observe(root, OBSERVED);

  // form.submit() and HTMLFormElement.prototype.submit.call(form) fire no submit event.
  var proto = HTMLFormElement.prototype;
  var nativeSubmit = proto.submit;
  proto.submit = function () {
    if (pass(this)) nativeSubmit.call(this);
  };

  // Integration health (collector: admin/health.rs): what this page shows its operator should
  // fix is told once in the console and reported to the collector, value-free (a code, a
  // detail from a closed list, a count, the path without its query; the collector refuses
  // anything else), at most once a day per finding and page, a few seconds after the first.
  var findings = {}; // 'code detail' -> count, not sent yet
  var noted = []; // [code, detail] in the order first seen
  var HEALTH = 'kelisim:health';
  function diagnose(code, detail, said) {
    var key = code + ' ' + detail;
    if (!findings[key]) {
      findings[key] = 0;
      noted.push([code, detail]);
      if (window.console) {
        console.warn('kelisim: ' + said + ' on ' + location.pathname +
          ' (the admin page\'s Site health says how to fix it)');
      }
      setTimeout(report, 3000);
    }
    findings[key]++;
  }
  addEventListener('pagehide', function () { report(); }); // a page left within those seconds
  function report() {
    var day = Math.floor(Date.now() / 864e5);
    var told = {};
    try {
      told = JSON.parse(localStorage.getItem(HEALTH)) || {};
    } catch (e) { /* nothing kept, or no storage: reported at every page */ }
    var path = location.pathname;
    var events = noted.splice(0).filter(function (n) {
      return told[n.join(' ') + ' ' + path] !== day;
    }).slice(0, 16).map(function (n) { // the collector takes 16 at most
      var key = n.join(' ');
      told[key + ' ' + path] = day;
      return { path: path, code: n[0], detail: n[1], count: Math.min(findings[key], 1000) };
    });
    if (!events.length || !site) return;
    try {
      var keys = Object.keys(told);
      keys.slice(0, Math.max(0, keys.length - 64)).forEach(function (k) { delete told[k]; });
      localStorage.setItem(HEALTH, JSON.stringify(told));
    } catch (e) { /* no storage */ }
    nativeFetch(collector + '/v1/sites/' + encodeURIComponent(site) + '/diagnostics', {
      method: 'POST',
      body: JSON.stringify({ events: events }),
      keepalive: true,
      credentials: 'omit',
      referrerPolicy: 'no-referrer', // the page's query stays out of it too
      headers: { 'content-type': 'application/json' }
    }).catch(function () {});
  }
  // Analytics and session recorders that ran before this script: they may have read what was
  // typed (a browser's autofill) and this address before the shield. A vendor is known by its
  // script's address or by the global its snippet defines.
  var VENDORS = [
    ['yandex_metrika', 'Yandex.Metrika', /mc\.yandex\.[a-z.]+\/(metrika|watch)\//, 'ym'],
    ['google_analytics', 'Google Analytics', /google-analytics\.com\/|googletagmanager\.com\/gtag\//, 'ga'],
    ['google_tag_manager', 'Google Tag Manager', /googletagmanager\.com\/gtm\.js/, 'google_tag_manager'],
    ['matomo', 'Matomo', /\/(matomo|piwik)\.js/, 'Matomo'],
    ['posthog', 'PostHog', /posthog/, '__POSTHOG_INSTANCES__'],
    ['hotjar', 'Hotjar', /static\.hotjar\.com\//, 'hj'],
    ['clarity', 'Microsoft Clarity', /clarity\.ms\/tag\//, 'clarity'],
    ['fullstory', 'FullStory', /fullstory\.com\//, 'FS'],
    ['logrocket', 'LogRocket', /logrocket|lr-ingest\.io/, 'LogRocket']
  ];
  var RUNS = /^(|text\/javascript|application\/javascript|module)$/i;
  var early = [].filter.call(document.scripts, function (s) {
    return s !== script && RUNS.test((s.getAttribute('type') || '').trim()) && s.src;
  });
  VENDORS.forEach(function (v) {
    if (window[v[3]] != null || early.some(function (s) { return v[2].test(s.src); })) {
      diagnose('analytics_before_widget', v[0], v[1] + ' ran before kelisim.js: it may have ' +
        'read typed values; put kelisim.js above it, and gate it');
    }
  });
  // A personal-data form this page's settings leave unguarded (`personal` says why not).
  var unguarded = new WeakSet();
  function looked(form) { // a form `personal` left out
    if (unguarded.has(form) || ![].some.call(form.elements, personalField)) return;
    var selector = false;
    try {
      selector = !!only && !form.matches(only);
    } catch (e) { /* a bad selector narrows nothing */ }
    if (!selector && !form.hasAttribute('data-kelisim-ignore')) return;
    unguarded.add(form);
    diagnose('unguarded_form', selector ? 'selector' : 'ignored', 'a personal-data form is ' +
      'unguarded by ' + (selector ? 'data-forms' : 'data-kelisim-ignore'));
  }
  // A gated script the page's CSP blocked, or that failed to load, once allowed (`run`).
  document.addEventListener('securitypolicyviolation', function (event) {
    var gated = event.target && event.target.kelisimGated;
    if (gated && !event.target.kelisimBlocked) {
      event.target.kelisimBlocked = 1;
      diagnose('csp_blocked_gated', gated, 'the CSP blocked a gated ' + gated + ' script');
    }
  }, true);
  function failed(s) {
    setTimeout(function () { // after the CSP's report, which names the better fix
      if (!s.kelisimBlocked) {
        diagnose('gated_script_failed', s.kelisimGated, 'a gated ' + s.kelisimGated +
          ' script failed to load');
      }
    }, 100);
  }

  // The analytics shield: every call analytics receives data through — whether defined
  // before this script or assigned later — hands its arguments to `clean`, which asks the
  // widget about each string and number (shield.rs, redact.rs). Calls wait, in order, until
  // the widget can answer; without a widget they are never sent (fail closed, as gating is).
  // Only arrays, `arguments` and plain objects are copied, and only when something in them
  // changed: dates, elements and callbacks reach analytics as they were.
  var TOKEN = '[kelisim:redacted]';
  var held = []; // [target, this, arguments] of calls made before the widget could answer
  var shielded = new WeakSet();
  var carried = []; // values a guarded GET form carried here in the address
  function args() { return arguments; }
  // Analytics repeats its names and values: answers are kept until what was typed changes.
  var answers = new Map();
  function ask(value, question) {
    var answer = answers.get(value);
    if (answer === undefined) {
      answer = question(value);
      if (answers.size > 999) answers.clear();
      if (value.length === undefined || value.length < 300) answers.set(value, answer);
    }
    return answer;
  }
  function redactString(s) {
    var redacted = widget.redact(s);
    return redacted === undefined ? s : redacted;
  }
  function redactNumber(n) {
    return widget.redact_number(n) ? TOKEN : n;
  }
  function text(s) {
    return s.length < 3 ? s : ask(s, redactString); // shorter than anything redact.rs seeks
  }
  function clean(value, depth) {
    var type = typeof value;
    if (type === 'string') return text(value);
    if (type === 'number') return ask(value, redactNumber);
    if (!value || type !== 'object' || depth > 8) return value;
    var proto = Object.getPrototypeOf(value);
    var list = Array.isArray(value) || Object.prototype.toString.call(value) === '[object Arguments]';
    if (!list && proto !== Object.prototype && proto !== null) return value;
    var changed = false;
    var out = list ? [] : {};
    function put(key, item) {
      var k = list ? key : text(key);
      out[k] = clean(item, depth + 1);
      changed = changed || k !== key || !Object.is(out[k], item);
    }
    if (list) for (var i = 0; i < value.length; i++) put(i, value[i]);
    else Object.keys(value).forEach(function (key) { put(key, value[key]); });
    if (!changed) return value;
    return list && !Array.isArray(value) ? args.apply(null, out) : out; // gtag.js wants `arguments`
  }
  function call(target, self, list) {
    if (own) return target.apply(self, list);
    if (widget) {
      try {
        var safe = clean(list, 0);
      } catch (e) {
        fail(e); // the wasm broke: held, like the calls before it
      }
      if (widget) return target.apply(self, safe);
    }
    if (held.length < 1000) held.push([target, self, list]); // bounded on a broken page
    if (light) load(); // the shield's answers come with the widget
  }
  function release() {
    held.splice(0).forEach(function (c) {
      try {
        call(c[0], c[1], c[2]);
      } catch (e) {
        setTimeout(function () { throw e; }); // the site's error, reported as if unwrapped
      }
    });
  }
  function shieldFunction(fn) {
    if (typeof fn !== 'function' || shielded.has(fn)) return fn;
    var proxy = new Proxy(fn, { apply: call }); // properties (ym.a, ym.l) stay the target's
    shielded.add(proxy);
    return proxy;
  }
  function shieldMethod(name) {
    return function (object) {
      if (!object || (typeof object !== 'object' && typeof object !== 'function') ||
        shielded.has(object)) return object;
      shielded.add(object);
      var fn = shieldFunction(object[name]);
      try {
        Object.defineProperty(object, name, {
          configurable: true,
          get: function () { return fn; },
          set: function (value) { fn = shieldFunction(value); } // gtag.js and gtm.js replace push
        });
      } catch (e) { /* a frozen object: nothing can be handed through it later either */ }
      return object;
    };
  }
  function shieldGlobal(name, wrap) {
    var value = wrap(window[name]);
    try {
      Object.defineProperty(window, name, {
        configurable: true,
        enumerable: true,
        get: function () { return value; },
        set: function (next) { value = wrap(next); }
      });
    } catch (e) {
      try {
        window[name] = value; // declared non-configurable before this script: shield its value
      } catch (e2) { /* read-only: left as it is */ }
    }
  }
  shieldGlobal('ym', shieldFunction);
  shieldGlobal('gtag', shieldFunction); // a later `function gtag` wins, but pushes to dataLayer
  shieldGlobal('dataLayer', shieldMethod('push'));
  shieldGlobal('_paq', shieldMethod('push'));
  shieldGlobal('posthog', shieldMethod('capture'));

  // jQuery runs its own submit handlers for .trigger('submit'), .submit() and .triggerHandler()
  // without a native event. Its special-event hooks are its supported way in: `trigger` runs
  // before any handler (false cancels the trigger, default action included), `preDispatch`
  // before each dispatch (false skips the handlers). Put on every jQuery as it is assigned.
  function hookJQuery($) {
    var special = $ && $.event && $.event.special;
    var hooks = special && (special.submit = special.submit || {});
    if (hooks && !hooks.kelisim) {
      hooks.kelisim = 1;
      ['trigger', 'preDispatch'].forEach(function (name, i) {
        var own = hooks[name];
        hooks[name] = function (event) {
          return pass(i ? event.target : this) && (own ? own.apply(this, arguments) : undefined);
        };
      });
    }
    return $;
  }
  shieldGlobal('jQuery', hookJQuery);
  shieldGlobal('$', hookJQuery);

  // A request the page makes (fetch, XMLHttpRequest, sendBeacon) that carries what the visitor
  // typed into a personal-data form is that form going out another way (a type=button whose
  // handler reads the fields, htmx.ajax, a library's own send), so it passes the form's gate:
  // unticked it is refused (and the visitor told why, unless still typing in that form, as for
  // a suggestion service), ticked it goes and the widget records the receipt. Values are
  // looked for as typed, case and spaces folded, in the body (text, URLSearchParams, FormData,
  // bytes) and the URL, also percent- or form-encoded and with JSON's escapes; a body in a Blob
  // or a stream, or compressed, is not read (README, "The analytics shield").
  var WORD = /[\wÀ-ɏЀ-ӿ]/; // redact.rs is_word: short values only count as whole words
  function fold(text) {
    return text.toLowerCase().replace(/\\[nrt]|\s+/g, ' ');
  }
  function carries(text, value) {
    value = fold(value.trim());
    for (var at = value.length < MIN_TYPED ? -1 : text.indexOf(value); at >= 0;
      at = text.indexOf(value, at + 1)) {
      if (value.length >= WHOLE_WORD_BELOW ||
        !WORD.test(text.charAt(at - 1) + text.charAt(at + value.length))) return true;
    }
    return false;
  }
  function bodyText(body) {
    try {
      return body == null ? '' : typeof body === 'string' ? body
        : body instanceof URLSearchParams ? '' + body
          : body instanceof FormData ? Array.from(body, function (e) { return e.join('='); }).join('&')
            : new TextDecoder().decode(body);
    } catch (e) {
      return ''; // a Blob, a stream, a document
    }
  }
  function sends(url, body) {
    var text = url + ' ' + bodyText(body);
    text = fold(text + ' ' + text.replace(/\+/g, ' ').replace(/(%[\da-f]{2})+/gi, function (s) {
      try {
        return decodeURIComponent(s);
      } catch (e) {
        return s;
      }
    }));
    return forms().every(function (form) {
      if (!personal(form) || ![].some.call(form.elements, function (f) {
        return role(f) && carries(text, '' + f.value);
      })) return true;
      var box = form.querySelector(BOX);
      var active = form.getRootNode().activeElement;
      return box && box.checked || !(form.contains(active) && role(active)) ? pass(form) : false;
    });
  }
  var nativeFetch = window.fetch;
  window.fetch = function (input, init) {
    return sends(input && input.url || input, init && init.body) ? nativeFetch.apply(this, arguments)
      : Promise.reject(new TypeError('kelisim: the form\'s consent box is not ticked'));
  };
  var XHR = XMLHttpRequest.prototype;
  var open = XHR.open;
  var send = XHR.send;
  XHR.open = function (method, url) {
    this.kelisimUrl = url;
    return open.apply(this, arguments);
  };
  XHR.send = function (body) {
    var xhr = this;
    if (sends(xhr.kelisimUrl, body)) return send.apply(xhr, arguments);
    setTimeout(function () { // as a request that failed: libraries' own error paths run
      xhr.dispatchEvent(new ProgressEvent('error'));
      xhr.dispatchEvent(new ProgressEvent('loadend'));
    });
  };
  var beacon = navigator.sendBeacon;
  if (beacon) {
    navigator.sendBeacon = function (url, body) {
      return sends(url, body) && beacon.apply(this, arguments);
    };
  }

  // The widget's own fields (the receipt reference, the boxes), wherever they appear, and a
  // guarded GET form's typed fields (the note shield.rs left) come out of this page's address
  // before analytics reads it; the server already had them.
  try {
    var page = location.href.split(/[?#]/)[0];
    var names = ['kelisim_receipt', 'kelisim_consent', 'kelisim_purpose'];
    var note = null;
    try {
      note = sessionStorage.getItem('kelisim_get');
      if (note !== null) sessionStorage.removeItem('kelisim_get');
    } catch (e) { /* no storage: no note */ }
    if (note !== null) {
      note = note.split('\n');
      if (note.shift() === page) names = names.concat(note);
    }
    var query = new URLSearchParams(location.search);
    var found = names.filter(function (name) { return query.has(name); });
    if (found.length) {
      found.forEach(function (name) {
        // The boxes' values are fixed words (yes, a purpose id), nothing a visitor typed.
        if (name !== 'kelisim_consent' && name !== 'kelisim_purpose') {
          carried.push.apply(carried, query.getAll(name));
        }
        query.delete(name);
      });
      query = '' + query;
      history.replaceState(history.state, '', page + (query && '?' + query) + location.hash);
    }
  } catch (e) { /* no URLSearchParams or history: the address stays */ }

  // Gating: `granted` is what the widget granted (null before; without it nothing runs). One
  // element at a time in document order; a src script (not async) loads before the next.
  var granted = null;
  var chain = Promise.resolve();
  var GATED = 'script[type="text/plain"][data-kelisim-category],' +
    'iframe[data-kelisim-category][data-src]';
  function allowed(el) {
    var needs = el.getAttribute('data-kelisim-category').split(/\s+/).filter(Boolean);
    return needs.length > 0 && needs.every(function (c) { return granted.indexOf(c) >= 0; });
  }
  function run(el) {
    var parent = el.parentNode;
    if (!parent || !allowed(el)) return void (el.kelisimTaken = 0); // gone, or just revoked
    if (el.localName === 'iframe') {
      el.src = el.getAttribute('data-src');
      return el.removeAttribute('data-src');
    }
    var s = document.createElement('script');
    [].forEach.call(el.attributes, function (a) {
      if (a.name !== 'type' && a.name !== 'nonce') s.setAttribute(a.name, a.value);
    });
    if (el.hasAttribute('data-type')) s.type = el.getAttribute('data-type');
    s.nonce = el.nonce; // hidden from getAttribute once parsed
    s.text = el.text;
    s.kelisimGated = el.getAttribute('data-kelisim-category').split(/\s+/).filter(Boolean)[0];
    if (s.src) s.addEventListener('error', failed.bind(null, s));
    var loaded = s.src && !el.hasAttribute('async'); // script-made scripts are async anyway
    if (loaded) loaded = new Promise(function (done) { s.onload = s.onerror = done; });
    parent.replaceChild(s, el);
    return loaded;
  }
  function activate() {
    [].forEach.call(granted ? document.querySelectorAll(GATED) : [], function (el) {
      if (el.kelisimTaken || !allowed(el)) return;
      el.kelisimTaken = 1;
      chain = chain.then(run.bind(null, el)).catch(function () {}); // one failure stops none
    });
  }
  window.kelisim = {
    open: function () { if (widget) widget.open(); else if (light) opening(); },
    granted: function (id) { return granted && granted.indexOf(id) >= 0; }
  };

  // Forms added later are marked and guarded as they appear, gated elements activated once
  // granted (the observer above calls this when nodes were added).
  function changed() {
    activate();
    var list = forms();
    list.forEach(function (form) {
      if (personal(form)) {
        markForm(form);
        if (light) load(); // held, as before the widget answered, until it does
      } else {
        looked(form);
      }
    });
    if (widget) {
      try {
        widget.scan(list);
        answers.clear(); // a new form's prefilled values are looked for now
      } catch (e) {
        fail(e);
      }
    } else if (fallen) {
      plainBoxes(list);
    }
  }

  // The widget's transport: keepalive outlives the page the form leaves; the widget
  // decides what the answer means.
  var host = {
    post: function (url, body, key) {
      nativeFetch(url, {
        method: 'POST',
        body: body,
        keepalive: true,
        credentials: 'omit',
        headers: { 'content-type': 'application/json' }
      }).then(function (response) {
        return response.status;
      }, function () {
        return 0;
      }).then(function (status) {
        if (widget) widget.ack(key, status);
      });
    },
    // Consent Mode hears the choice before any gated tag runs.
    consent: function (ids, update) {
      granted = ids;
      // Once per choice: a page that applied it before the widget came is not told twice.
      if (update && JSON.stringify(update) !== told) gtag('consent', 'update', update);
      told = update && JSON.stringify(update);
      // A choice made on this page stands: this browsing session need not ask about it.
      var made = choiceRef();
      try {
        if (made && made !== stored) session.kelisim_checked = made;
      } catch (e) { /* storage full: checked on the next page */ }
      activate();
    },
    // The pre-wasm rules, which the wasm asks rather than ship a second copy (guard.rs, Page).
    personal: personal,
    typed: function (f) { return role(f) > 0; },
    lang: langOf
  };

  function fallback(reason) {
    if (fallen) return;
    fallen = true;
    light = false;
    widget = null;
    root.setAttribute('data-kelisim', 'fallback');
    if (window.console) console.error('kelisim: widget unavailable, using a plain checkbox:', reason);
    diagnose('widget_fallback', /timed out/.test(reason) ? 'timeout'
      : /^Error: config answered/.test(reason) ? 'config'
        : window.WebAssembly && reason instanceof WebAssembly.CompileError ? 'wasm' : 'error',
    'the widget could not start');
    plainBoxes(forms());
  }

  function url(name) { return new URL(name, base).href; }

  function later(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }
  // The fallback needs the forms (a script without `defer` runs before them).
  var ready = new Promise(function (resolve) {
    if (document.readyState !== 'loading') resolve();
    else document.addEventListener('DOMContentLoaded', resolve);
  });
  ready.then(function () {
    shadows(document); // open roots made before this script
    changed();
  });
  function fail(reason) {
    widget = null; // at once: nothing may ask a broken widget again
    try {
      localStorage.removeItem(KEPT); // a kept config the widget broke on is fetched whole again
    } catch (e) { /* no storage */ }
    // Waits for the forms, and briefly for the config's texts and link.
    Promise.all([ready, Promise.race([settled, later(3000)])]).then(function () {
      fallback(reason);
    });
  }

  var css; // the widget's stylesheet, once asked for
  var styled;
  function sheet(name) { // one of the widget's stylesheets, and when it has come
    var link = document.createElement('link');
    var come = new Promise(function (resolve) { link.onload = link.onerror = resolve; });
    link.rel = 'stylesheet';
    link.href = url(name);
    document.head.appendChild(link);
    return [link, come];
  }
  function style() {
    if (!css) {
      styled = sheet('__KELISIM_CSS__');
      css = styled[0];
      styled = styled[1];
    }
    return styled;
  }
  var light = false; // the stored choice applied without the widget, which is not fetched
  var control = null; // the floating control made meanwhile
  var told; // the last Consent Mode update pushed
  var loading = null; // the widget, once asked for
  function load() {
    if (loading) return loading;
    var wasm = nativeFetch(url('__KELISIM_WASM__')); // now, not after the glue
    wasm.catch(function () {}); // reported by the glue's init
    var glue = import(url('__KELISIM_GLUE__')).then(function (module) {
      return module.default({ module_or_path: wasm })
        .then(function () { return module; });
    });
    setTimeout(function () { if (!widget) fail('timed out'); }, 15000);
    // The banner waits for its styles (unstyled, it would flash in the page's flow).
    loading = Promise.all([glue, configured, ready, style(), withdrawn]).then(function (loaded) {
      if (fallen) return;
      light = false;
      if (control) control.remove(); // the widget's banner puts its own
      widget = loaded[0].start({
        site: site,
        collector: collector,
        lang: data.lang || undefined,
        forms: only || undefined,
        withdrawn: loaded[4] || undefined
      }, loaded[1], host);
      carried.forEach(function (value) { widget.learn(value); });
      changed();
      if (widget) root.setAttribute('data-kelisim', 'ready');
      release();
    }).catch(fail);
    return loading;
  }
  function opening() { // the settings, asked for before the widget came
    load().then(function () {
      if (widget) widget.open();
    });
  }
  var configured; // the config, as kept or fetched
  var KEPT = 'kelisim:config'; // the last config, with its site and collector
  var withdrawn; // the stored choice's receipt withdrawn at the collector (its reference)
  var stored; // the reference of the cookie choice this page started with
  var session = {}; // sessionStorage, when there is one
  // The receipt reference of the stored cookie choice (choice.rs: `1.<revision>.<ref>.<choices>`).
  function choiceRef() {
    var ref = /(?:^|;\s*)kelisim_cookies=1\.[^.;]*\.([0-9a-f]{32})\./.exec(document.cookie);
    return ref && ref[1];
  }
  try {
    if (!site) throw new Error('the script tag has no data-site attribute');
    // The config is kept in this site's storage and revalidated at every page start by its
    // revision (a query: a header would cost a CORS preflight): the collector answers 304
    // without a body while it is current, so a new policy version counts from the next page
    // view on and a returning visitor does not fetch it again.
    var stash = null;
    try {
      stash = JSON.parse(localStorage.getItem(KEPT));
      if (stash.site !== site || stash.collector !== collector ||
        typeof stash.body.revision !== 'string') stash = null;
    } catch (e) { stash = null; } // nothing kept, something else kept, or no storage
    configured = nativeFetch(collector + '/v1/sites/' + encodeURIComponent(site) + '/config' +
      (stash ? '?revision=' + encodeURIComponent(stash.body.revision) : ''), {
      credentials: 'omit',
      cache: stash ? 'no-store' : 'no-cache' // a 304 to our question reaches us as it is
    }).then(function (response) {
      if (response.status === 304 && stash) {
        // Read to its end, or the browser reports the request as cancelled.
        return response.text().then(function () { return stash.body; });
      }
      if (response.ok) {
        return response.json().then(function (body) {
          try {
            localStorage.setItem(KEPT, JSON.stringify({ site: site, collector: collector, body: body }));
          } catch (e) { /* no storage: fetched whole at every page */ }
          return body;
        });
      }
      // The collector's problem+json says what to fix (e.g. an origin not in allowed_origins).
      return response.json().then(function (problem) {
        return problem.detail;
      }, function () {}).then(function (detail) {
        throw new Error('config answered HTTP ' + response.status + (detail ? ': ' + detail : ''));
      });
    }).then(function (body) {
      return (config = body);
    });
    settled = configured.catch(function () {});
    // A stored cookie choice (choice.rs: `1.<revision>.<ref>.<choices>`) withdrawn at the
    // collector — by the site's admin, on the visitor's request — is asked again. Checked once
    // per browsing session; no answer leaves the choice as it is.
    stored = choiceRef();
    try {
      session = sessionStorage;
    } catch (e) { /* storage refused: checked at every page */ }
    withdrawn = stored && session.kelisim_checked !== stored && nativeFetch(collector +
      '/v1/receipts/' + stored + '/status?site=' + encodeURIComponent(site), {
      credentials: 'omit',
      cache: 'no-store'
    }).then(function (response) {
      return response.ok && response.json();
    }).then(function (body) {
      if (body && body.status === 'withdrawn') return stored;
      if (body) session.kelisim_checked = stored;
    }, function () {});
    // No stored choice at all: the banner is certain, its files are fetched at once.
    if (cookieValue(document.cookie, COOKIE) === null) load();
    // A collector that never answers must not hold the forms forever.
    setTimeout(function () { if (!widget && !light) fail('timed out'); }, 15000);

    // A returning visitor's page that needs nothing of the widget but the stored choice
    // (issue 19) gets the choice applied here, the floating control and its stylesheet, and
    // not the wasm: only a stored choice that still stands (choice.rs, the rules above), on a
    // page without a personal-data form, with no analytics call made, nothing carried in the
    // address and nothing an earlier page left for the widget (PENDING). Anything else, and
    // anything of it later (a form appearing, an analytics call, the settings opened),
    // fetches the widget, which takes over; until it answers, forms and calls are held.
    Promise.all([configured, ready, withdrawn]).then(function (got) {
      var cookies = got[0].cookies;
      var grants = cookies && !got[2] &&
        storedChoice(cookieValue(document.cookie, COOKIE), cookies.revision, cookies.categories);
      if (loading || fallen || !grants || held.length || carried.length ||
        forms().some(personal) || PENDING.some(function (key) {
          try {
            return JSON.parse(localStorage.getItem(key)).length > 0;
          } catch (e) {
            return false; // nothing there, or no storage
          }
        })) return load();
      light = true;
      host.consent(cookies.categories.filter(function (c, i) {
        return grants[i];
      }).map(function (c) {
        return c.id;
      }), consentMode(cookies.categories, grants));
      var texts = got[0].texts[chooseLanguage(data.lang, root.getAttribute('lang'),
        got[0].languages) || got[0].default_language];
      var label = texts.cookies.open;
      control = el('button', 'kelisim-open', document.body);
      control.type = 'button';
      control.setAttribute('data-kelisim-open', '');
      control.setAttribute('aria-label', label);
      control.title = label;
      // The control's rules alone (the whole stylesheet has them too, for the widget's own).
      sheet('__KELISIM_OPEN_CSS__')[1].then(function () {
        if (light) root.setAttribute('data-kelisim', 'ready');
      });
    }).catch(function () {
      load(); // the widget decides, and reports what is wrong
    });
  } catch (error) {
    fail(error);
  }
})();
