// The dashboard's live parts, on top of a page that shows every number without them:
// the KPI numbers follow the server's event stream (/dashboard/stream, same filters as
// the page), and the traffic and funnel charts are drawn with uPlot from the figures the
// page carries in <script type="application/json" id="dashboard-charts">.
// First-party, loaded from /static (the Content-Security-Policy forbids inline script).
(function () {
  "use strict";

  var COLOURS = { sent: "#0b5cad", delivered: "#1e6b34", failed: "#b3261e" };
  var stream = null;
  var charts = [];

  function closeStream() {
    if (stream) {
      stream.close();
      stream = null;
    }
  }

  // One event carries every KPI's text, already in the reader's language:
  // {"kpi-sent": {"value": "1,234", "detail": ""}, ...}
  function showNumbers(root, texts) {
    Object.keys(texts).forEach(function (kind) {
      var tile = root.querySelector('[data-testid="' + kind + '"]');
      if (!tile) {
        return;
      }
      var value = tile.querySelector("[data-kpi-value]");
      var detail = tile.querySelector("[data-kpi-detail]");
      if (value && value.textContent !== texts[kind].value) {
        value.textContent = texts[kind].value;
      }
      if (detail && detail.textContent !== texts[kind].detail) {
        detail.textContent = texts[kind].detail;
      }
    });
  }

  // The charts and tables follow the numbers too, less often: a few seconds after a
  // change the dashboard is fetched again and swapped in place (no reload, the address
  // kept), unless the reader is using it (a tile's tools open, focus inside it).
  var REDRAW_AFTER_MS = 5000;
  var redrawing = null;

  function inUse(root) {
    return root.querySelector("details[open]") !== null || root.contains(document.activeElement);
  }

  function redrawSoon(root) {
    if (redrawing || !window.htmx) {
      return;
    }
    redrawing = setTimeout(function () {
      redrawing = null;
      if (!document.body.contains(root) || inUse(root)) {
        return;
      }
      window.htmx.ajax("GET", window.location.pathname + window.location.search,
        { target: "#dashboard", select: "#dashboard", swap: "outerHTML" });
    }, REDRAW_AFTER_MS);
  }

  function openStream(root) {
    closeStream();
    var address = root.getAttribute("data-stream");
    if (!address || typeof EventSource === "undefined") {
      return;
    }
    var live = root.querySelector("[data-live]");
    stream = new EventSource(address);
    stream.addEventListener("open", function () {
      if (live) {
        live.hidden = false;
      }
    });
    stream.addEventListener("error", function () {
      if (live) {
        live.hidden = true;
      }
    });
    var first = true;
    stream.addEventListener("kpis", function (event) {
      showNumbers(root, JSON.parse(event.data));
      if (!first) {
        redrawSoon(root);
      }
      first = false;
    });
    stream.addEventListener("signed-out", function () {
      closeStream();
      window.location.reload(); // the page itself then sends the reader to sign in
    });
  }

  function chartWidth(element) {
    return Math.max(240, element.clientWidth);
  }

  function drawTraffic(element, data) {
    var series = [{ label: data.time_label, value: window.smscastTime.legend(data.timezone) }];
    var values = [data.x];
    var colours = [COLOURS.sent, COLOURS.delivered, COLOURS.failed];
    data.series.forEach(function (one, index) {
      series.push({ label: one.label, stroke: colours[index], width: 2 });
      values.push(one.values);
    });
    return new window.uPlot(
      {
        width: chartWidth(element), height: 220, series: series, scales: { x: { time: true } },
        axes: [{ values: window.smscastTime.axis(data.timezone) }, {}],
        tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1e3), data.timezone); }
      },
      values,
      element
    );
  }

  function drawFunnel(element, data) {
    var positions = data.values.map(function (_, index) { return index; });
    return new window.uPlot(
      {
        width: chartWidth(element),
        height: 180,
        legend: { show: false },
        scales: { x: { time: false, range: [-0.5, data.values.length - 0.5] } },
        axes: [
          { values: function (_, ticks) { return ticks.map(function (t) { return data.labels[t] || ""; }); },
            splits: function () { return positions; } },
          {}
        ],
        series: [
          {},
          { label: data.label, fill: COLOURS.sent, stroke: COLOURS.sent,
            paths: window.uPlot.paths.bars({ size: [0.6, 64] }), points: { show: false } }
        ]
      },
      [positions, data.values],
      element
    );
  }

  function drawCharts(root) {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    var source = root.querySelector("#dashboard-charts");
    if (!source || !window.uPlot) {
      return;
    }
    var data = JSON.parse(source.textContent || "{}");
    var traffic = root.querySelector('[data-chart="traffic"]');
    if (traffic && data.traffic) {
      charts.push(drawTraffic(traffic, data.traffic));
    }
    var funnel = root.querySelector('[data-chart="funnel"]');
    if (funnel && data.funnel) {
      charts.push(drawFunnel(funnel, data.funnel));
    }
  }

  function start() {
    var root = document.getElementById("dashboard");
    if (!root) {
      return;
    }
    drawCharts(root);
    openStream(root);
  }

  // A form sent through htmx that the server refuses: a 422 is the dashboard again with
  // what is wrong listed at the top (swap it in as usual); any other refusal (403, 404)
  // is a whole error page, shown as the browser would show it without JavaScript.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (status >= 400 && document.getElementById("dashboard")) {
      event.detail.shouldSwap = false;
      closeStream();
      document.open();
      document.write(event.detail.xhr.responseText);
      document.close();
    }
  });

  document.addEventListener("DOMContentLoaded", start);
  // After htmx swaps the dashboard (a tile moved, a filter applied): the same again.
  document.addEventListener("htmx:load", function (event) {
    var element = event.detail && event.detail.elt;
    if (element && element.id === "dashboard") {
      start();
      var summary = element.querySelector(".error-summary");
      if (summary) {
        summary.focus();
      }
    }
  });
  window.addEventListener("pagehide", closeStream);
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      var root = document.getElementById("dashboard");
      if (root) {
        drawCharts(root);
      }
    }, 200);
  });
})();
