// smscast portal: the campaign report's chart over time (uPlot, vendored), drawn from
// the hourly figures the page carries in data-chart, and drawn again each time the
// report's live part is replaced by its poll. First-party, from /static (CSP).
(function () {
  "use strict";

  var COLOURS = ["#0b5cad", "#1e6b34", "#b3261e", "#7a4fa3", "#8a5a00"];

  // The hours shown: first to last; one hour alone gets the day around it, else uPlot
  // stretches a single point over years.
  function span(hours) {
    var first = hours[0];
    var last = hours[hours.length - 1];
    return first === last ? [first - 12 * 3600, last + 12 * 3600] : [first, last];
  }

  function draw(element) {
    if (typeof uPlot !== "function" || element.dataset.drawn === "1") {
      return;
    }
    var chart = JSON.parse(element.getAttribute("data-chart") || "{}");
    if (!chart.x || chart.x.length === 0) {
      return;
    }
    var zone = element.getAttribute("data-timezone") || "UTC";
    var data = [chart.x];
    var series = [{ label: element.getAttribute("data-time-label") || "", value: window.smscastTime.legend(zone) }];
    chart.series.forEach(function (line, index) {
      data.push(line.values);
      series.push({ label: line.label, stroke: COLOURS[index % COLOURS.length], width: 2, points: { show: true } });
    });
    element.dataset.drawn = "1";
    var width = Math.max(element.clientWidth, 280);
    var options = {
      width: width,
      height: 260,
      series: series,
      axes: [{ values: window.smscastTime.axis(zone) }, {}],
      // Hours in the workspace's time zone, as every moment on the page is written.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), zone); },
      scales: {
        // One hour of figures alone would be stretched over years: show the day around it.
        x: { time: true, range: function () { return span(chart.x); } },
        y: { range: function (u, min, max) { return [0, Math.max(max, 1)]; } }
      }
    };
    new uPlot(options, data, element);
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-campaign-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  // The poll swaps the whole live part in: its chart is a new, empty element.
  document.addEventListener("htmx:afterSettle", function () { drawAll(document); });
})();
