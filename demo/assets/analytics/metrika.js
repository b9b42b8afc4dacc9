/* Yandex.Metrika, as the demo site sets it up: the usual counter snippet, in a file of its own
 * because the site's Content-Security-Policy allows no inline script, and gated:
 * <script type="text/plain" data-kelisim-category="analytics" src="/assets/analytics/metrika.js">.
 * Webvisor (session recording) is a purpose of its own: it is on only when the visitor also
 * granted "session_recording" (kelisim.granted), from the page view after that choice.
 * A real site loads https://mc.yandex.ru/metrika/tag.js; the demo a local stand-in. */
(function (m, e, t, r, i, k, a) {
  m[i] = m[i] || function () {
    (m[i].a = m[i].a || []).push(arguments);
  };
  m[i].l = 1 * new Date();
  k = e.createElement(t);
  a = e.getElementsByTagName(t)[0];
  k.async = 1;
  k.src = r;
  a.parentNode.insertBefore(k, a);
})(window, document, 'script', '/assets/analytics/tag.js', 'ym');

window.ym(98765432, 'init', {
  clickmap: true,
  trackLinks: true,
  accurateTrackBounce: true,
  webvisor: window.kelisim.granted('session_recording') === true
});
