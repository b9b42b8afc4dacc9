/* The demo site's own lead tracking, written the careless way many real sites write it: as the
 * visitor types in the contact form, each field's value goes to Yandex.Metrika (visit params
 * and a goal), to the Tag Manager dataLayer and, where the site runs it, to PostHog; on submit,
 * Google Analytics gets a generate_lead event with the whole form. Nothing here holds anything
 * back: Kelisim's analytics shield is what replaces the typed values before analytics sees
 * them, and the panel beside the form (shield-panel.js) shows what analytics received. Not
 * gated itself: it only talks to tags that are (a call waits in the dataLayer, or is skipped
 * while Metrika or PostHog is not loaded). */
(function () {
  'use strict';
  var form = document.getElementById('feedback');
  if (!form) return;
  var COUNTER = 98765432;
  var PAUSE_MS = 500; // after the visitor stops typing in a field
  var timers = {};

  function layer() {
    return (window.dataLayer = window.dataLayer || []);
  }

  function gtag() {
    if (typeof window.gtag === 'function') window.gtag.apply(window, arguments);
    else layer().push(arguments);
  }

  function tracked(field) {
    return field.name && !/^(hidden|checkbox|radio|submit|button)$/.test(field.type) &&
      field.name.indexOf('kelisim') !== 0;
  }

  function sendField(name, value) {
    layer().push({ event: 'lead_form_input', form: form.id, field: name, value: value });
    if (typeof window.ym === 'function') {
      var params = {};
      params[name] = value;
      window.ym(COUNTER, 'params', { lead_form: params });
      window.ym(COUNTER, 'reachGoal', 'form_input', { field: name, value: value });
    }
    if (window.posthog && typeof window.posthog.capture === 'function') {
      window.posthog.capture('lead_form_input', { field: name, value: value });
    }
  }

  form.addEventListener('input', function (e) {
    var field = e.target;
    if (!tracked(field)) return;
    clearTimeout(timers[field.name]);
    timers[field.name] = setTimeout(function () { sendField(field.name, field.value); }, PAUSE_MS);
  });

  form.addEventListener('submit', function () {
    var lead = { form_id: form.id };
    Array.prototype.forEach.call(form.elements, function (field) {
      if (tracked(field)) lead[field.name] = field.value;
    });
    gtag('event', 'generate_lead', lead);
    if (typeof window.ym === 'function') window.ym(COUNTER, 'reachGoal', 'lead_sent', lead);
  });
})();
