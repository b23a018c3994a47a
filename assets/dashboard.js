// The dashboard's charts, drawn with uPlot from the page's JSON data island
// (#dashboard-data). The tables below each chart carry the same figures as text.
"use strict";
(function () {
  // Script errors and CSP refusals, for the browser tests to read.
  window.__errors = window.__errors || [];
  window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
  document.addEventListener("securitypolicyviolation", function (e) {
    window.__errors.push("csp: " + e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber + " " + e.sample);
  });

  var COLOURS = ["#0b5cad", "#cf222e", "#9a6700", "#1a7f37", "#8250df", "#bc4c00",
    "#57606a", "#1b7c83", "#bf3989", "#4d2d00"];

  function width(el) {
    return Math.max(280, Math.min(el.parentElement.clientWidth || 800, 1100));
  }

  function acceptance(el, a) {
    var limit = function (v) { return a.x.map(function () { return v; }); };
    var dashed = function (label, stroke) {
      return { label: label, stroke: stroke, dash: [6, 4], width: 1, points: { show: false } };
    };
    var pct = function (u, v) { return v == null ? "—" : v.toFixed(0) + " %"; };
    return new uPlot({
      width: width(el), height: 260,
      scales: { y: { range: [0, 100] } },
      axes: [{}, { values: function (u, vs) { return vs.map(function (v) { return v + " %"; }); } }],
      series: [
        {},
        { label: "acceptance rate", stroke: "#0b5cad", width: 2, value: pct, spanGaps: false },
        dashed("healthy from", "#1a7f37"),
        dashed("elevated from", "#9a6700"),
        dashed("rubber-stamping above", "#cf222e"),
      ],
    }, [a.x, a.rate, limit(a.healthy_from), limit(a.elevated_from),
      limit(a.rubber_stamping_above)], el);
  }

  // Stacked: each series is the running sum of the codes up to it, filled, drawn from the
  // top of the stack down so that each fill shows only its own band.
  function rejections(el, x, codes) {
    var sums = [];
    var run = x.map(function () { return 0; });
    codes.forEach(function (c) {
      run = run.map(function (v, i) { return v + c.counts[i]; });
      sums.push(run);
    });
    var series = [{}];
    var data = [x];
    for (var i = codes.length - 1; i >= 0; i--) {
      var c = codes[i];
      var colour = COLOURS[i % COLOURS.length];
      var rising = c.rising.some(Boolean) || c.rising_total;
      series.push({
        label: c.code + (rising ? " ▲ rising" : ""),
        stroke: colour, fill: colour + "99", width: 1,
        value: (function (counts) {
          return function (u, v, s, idx) { return idx == null ? "—" : String(counts[idx]); };
        })(c.counts),
        points: {
          show: true, size: 8, stroke: colour,
          // Only the buckets where the code is rising get a marker.
          filter: (function (flags) {
            return function () {
              return flags.map(function (f, j) { return f ? j : -1; })
                .filter(function (j) { return j >= 0; });
            };
          })(c.rising),
        },
      });
      data.push(sums[i]);
    }
    return new uPlot({ width: width(el), height: 260, series: series }, data, el);
  }

  function draw() {
    var island = document.getElementById("dashboard-data");
    if (!island || typeof uPlot === "undefined") return;
    var data = JSON.parse(island.textContent);
    var a = document.getElementById("acceptance-chart");
    if (a && data.acceptance.x.length) acceptance(a, data.acceptance);
    var r = document.getElementById("rejections-chart");
    if (r && data.acceptance.x.length && data.rejections.length) {
      rejections(r, data.acceptance.x, data.rejections);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
