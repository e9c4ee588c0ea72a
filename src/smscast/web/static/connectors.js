// smscast portal: a connector's throughput over the last day (uPlot, vendored), drawn
// from the hourly figures the page carries in data-chart. The page shows the same
// figures in a table for readers without JavaScript. First-party, from /static (CSP).
(function () {
  "use strict";

  var COLOURS = ["#0b5cad", "#7a4fa3", "#1e6b34", "#b3261e"];

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
    var series = [{}];
    chart.series.forEach(function (line, index) {
      data.push(line.values);
      series.push({ label: line.label, stroke: COLOURS[index % COLOURS.length], width: 2 });
    });
    element.dataset.drawn = "1";
    new uPlot({
      width: Math.max(element.clientWidth, 280),
      height: 240,
      series: series,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), zone); },
      scales: { y: { range: function (u, min, max) { return [0, Math.max(max, 1)]; } } }
    }, data, element);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-connector-chart]").forEach(draw);
  });
})();
