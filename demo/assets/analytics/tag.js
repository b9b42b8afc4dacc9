/* A local stand-in for Yandex.Metrika's tag.js (https://mc.yandex.ru/metrika/tag.js), so the
 * demo and its tests need no network. Like the real counter it has no consent API: once
 * initialised it sets its _ym_uid cookie and records, which is why the demo loads it only after
 * the visitor grants "analytics". What it saw is kept in window.demoAnalytics.metrika. */
(function () {
  'use strict';
  var seen = { counters: [] };
  (window.demoAnalytics = window.demoAnalytics || {}).metrika = seen;
  var queued = (window.ym && window.ym.a) || [];

  function ym(id, method, options) {
    if (method !== 'init') return;
    seen.counters.push({ id: id, webvisor: !!(options && options.webvisor) });
    document.cookie = '_ym_uid=' + Date.now() + '; Path=/; Max-Age=31536000; SameSite=Lax';
  }

  window.ym = ym;
  queued.forEach(function (args) { ym.apply(null, args); });
})();
