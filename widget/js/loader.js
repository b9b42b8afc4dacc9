/*! Kelisim loader. <script src=".../kelisim.js" data-site="SITE" defer></script>
 * Pushes Consent Mode's default, then owns every listener (capture-phase submit/invalid/
 * change/click on window, a patched HTMLFormElement.prototype.submit, a MutationObserver) and
 * asks the wasm widget, once loaded, what to allow. Until then it holds personal-data forms; if
 * the widget cannot load or breaks, a plain required checkbox guards them. Gated scripts and
 * iframes run once the widget grants their category. No eval, no inline style (strict CSP).
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
  // A short copy of the wasm's policy::is_personal_data_form.
  var WORD = /(^|[^a-z])(tel|fio|iin|mail|mob|sms|imya|familiya|otchestvo|pochta)([^a-z]|$)|phone|e-?mail|name|telefon|mobile|whatsapp|passport|address|birth/i;
  var AUTOFILL = /(^|\s)(name|[a-z-]*-name|nickname|email|tel[a-z-]*|street-address|address-[a-z0-9-]+|postal-code|bday[a-z-]*)(\s|$)/i;
  var SKIP = /^(hidden|submit|button|reset|image|checkbox|radio|search)$/i;

  function personal(form) {
    try {
      if (only && !form.matches(only)) return false;
    } catch (e) { /* a bad selector narrows nothing: fail closed */ }
    if (form.hasAttribute('data-kelisim-form')) return true;
    if (form.hasAttribute('data-kelisim-ignore')) return false;
    for (var i = 0; i < form.elements.length; i++) {
      var f = form.elements[i];
      var tag = f.localName;
      var type = (f.getAttribute('type') || '').trim();
      if (tag === 'textarea' || (tag === 'input' && /^(tel|email)$/i.test(type))) return true;
      if ((tag !== 'input' && tag !== 'select') || (tag === 'input' && SKIP.test(type))) continue;
      if (WORD.test(f.getAttribute('name') || '') || WORD.test(f.id) ||
          AUTOFILL.test(f.getAttribute('autocomplete') || '')) return true;
    }
    return false;
  }

  function language(form) {
    var holder = form.closest('[lang]');
    var lang = (data.lang || (holder && holder.getAttribute('lang')) || '')
      .split(/[-_]/)[0].toLowerCase();
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
  // The fallback box: the config's label and consent-text link when it arrived.
  function plainBox(form) {
    var box = form.querySelector(BOX);
    if (box) {
      box.required = true;
      return box;
    }
    var lang = language(form);
    var texts = (config && config.texts && config.texts[lang]) || {};
    var block = document.createElement('div');
    block.className = 'kelisim-consent';
    block.lang = lang;
    box = el('input', 'kelisim-consent__box', block);
    box.type = 'checkbox';
    box.name = 'kelisim_consent';
    box.value = 'yes';
    box.required = true;
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
    return box;
  }

  function plainBoxes() {
    for (var i = 0; i < document.forms.length; i++) {
      if (personal(document.forms[i])) plainBox(document.forms[i]);
    }
  }

  // May this form be sent now? The one gate for submit events and form.submit().
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
    if (box.checked) return true;
    box.focus();
    box.reportValidity();
    return false;
  }

  // Registered before any later site script, so the site's own submit handlers run after
  // the guard, and a refused submission never reaches them.
  function on(event) {
    var target = event.target;
    if (event.type === 'submit') {
      if (!pass(target)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    } else if (widget) {
      var type = event.type;
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
    }
  }
  ['submit', 'invalid', 'change', 'click', 'input'].forEach(function (type) {
    addEventListener(type, on, true);
  });

  // form.submit() and HTMLFormElement.prototype.submit.call(form) fire no submit event.
  var proto = HTMLFormElement.prototype;
  var nativeSubmit = proto.submit;
  proto.submit = function () {
    if (pass(this)) nativeSubmit.call(this);
  };

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

  // The widget's own fields (the receipt reference, the box), wherever they appear, and a
  // guarded GET form's typed fields (the note shield.rs left) come out of this page's address
  // before analytics reads it; the server already had them.
  try {
    var page = location.href.split(/[?#]/)[0];
    var names = ['kelisim_receipt', 'kelisim_consent'];
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
        if (name !== 'kelisim_consent') carried.push.apply(carried, query.getAll(name));
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
    open: function () { if (widget) widget.open(); },
    granted: function (id) { return granted && granted.indexOf(id) >= 0; }
  };

  // Forms added later are guarded as they appear, gated elements activated once granted.
  new MutationObserver(function () {
    activate();
    if (widget) {
      try {
        widget.scan();
        answers.clear(); // a new form's prefilled values are looked for now
      } catch (e) {
        fail(e);
      }
    } else if (fallen) {
      plainBoxes();
    }
  }).observe(root, { childList: true, subtree: true });

  // The widget's transport: keepalive outlives the page the form leaves; the widget
  // decides what the answer means.
  var host = {
    post: function (url, body, key) {
      fetch(url, {
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
      if (update) gtag('consent', 'update', update);
      activate();
    }
  };

  function fallback(reason) {
    if (fallen) return;
    fallen = true;
    widget = null;
    root.setAttribute('data-kelisim', 'fallback');
    if (window.console) console.error('kelisim: widget unavailable, using a plain checkbox:', reason);
    plainBoxes();
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
  function fail(reason) {
    widget = null; // at once: nothing may ask a broken widget again
    // Waits for the forms, and briefly for the config's texts and link.
    Promise.all([ready, Promise.race([settled, later(3000)])]).then(function () {
      fallback(reason);
    });
  }

  try {
    if (!site) throw new Error('the script tag has no data-site attribute');
    var css = document.createElement('link');
    var styled = new Promise(function (resolve) { css.onload = css.onerror = resolve; });
    css.rel = 'stylesheet';
    css.href = url('__KELISIM_CSS__');
    document.head.appendChild(css);
    var wasm = fetch(url('__KELISIM_WASM__')); // now, not after the glue
    wasm.catch(function () {}); // reported by the glue's init

    // no-cache: revalidated (ETag, a 304) at every page start, so a new policy version
    // counts from the next page view on.
    var configured = fetch(collector + '/v1/sites/' + encodeURIComponent(site) + '/config', {
      credentials: 'omit',
      cache: 'no-cache'
    }).then(function (response) {
      if (!response.ok) throw new Error('config answered HTTP ' + response.status);
      return response.json();
    }).then(function (body) {
      return (config = body);
    });
    settled = configured.catch(function () {});
    // A stored cookie choice (choice.rs: `1.<revision>.<ref>.<choices>`) withdrawn at the
    // collector — by the site's admin, on the visitor's request — is asked again. Checked once
    // per browsing session; no answer leaves the choice as it is.
    var stored = /(?:^|;\s*)kelisim_cookies=1\.[^.;]*\.([0-9a-f]{32})\./.exec(document.cookie);
    var session = {};
    try {
      session = sessionStorage;
    } catch (e) { /* storage refused: checked at every page */ }
    var withdrawn = stored && session.kelisim_checked !== stored[1] && fetch(collector +
      '/v1/receipts/' + stored[1] + '/status?site=' + encodeURIComponent(site), {
      credentials: 'omit',
      cache: 'no-store'
    }).then(function (response) {
      return response.ok && response.json();
    }).then(function (body) {
      if (body && body.status === 'withdrawn') return stored[1];
      if (body) session.kelisim_checked = stored[1];
    }, function () {});
    var glue = import(url('__KELISIM_GLUE__')).then(function (module) {
      return module.default({ module_or_path: wasm })
        .then(function () { return module; });
    });
    // A collector that never answers must not hold the forms forever.
    setTimeout(function () { if (!widget) fail('timed out'); }, 15000);

    // The banner waits for its styles (unstyled, it would flash in the page's flow).
    Promise.all([glue, configured, ready, styled, withdrawn]).then(function (loaded) {
      if (fallen) return;
      widget = loaded[0].start({
        site: site,
        collector: collector,
        lang: data.lang || undefined,
        forms: only || undefined,
        withdrawn: loaded[4] || undefined
      }, loaded[1], host);
      carried.forEach(function (value) { widget.learn(value); });
      root.setAttribute('data-kelisim', 'ready');
      release();
    }).catch(fail);
  } catch (error) {
    fail(error);
  }
})();
