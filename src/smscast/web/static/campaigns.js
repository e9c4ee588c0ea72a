// smscast portal: the campaign report's chart over time (uPlot, vendored), drawn from
// the hourly figures the page carries in data-chart, and drawn again each time the
// report's live part is replaced by its poll. First-party, from /static (CSP).
(function () {
  "use strict";

  var COLOURS = ["#0b5cad", "#1e6b34", "#b3261e", "#7a4fa3", "#8a5a00"];

  function draw(element) {
    if (typeof uPlot !== "function" || element.dataset.drawn === "1") {
      return;
    }
    var chart = JSON.parse(element.getAttribute("data-chart") || "{}");
    if (!chart.x || chart.x.length === 0) {
      return;
    }
    var data = [chart.x];
    var series = [{}];
    chart.series.forEach(function (line, index) {
      data.push(line.values);
      series.push({ label: line.label, stroke: COLOURS[index % COLOURS.length], width: 2 });
    });
    element.dataset.drawn = "1";
    var width = Math.max(element.clientWidth, 280);
    new uPlot({ width: width, height: 260, series: series, axes: [{}, {}] }, data, element);
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-campaign-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  // The poll swaps the whole live part in: its chart is a new, empty element.
  document.addEventListener("htmx:afterSettle", function () { drawAll(document); });
})();
