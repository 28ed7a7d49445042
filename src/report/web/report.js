/* report.js: draws spanlab's report.html from the JSON in #spanlab-data with
 * uPlot (inlined before this script).  All analysis happens in C
 * (src/report/); this script lays out tables and charts and nothing else.
 * Every number shown in a table cell carries data-path (where it stands in its
 * results file) and data-scale, so a test can compare page and file. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("spanlab-data").textContent);
  var root = document.getElementById("report");
  var palette = ["#2458c6", "#e07b00", "#1b9e53", "#c1272d", "#7b3fb8", "#0f9fb0", "#b5651d", "#d6409f",
                 "#6b7c1e", "#444444", "#8c96c6", "#f2b134"];
  var backendColors = { stream: "#2458c6", trace: "#e07b00", sqlite: "#1b9e53", rocksdb: "#7b3fb8", banyandb: "#0f9fb0", "null": "#888888" };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  /* Six significant digits: what tables show (tests allow for the rounding). */
  function exact(value) {
    if (value === null || value === undefined || !isFinite(value)) { return "-"; }
    if (value === 0) { return "0"; }
    var text = Number(value).toPrecision(6);
    if (text.indexOf("e") < 0 && text.indexOf(".") >= 0) { text = text.replace(/0+$/, "").replace(/\.$/, ""); }
    return text;
  }

  function short(value) {
    if (value === null || value === undefined || !isFinite(value)) { return "-"; }
    var abs = Math.abs(value);
    if (abs >= 1e9) { return (value / 1e9).toPrecision(3) + "G"; }
    if (abs >= 1e6) { return (value / 1e6).toPrecision(3) + "M"; }
    if (abs >= 1e4) { return (value / 1e3).toPrecision(3) + "k"; }
    if (abs === 0) { return "0"; }
    return Number(value.toPrecision(3)).toString();
  }

  /* A table cell with the number in a span that says where it came from. */
  /* For people: bytes in MB or GB, ratios in %, else the unit after the number. */
  function human(value, unit) {
    if (value === null || value === undefined || !isFinite(value)) { return "-"; }
    if (unit === "bytes") {
      return Math.abs(value) >= 1e9 ? exact(value / 1e9) + " GB" : exact(value / 1e6) + " MB";
    }
    if (unit === "ratio") { return exact(value * 100) + "%"; }
    return exact(value) + (unit ? " " + unit : "");
  }

  /* How a unit is shown in tables of exact numbers: the factor and the name. */
  function display(unit) {
    if (unit === "bytes") { return { scale: 1e-6, name: "MB" }; }
    if (unit === "ratio") { return { scale: 100, name: "%" }; }
    return { scale: 1, name: unit };
  }

  function numberCell(value, path, scale, extra) {
    var attrs = { "class": "value", text: exact(value) };
    if (path) { attrs["data-path"] = JSON.stringify(path); attrs["data-scale"] = String(scale); }
    Object.keys(extra || {}).forEach(function (key) { attrs[key] = extra[key]; });
    return el("td", { "class": "num" }, [el("span", attrs)]);
  }

  function section(id, title, note) {
    var block = el("section", { "class": "block", id: id }, [el("h2", { text: title })]);
    if (note) { block.appendChild(el("p", { "class": "note", text: note })); }
    root.appendChild(block);
    document.getElementById("contents").appendChild(el("a", { href: "#" + id, text: title }));
    return block;
  }

  function table(headers, rows) {
    var head = el("tr", {}, headers.map(function (h) { return el("th", { text: h }); }));
    var body = rows.map(function (cells) { return el("tr", {}, cells); });
    return el("div", { "class": "table-scroll" }, [el("table", {}, [el("thead", {}, [head]), el("tbody", {}, body)])]);
  }

  function text(value, cls) { return el("td", cls ? { "class": cls, text: value } : { text: value }); }

  /* ---- header and summary tables ---- */
  var primary = data.runs.filter(function (r) { return r.primary; })[0];
  document.getElementById("subtitle").textContent = data.runs.length + " results file" + (data.runs.length === 1 ? "" : "s") +
    "; summary of run " + primary.number + " (" + primary.path + ": " + primary.scale + " scale, " +
    exact(primary.spans) + " spans, " + primary.iterations + " iterations" + (primary.complete ? "" : ", INCOMPLETE") + ")";

  var runsBlock = section("runs", "Runs", "Backends: stream and trace are BanyanDB's models; null stores nothing (harness ceiling) and is left out of verdicts and charts.");
  runsBlock.appendChild(table(["run", "file", "scale", "spans", "iterations", "started", "complete", "sync", "commit", "backends"],
    data.runs.map(function (r) {
      return [text(String(r.number)), text(r.path), text(r.scale), numberCell(r.spans), text(String(r.iterations)),
              text(r.started_at), text(r.complete ? "yes" : "no"), text(r.sync_mode), text(r.git_commit.slice(0, 12)),
              text(r.backends.map(function (b) { return b.name + " (" + b.role + ")"; }).join(", "))];
    })));

  function figureCell(cell, unit) {
    if (cell.unsupported) { return el("td", { "class": "muted", text: "unsupported", title: cell.reason }); }
    if (cell.absent) { return el("td", { "class": "muted", text: "not measured", title: cell.reason || "" }); }
    var shown = display(unit);
    var td = numberCell(cell.mean * shown.scale, cell.path, shown.scale);
    td.appendChild(el("div", { "class": "ci", text: cell.ci95 ? "[" + exact(cell.ci95[0] * shown.scale) + ", " +
      exact(cell.ci95[1] * shown.scale) + "]" : "n < 2" }));
    return td;
  }

  function verdictsSection() {
    if (data.verdicts.length === 0) { return; }
    var backends = data.verdicts[0].cells.map(function (c) { return c.backend; });
    var block = section("verdicts", "Who wins what",
      "Headline figures of run " + primary.number + ": mean and, below it, the 95% CI. A winner only where the 95% intervals do not overlap (the results' comparisons); n.s.: no significant difference.");
    block.appendChild(table(["benchmark", "metric"].concat(backends).concat(["verdict"]), data.verdicts.map(function (row) {
      var unitName = display(row.unit).name;
      var cells = [text(row.benchmark), text(row.metric + " (" + (unitName ? unitName + ", " : "") +
        (row.higher_is_better ? "higher" : "lower") + " is better)")];
      row.cells.forEach(function (c) {
        var td = figureCell(c, row.unit);
        if (row.best === c.backend) { td.className += " best"; }
        cells.push(td);
      });
      var verdict = row.best === null ? (row.measured === 1 ? "one backend measured" : "not measured")
        : row.best + " best; " + row.against.map(function (a) {
          return "vs " + a.backend + " " + a.factor.toFixed(2) + "x" + (a.significant ? "" : " (n.s.)");
        }).join(", ");
      cells.push(el("td", { "class": "verdict" + (row.best === null ? " muted" : ""), text: verdict }));
      return cells;
    })));
  }

  var useBlock = section("use-cases", "Recommendations by use case",
    "Each backend's best answer per question (stream- or trace-subject form), combined by geometric mean; confidence counts questions won beyond the 95% intervals.");
  useBlock.appendChild(table(["use case", "questions", "recommended", "figure", "runner-up", "stream vs trace"],
    data.use_cases.map(function (u) {
      var runner = u.runner_up ? u.runner_up + ": " + human(u.runner_up_score, u.unit) + ", " + u.factor.toFixed(2) +
        "x worse; beyond noise in " + u.significant_questions + " of " + u.questions.length : "-";
      var models = u.model_choice ? u.model_choice.backend + " by " + u.model_choice.factor.toFixed(2) + "x (beyond noise in " +
        u.model_choice.significant_questions + " of " + u.questions.length + ")"
        : "not comparable: " + u.backends.filter(function (b) { return b.reason && (b.backend === "stream" || b.backend === "trace"); })
          .map(function (b) { return b.backend + " answered " + b.answered + " of " + b.questions; }).join("; ");
      return [text(u.use_case), text(u.questions.join("; ")), text(u.recommended || "none", u.recommended ? "best" : "muted"),
              text(u.recommended ? u.measure + " " + human(u.score, u.unit) : "-", "num"), text(runner), text(models)];
    })));

  var criteriaBlock = section("criteria", "Success criteria of the seed",
    "pass or fail only when the whole 95% interval is on one side of the threshold; criteria stated for medium scale need a run of 10,000,000 spans or more.");
  criteriaBlock.appendChild(table(["criterion", "backend", "measured", "95% CI", "result"], data.criteria.map(function (c) {
    var ci = c.ci95 ? "[" + human(c.ci95[0], c.unit) + ", " + human(c.ci95[1], c.unit) + "]" : (c.mean === undefined ? "-" : "n < 2");
    var result = c.result + (c.would_be ? " (would be: " + c.would_be + ")" : "");
    return [text(c.criterion), text(c.backend), text(c.mean === undefined ? "-" : human(c.mean, c.unit), "num"), text(ci, "num"),
            text(result, c.result === "pass" ? "pass" : c.result === "fail" ? "fail" : "muted")];
  })));

  var regressionBlock = section("regressions", "Regressions",
    "Against the run of the same scale started just before: worse beyond both 95% intervals, or by more than 10% when n < 2.");
  if (data.regressions.pairs.length === 0) {
    regressionBlock.appendChild(el("p", { "class": "empty-note muted", text: "No two runs of the same scale: nothing to compare." }));
  } else {
    regressionBlock.appendChild(el("ul", {}, data.regressions.pairs.map(function (p) {
      return el("li", { text: "run " + p.current + " against run " + p.baseline + " (" + p.scale + ", " + exact(p.spans) + " spans): " +
        p.regressions + " regressions, " + p.improvements + " improvements" });
    })));
    if (data.regressions.rows.length > 0) {
      regressionBlock.appendChild(table(["run", "against", "benchmark", "metric", "backend", "before (mean)", "after (mean)", "change"],
        data.regressions.rows.map(function (r) {
          return [text(String(r.current)), text(String(r.baseline)), text(r.benchmark), text(r.metric), text(r.backend),
                  numberCell(r.before.mean * display(r.unit).scale, r.before.path, display(r.unit).scale),
                  numberCell(r.after.mean * display(r.unit).scale, r.after.path, display(r.unit).scale),
                  text((r.change_pct >= 0 ? "+" : "") + r.change_pct.toFixed(1) + "%", "num fail")];
        })));
    }
  }

  verdictsSection();

  /* ---- charts ---- */
  var sections = {
    scale: ["Growth with scale", "Means by dataset size (x: spans in the data set), the latest run of each size."],
    write: ["Write throughput", "From run " + primary.number + "'s write/writers=N and write/batch=N sweeps; drag to zoom, double-click to reset."],
    query: ["Query latency", "Warm latency percentiles per query class (log scale), from run " + primary.number + "."],
    storage: ["Storage", "From the results' storage section (storage.BACKEND.by_tag, by_file_kind)."],
    resources: ["Memory and resources", "Samples of the resource monitor; vertical lines mark where each phase starts."]
  };
  var grids = {};
  function gridFor(name) {
    if (!grids[name]) {
      var info = sections[name] || [name, ""];
      var block = section("charts-" + name, info[0], info[1]);
      grids[name] = el("div", { "class": "grid" });
      block.appendChild(grids[name]);
    }
    return grids[name];
  }

  function seriesColor(chart, index, label) {
    if (chart.kind !== "time" && backendColors[label] !== undefined) { return backendColors[label]; }
    return palette[index % palette.length];
  }

  /* Bars: one slot per (category, series) and an empty slot between groups. */
  function barLayout(chart) {
    var groups = chart.x_names.length, per = chart.series.length, slots = per + 1;
    var x = [], values = chart.series.map(function () { return []; }), ticks = [];
    for (var g = 0; g < groups; g++) {
      for (var s = 0; s < slots; s++) {
        x.push(g * slots + s);
        for (var k = 0; k < per; k++) { values[k].push(s === k ? chart.series[k].values[g] : null); }
      }
      ticks.push(g * slots + (per - 1) / 2);
    }
    return { x: x, values: values, ticks: ticks };
  }

  function markerHook(chart) {
    return function (u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "rgba(60,60,60,0.55)";
      ctx.fillStyle = "rgba(40,40,40,0.85)";
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1;
      ctx.font = Math.round(10 * devicePixelRatio) + "px sans-serif";
      var lastLabelled = -1e9, row = 0, gap = 70 * devicePixelRatio;
      chart.markers.forEach(function (m) {
        var px = Math.round(u.valToPos(m.x, "x", true));
        if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) { return; }
        ctx.beginPath();
        ctx.moveTo(px, u.bbox.top);
        ctx.lineTo(px, u.bbox.top + u.bbox.height);
        ctx.stroke();
        /* Labels in three staggered rows, skipped where they would overlap (the table lists them all). */
        if (px - lastLabelled >= gap / 3 || row > 0) {
          if (px - lastLabelled >= gap) { row = 0; }
          if (row < 3) {
            ctx.fillText(m.label, px + 3, u.bbox.top + (12 + row * 11) * devicePixelRatio);
            lastLabelled = px;
            row++;
          }
        }
      });
      ctx.restore();
    };
  }

  function drawChart(chart, box) {
    var width = Math.max(320, box.clientWidth - 4);
    var xs = chart.x, values = chart.series.map(function (s) { return s.values; });
    var axisX = { label: chart.x_label, stroke: "#333" }, layout = null;
    if (chart.kind === "bars") {
      layout = barLayout(chart);
      xs = layout.x;
      values = layout.values;
      axisX.splits = function () { return layout.ticks; };
      axisX.values = function (u, splits) {
        return splits.map(function (v) { return chart.x_names[layout.ticks.indexOf(v)] || ""; });
      };
      axisX.rotate = -35;
      axisX.size = 80;
    } else if (chart.x_names) {
      axisX.splits = function () { return chart.x; };
      axisX.values = function (u, splits) { return splits.map(function (v) { return chart.x_names[chart.x.indexOf(v)] || ""; }); };
    }
    var series = [{ label: chart.x_label }];
    chart.series.forEach(function (s, i) {
      var color = seriesColor(chart, i, s.label);
      var entry = { label: s.label, stroke: color, width: 2, spanGaps: chart.kind !== "time",
                    value: function (u, v) { return v === null || v === undefined ? "-" : exact(v); } };
      if (chart.kind === "bars") {
        entry.fill = color;
        entry.paths = uPlot.paths.bars({ size: [0.9, 60], align: 0 });
        entry.points = { show: false };
      } else {
        entry.points = { show: chart.kind !== "time", size: 6, fill: color };
      }
      series.push(entry);
    });
    var options = {
      width: width, height: 300, series: series,
      scales: { x: { time: false }, y: {} },
      axes: [axisX, { label: chart.y_label, stroke: "#333", size: 60, values: function (u, splits) { return splits.map(short); } }],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } }
    };
    if (chart.x_log) { options.scales.x.distr = 3; options.scales.x.log = 10; }
    if (chart.y_log) { options.scales.y.distr = 3; options.scales.y.log = 10; }
    if (chart.kind === "bars") { options.scales.x.range = function () { return [-0.8, xs.length - 0.2]; }; options.scales.y.range = function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; }; }
    if (chart.markers && chart.markers.length) { options.hooks = { draw: [markerHook(chart)] }; }
    return new uPlot(options, [xs].concat(values), box);
  }

  function numbersTable(chart) {
    var headers = [chart.x_label].concat(chart.series.map(function (s) { return s.label + (chart.y_label ? " (" + chart.y_label + ")" : ""); }));
    var rows = chart.x.map(function (x, i) {
      var first = chart.x_names ? text(chart.x_names[i])
        : numberCell(x, chart.x_paths ? chart.x_paths[i] : null, chart.x_scale || 1);
      return [first].concat(chart.series.map(function (s) {
        var extra = s.divide_by ? { "data-divide-by": s.divide_by } : {};
        return numberCell(s.values[i], s.paths[i], s.scale, extra);
      }));
    });
    var parts = [el("summary", { text: "numbers (" + chart.x.length + " rows)" }), table(headers, rows)];
    if (chart.markers && chart.markers.length) {
      parts.push(el("p", { "class": "note", text: "phases: " + chart.markers.map(function (m) { return m.label + " at " + exact(m.x) + " s"; }).join(", ") }));
    }
    return el("details", {}, parts);
  }

  var plots = [];
  data.charts.forEach(function (chart) {
    var box = el("div", { "class": "plot" });
    var card = el("div", { "class": "chart", id: "chart-" + chart.id, "data-chart": chart.id }, [el("h3", { text: chart.title }), box]);
    gridFor(chart.section).appendChild(card);
    if (chart.empty) {
      box.appendChild(el("div", { "class": "empty", text: chart.empty }));
      card.setAttribute("data-empty", "true");
      return;
    }
    card.setAttribute("data-series-colors", JSON.stringify(chart.series.map(function (s, i) { return seriesColor(chart, i, s.label); })));
    plots.push({ plot: drawChart(chart, box), box: box });
    card.appendChild(numbersTable(chart));
  });

  window.addEventListener("resize", function () {
    plots.forEach(function (p) { p.plot.setSize({ width: Math.max(320, p.box.clientWidth - 4), height: 300 }); });
  });
  document.body.setAttribute("data-charts-drawn", String(plots.length));
})();
