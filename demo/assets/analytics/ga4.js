/* Google Analytics 4, as the demo site sets it up: the usual gtag snippet, in a file of its own
 * because the site's Content-Security-Policy allows no inline script. It is written
 * <script type="text/plain" data-kelisim-category="analytics" src="/assets/analytics/ga4.js">
 * after the gated gtag.js, so neither runs before the visitor grants "analytics"; by then
 * Kelisim has pushed Consent Mode's default and the visitor's update to the dataLayer. */
window.dataLayer = window.dataLayer || [];
function gtag() {
  window.dataLayer.push(arguments);
}
gtag('js', new Date());
gtag('config', 'G-DEMO000000');
