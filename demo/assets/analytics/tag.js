/* A local stand-in for Yandex.Metrika's tag.js (https://mc.yandex.ru/metrika/tag.js), so the
 * demo and its tests need no network. Like the real counter it has no consent API: once
 * initialised it sets its _ym_uid cookie and records, which is why the demo loads it only after
 * the visitor grants "analytics". Like the real one it replaces window.ym with its own and then
 * replays the calls the snippet queued (ym.a). At init it reports location.href, as the real
 * hit's page URL. What it saw is kept in window.demoAnalytics.metrika, and every call it
 * received, with its full arguments, in window.demoAnalytics.calls, which the demo's panel
 * shows. */
(function () {
  'use strict';
  var seen = { counters: [], pages: [] };
  var demo = (window.demoAnalytics = window.demoAnalytics || {});
  demo.metrika = seen;
  var queued = (window.ym && window.ym.a) || [];

  function ym(id, method, options) {
    record('ym', arguments);
    if (method !== 'init') return;
    seen.counters.push({ id: id, webvisor: !!(options && options.webvisor) });
    seen.pages.push(location.href);
    document.cookie = '_ym_uid=' + Date.now() + '; Path=/; Max-Age=31536000; SameSite=Lax';
  }

  /* Appends {to, call, args} to window.demoAnalytics.calls, with the arguments copied as
   * JSON-like values (as in gtag.js), and tells the page with a `demoanalytics` event. */
  function record(call, args) {
    var entry = { to: 'Yandex.Metrika', call: call, args: copyAll(args) };
    (demo.calls = demo.calls || []).push(entry);
    window.dispatchEvent(new CustomEvent('demoanalytics', { detail: entry }));
  }

  function copyAll(args) {
    return Array.prototype.map.call(args, function (a) { return copy(a, 0); });
  }

  function copy(value, depth) {
    if (value === null || typeof value !== 'object') {
      return typeof value === 'function' ? '[function]' : value === undefined ? null : value;
    }
    if (value instanceof Date) return value.toISOString();
    if (depth > 6) return '[…]';
    if (typeof value.length === 'number') {
      return Array.prototype.map.call(value, function (v) { return copy(v, depth + 1); });
    }
    var out = {};
    Object.keys(value).forEach(function (k) { out[k] = copy(value[k], depth + 1); });
    return out;
  }

  window.ym = ym;
  queued.forEach(function (args) { ym.apply(null, args); });
})();
