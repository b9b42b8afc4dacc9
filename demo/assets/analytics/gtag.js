/* A local stand-in for Google's gtag.js (https://www.googletagmanager.com/gtag/js?id=…), so the
 * demo and its tests need no network. Like the real library it reads window.dataLayer and
 * honours Google Consent Mode: it sets its _ga cookie and counts a page view only while
 * analytics_storage is granted. What it saw is kept in window.demoAnalytics.gtag. */
(function () {
  'use strict';
  var seen = { commands: [], consent: {}, pageViews: 0 };
  (window.demoAnalytics = window.demoAnalytics || {}).gtag = seen;
  var layer = (window.dataLayer = window.dataLayer || []);

  function handle(entry) {
    // gtag() pushes `arguments` objects; plain objects are Tag Manager events.
    if (!entry || typeof entry.length !== 'number') return;
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
    }
  }

  layer.forEach(handle);
  var push = layer.push;
  layer.push = function () {
    for (var i = 0; i < arguments.length; i++) handle(arguments[i]);
    return push.apply(layer, arguments);
  };
})();
