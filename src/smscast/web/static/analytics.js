// Response analysis: the chart by day, drawn with uPlot from the figures the page
// carries in <script type="application/json" id="analytics-chart"> (the table under
// the chart holds the same figures, so the page reads without it). The period's
// "from" and "to" days matter only for a chosen range: picking a day chooses it.
// First-party, loaded from /static (the Content-Security-Policy forbids inline script).
(function () {
  "use strict";

  var COLOURS = ["#0b5cad", "#1e6b34", "#b3261e", "#8a5a00"];
  var chart = null;

  function draw() {
    var element = document.querySelector('[data-chart="responses"]');
    var source = document.getElementById("analytics-chart");
    if (!element || !source || !window.uPlot) {
      return;
    }
    if (chart) {
      chart.destroy();
      chart = null;
    }
    var data = JSON.parse(source.textContent || "{}");
    var positions = data.labels.map(function (_, index) { return index; });
    var series = [{ label: data.day, value: function (_, index) { return data.labels[index] || ""; } }];
    var values = [positions];
    data.series.forEach(function (one, index) {
      series.push({ label: one.label, stroke: COLOURS[index % COLOURS.length], width: 2 });
      values.push(one.values);
    });
    var every = Math.max(1, Math.ceil(positions.length / 10));
    chart = new window.uPlot(
      {
        width: Math.max(240, element.clientWidth),
        height: 240,
        series: series,
        // Days as positions named by the page's own labels (the workspace's days, not
        // the browser's time zone); counts on whole numbers from zero.
        scales: {
          x: { time: false, range: [-0.5, positions.length - 0.5] },
          y: { range: function (_, min, max) { return [0, Math.max(1, max)]; } }
        },
        axes: [
          {
            splits: function () {
              return positions.filter(function (p) { return p % every === 0; });
            },
            values: function (_, ticks) {
              return ticks.map(function (t) { return data.labels[t] || ""; });
            }
          },
          { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000] }
        ]
      },
      values,
      element
    );
  }

  function customWhenDayPicked() {
    var period = document.getElementById("period");
    ["from", "to"].forEach(function (name) {
      var field = document.getElementById(name);
      if (field && period) {
        field.addEventListener("change", function () {
          if (field.value) {
            period.value = "custom";
          }
        });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw();
    customWhenDayPicked();
  });
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(draw, 200);
  });
})();
