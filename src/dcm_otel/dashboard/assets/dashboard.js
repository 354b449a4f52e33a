// Polls the dashboard's JSON endpoint and redraws the page in place; no dependencies, no build step.
(function () {
  "use strict";
  var root = document.getElementById("dcm-dashboard");
  var SERIES = { created: "#79aec8", finished: "#3a3", failed: "#c33" };

  function cell(row, value, href) {
    var td = document.createElement("td");
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = value;
      td.appendChild(a);
    } else {
      td.textContent = value === null || value === undefined ? "-" : String(value);
    }
    row.appendChild(td);
    return td;
  }

  function fill(id, items, columns) {
    var body = document.getElementById(id);
    body.replaceChildren();
    items.forEach(function (item) {
      var row = document.createElement("tr");
      columns(item).forEach(function (c) { cell(row, c[0], c[1]); });
      body.appendChild(row);
    });
  }

  function age(seconds) {
    if (seconds < 120) return Math.round(seconds) + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    return Math.round(seconds / 3600) + " h";
  }

  function drawTrend(trend) {
    var svg = document.getElementById("dcm-trend");
    var ns = "http://www.w3.org/2000/svg";
    var max = 1;
    Object.keys(SERIES).forEach(function (k) { max = Math.max(max, Math.max.apply(null, trend[k])); });
    svg.replaceChildren();
    Object.keys(SERIES).forEach(function (k) {
      var points = trend[k].map(function (v, i) {
        return (i * 600 / (trend[k].length - 1)).toFixed(1) + "," + (115 - v * 110 / max).toFixed(1);
      });
      var line = document.createElementNS(ns, "polyline");
      line.setAttribute("points", points.join(" "));
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", SERIES[k]);
      line.setAttribute("stroke-width", "2");
      line.setAttribute("data-series", k);
      svg.appendChild(line);
    });
  }

  function render(data) {
    root.querySelectorAll("[data-field]").forEach(function (el) {
      el.textContent = String(data[el.getAttribute("data-field")]);
    });
    var oldest = document.getElementById("dcm-oldest");
    var o = data.oldest_waiting;
    oldest.replaceChildren();
    if (o) {
      var link = document.createElement(o.url ? "a" : "span");
      if (o.url) link.href = o.url;
      link.textContent = age(o.age_seconds);
      link.title = o.name || o.id;
      oldest.appendChild(link);
    } else {
      oldest.textContent = "none";
    }
    fill("dcm-counts", Object.keys(data.counts), function (s) {
      return [[s], [data.counts[s]]];
    });
    document.querySelectorAll("#dcm-counts tr").forEach(function (tr) {
      tr.setAttribute("data-status", tr.firstChild.textContent);
    });
    fill("dcm-hosts", data.hosts, function (h) {
      return [[h.name], [h.executor], [h.health], [h.running], [h.waiting], [h.finished_1h], [h.failed_1h]];
    });
    document.querySelectorAll("#dcm-hosts tr").forEach(function (tr) {
      var health = tr.children[2];
      health.className = "dcm-health-" + health.textContent;
    });
    fill("dcm-failures", data.recent_failures, function (f) {
      return [[f.name || f.id, f.url], [f.status], [f.exit_code], [f.image], [f.host], [f.error],
        [f.completed_at ? new Date(f.completed_at).toLocaleString() : null], ["trace", f.trace_url]];
    });
    drawTrend(data.trend);
    document.getElementById("dcm-updated").textContent = new Date(data.now).toLocaleTimeString();
  }

  function poll() {
    fetch(root.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        document.getElementById("dcm-error").textContent = "";
        render(data);
      })
      .catch(function (err) {
        document.getElementById("dcm-error").textContent = "(update failed: " + err.message + ")";
      })
      .finally(function () {
        window.setTimeout(poll, Number(root.getAttribute("data-poll-ms")) || 5000);
      });
  }

  poll();
})();
