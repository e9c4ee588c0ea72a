// smscast portal: the little JavaScript the pages use on top of plain HTML forms.
// First-party, loaded from /static (the Content-Security-Policy forbids inline script).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the page's CSRF token; the server refuses a write without it.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // A <select data-autosubmit> sends its form when changed (the form's button stays for
  // keyboards and for browsers without JavaScript).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
      target.form.requestSubmit();
    }
  });

  // An error summary takes the focus, so a screen reader reads the problems first.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector(".error-summary");
    if (summary) {
      summary.focus();
    }
  });
  // Hourly charts (uPlot) label their time axis and legend in the page's language and
  // the workspace's time zone: uPlot's own labels are English ("Dec", "11am").
  // `smscastTime.axis(zone)` and `.legend(zone)` give uPlot's `values` and `value`.
  window.smscastTime = (function () {
    var language = document.documentElement.lang || "en";
    function formatter(zone, options) {
      var format = new Intl.DateTimeFormat(language, Object.assign({ timeZone: zone }, options));
      return function (seconds) { return seconds == null ? "–" : format.format(new Date(seconds * 1000)); };
    }
    return {
      axis: function (zone) {
        var hour = formatter(zone, { hour: "2-digit", minute: "2-digit" });
        var day = formatter(zone, { day: "numeric", month: "short" });
        return function (u, ticks, _axis, _space, step) {
          return ticks.map(step >= 86400 ? day : hour);
        };
      },
      legend: function (zone) {
        var moment = formatter(zone, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
        return function (u, seconds) { return moment(seconds); };
      }
    };
  })();
})();
