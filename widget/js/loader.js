/*! Kelisim loader: <script src=".../kelisim.js" data-site="SITE" defer></script>
 * Loads the consent widget (wasm) and the site config. Until the widget has taken over, it holds
 * submissions of forms that look like personal-data forms; if the widget cannot load, it adds a
 * plain required checkbox so those forms still cannot be sent without consent.
 * Works under `script-src 'self' 'wasm-unsafe-eval'; style-src 'self'` (no eval, no inline style).
 * xtask replaces the __KELISIM_* placeholders with content-hashed names relative to this file. */
(function () {
  'use strict';
  var script = document.currentScript;
  var root = document.documentElement;
  if (!script || !script.src || root.hasAttribute('data-kelisim')) return; // loaded twice
  root.setAttribute('data-kelisim', 'loading');

  var base = script.src;
  var data = script.dataset;
  var site = data.site || '';
  var collector = (data.collector || new URL(base).origin).replace(/\/+$/, '');
  var only = data.forms || '';
  var state = 'hold'; // 'hold' until the wasm takes over or 'fallback'; 'off' once it has
  var SUBMIT = 'button[type=submit],button:not([type]),input[type=submit],input[type=image]';
  // Built-in label texts for the fallback only (the wasm shows the site's configured texts).
  var TEXTS = {
    ru: 'Я согласен(на) на обработку персональных данных',
    kk: 'Дербес деректерді жинауға және өңдеуге келісемін',
    en: 'I agree to the processing of my personal data'
  };
  // A small copy of the widget's policy::is_personal_data_form (the wasm has the full rules).
  var WORD = /(^|[^a-z])(tel|fio|iin|mail|mob|sms|imya|familiya|otchestvo|pochta)([^a-z]|$)|phone|e-?mail|name|telefon|mobile|whatsapp|passport|address|birth/i;
  var AUTOFILL = /(^|\s)(name|[a-z-]*-name|nickname|email|tel[a-z-]*|street-address|address-[a-z0-9-]+|postal-code|bday[a-z-]*)(\s|$)/i;
  var SKIP = /^(hidden|submit|button|reset|image|checkbox|radio|search)$/i;

  function selected(form) {
    if (!only) return true;
    try { return form.matches(only); } catch (e) { return true; } // bad selector: fail closed
  }

  function personal(form) {
    if (!(form instanceof HTMLFormElement) || !selected(form)) return false;
    if (form.hasAttribute('data-kelisim-form')) return true;
    if (form.hasAttribute('data-kelisim-ignore')) return false;
    for (var i = 0; i < form.elements.length; i++) {
      var el = form.elements[i];
      var tag = el.localName;
      var type = (el.getAttribute('type') || '').trim();
      if (tag === 'textarea' || (tag === 'input' && /^(tel|email)$/i.test(type))) return true;
      if ((tag !== 'input' && tag !== 'select') || (tag === 'input' && SKIP.test(type))) continue;
      if (WORD.test(el.getAttribute('name') || '') || WORD.test(el.id) ||
          AUTOFILL.test(el.getAttribute('autocomplete') || '')) return true;
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

  var boxes = 0;
  function addPlainBox(form) {
    var lang = language(form);
    var block = document.createElement('div');
    var box = document.createElement('input');
    var label = document.createElement('label');
    block.className = 'kelisim-consent';
    block.lang = lang;
    box.className = 'kelisim-consent__box';
    box.type = 'checkbox';
    box.name = 'kelisim_consent';
    box.value = 'yes';
    box.required = true;
    box.id = 'kelisim-consent-f' + ++boxes;
    label.className = 'kelisim-consent__label';
    label.htmlFor = box.id;
    label.textContent = TEXTS[lang];
    block.appendChild(box);
    block.appendChild(label);
    var button = form.querySelector(SUBMIT);
    if (button && button.parentNode) button.parentNode.insertBefore(block, button);
    else form.appendChild(block);
    return box;
  }

  // Capture phase on window: runs before the site's own submit handlers, and a held
  // submission never reaches them.
  function onSubmit(event) {
    var form = event.target;
    if (state === 'off' || !personal(form)) return;
    if (state === 'fallback') {
      var box = form.querySelector('input.kelisim-consent__box') || addPlainBox(form);
      if (box.checked) return;
      box.focus();
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  }
  window.addEventListener('submit', onSubmit, true);

  function fallback(reason) {
    if (state !== 'hold') return;
    state = 'fallback';
    root.setAttribute('data-kelisim', 'fallback');
    if (window.console) console.error('kelisim: widget unavailable, using a plain checkbox:', reason);
    var forms = document.forms;
    for (var i = 0; i < forms.length; i++) {
      if (personal(forms[i]) && !forms[i].querySelector('input.kelisim-consent__box')) {
        addPlainBox(forms[i]);
      }
    }
  }

  function url(name) { return new URL(name, base).href; }

  // The fallback needs the forms, which a script without `defer` runs before.
  var ready = new Promise(function (resolve) {
    if (document.readyState !== 'loading') resolve();
    else document.addEventListener('DOMContentLoaded', resolve);
  });
  function failed(reason) {
    ready.then(function () { fallback(reason); });
  }

  try {
    if (!site) throw new Error('the script tag has no data-site attribute');
    var css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = url('__KELISIM_CSS__');
    document.head.appendChild(css);

    var config = fetch(collector + '/v1/sites/' + encodeURIComponent(site) + '/config', {
      credentials: 'omit'
    }).then(function (response) {
      if (!response.ok) throw new Error('config answered HTTP ' + response.status);
      return response.json();
    });
    var glue = import(url('__KELISIM_GLUE__')).then(function (module) {
      return module.default({ module_or_path: new URL('__KELISIM_WASM__', base) })
        .then(function () { return module; });
    });
    // A collector that never answers must not hold the forms forever.
    setTimeout(function () { failed('timed out'); }, 15000);

    Promise.all([glue, config, ready]).then(function (loaded) {
      if (state !== 'hold') return;
      loaded[0].start({
        site: site,
        collector: collector,
        lang: data.lang || undefined,
        forms: only || undefined
      }, loaded[1]);
      state = 'off';
      window.removeEventListener('submit', onSubmit, true);
    }).catch(failed);
  } catch (error) {
    failed(error);
  }
})();
