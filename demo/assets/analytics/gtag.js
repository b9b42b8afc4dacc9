/* A local stand-in for Google's gtag.js (https://www.googletagmanager.com/gtag/js?id=…), so the
 * demo and its tests need no network. Like the real library it reads window.dataLayer (the
 * entries queued before it loaded, then every push), replaces dataLayer.push with its own, and
 * honours Google Consent Mode: it sets its _ga cookie and counts a page view only while
 * analytics_storage is granted; a page view reports location.href, as the real one's
 * page_location does. What it saw is kept in window.demoAnalytics.gtag, and every entry it
 * received, with its full arguments, in window.demoAnalytics.calls (see record() below), which
 * the demo's panel shows. */
(function () {
  'use strict';
  var seen = { commands: [], consent: {}, pageViews: 0, pageLocations: [] };
  var demo = (window.demoAnalytics = window.demoAnalytics || {});
  demo.gtag = seen;
  var layer = (window.dataLayer = window.dataLayer || []);

  function handle(entry) {
    // gtag() pushes `arguments` objects; plain objects are Tag Manager events.
    var isCommand = !!entry && typeof entry === 'object' && typeof entry.length === 'number';
    record(isCommand ? 'gtag' : 'dataLayer.push', isCommand ? entry : [entry]);
    if (!isCommand) return;
    var command = Array.prototype.slice.call(entry);
    var name = typeof command[1] === 'string' ? command[0] + ' ' + command[1] : command[0];
    seen.commands.push(name);
    if (command[0] === 'consent') {
      Object.keys(command[2] || {}).forEach(function (type) {
        if (type !== 'wait_for_update') seen.consent[type] = command[2][type];
      });
    }
    if (command[0] === 'config' && seen.consent.analytics_storage === 'granted') {
      document.cookie = '_ga=GA1.1.' + Date.now() + '; Path=/; Max-Age=34128000; SameSite=Lax';
      seen.pageViews += 1;
      seen.pageLocations.push(location.href);
      record('page_view', [{ page_location: location.href, page_referrer: document.referrer }]);
    }
  }

  /* Appends {to, call, args} to window.demoAnalytics.calls, with the arguments copied as
   * JSON-like values (Arguments become arrays, a Date its ISO string, as in tag.js), and tells
   * the page with a `demoanalytics` event. */
  function record(call, args) {
    var entry = { to: 'Google Analytics', call: call, args: copyAll(args) };
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

  layer.forEach(handle);
  var push = layer.push;
  layer.push = function () {
    for (var i = 0; i < arguments.length; i++) handle(arguments[i]);
    return push.apply(layer, arguments);
  };
})();
