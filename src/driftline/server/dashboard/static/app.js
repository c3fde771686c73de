// driftline dashboard: draw the Plotly charts embedded as JSON, refresh live pages,
// small form helpers.
(function () {
  "use strict";

  function figureOf(name, root) {
    var src = root.querySelector('script[data-chart-for="' + name + '"]');
    return src ? JSON.parse(src.textContent) : null;
  }

  function clickToWindow(el) {
    el.on("plotly_click", function (ev) {
      if (!ev.points || !ev.points.length) { return; }
      var x = ev.points[0].x;
      var ms = typeof x === "number" ? x : Date.parse(String(x).replace(" ", "T") + "Z");
      if (!isFinite(ms)) { return; }
      var url = new URL(window.location.href);
      url.searchParams.set("at", String(Math.round(ms / 1000)));
      window.location.assign(url.toString());
    });
  }

  function draw(el, fig) {
    var first = !el.hasAttribute("data-drawn");
    var call = first ? Plotly.newPlot : Plotly.react;
    return call(el, fig.data, fig.layout, { displayModeBar: false, responsive: true })
      .then(function () {
        el.setAttribute("data-drawn", "1");
        if (first && el.classList.contains("pick-window")) { clickToWindow(el); }
      });
  }

  function drawCharts() {
    if (!window.Plotly) { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var fig = figureOf(el.getAttribute("data-chart"), document);
      if (fig) { draw(el, fig); }
    });
  }

  function autosubmit(root) {
    root.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
  }

  // -- expandable rows -------------------------------------------------------------------
  // A button with data-expand shows or hides the rows of its <tbody> after the first
  // (the drift table's text and image columns: their descriptors).
  function expand(button, open) {
    var body = button.closest("tbody");
    if (!body) { return; }
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = (open ? "\u25be" : "\u25b8") + button.textContent.slice(1);
    body.querySelectorAll("tr").forEach(function (tr, i) { if (i > 0) { tr.hidden = !open; } });
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target && ev.target.closest ? ev.target.closest("button[data-expand]") : null;
    if (b) { expand(b, b.getAttribute("aria-expanded") !== "true"); }
  });

  function expanded(root) {
    var out = [];
    root.querySelectorAll('button[data-expand][aria-expanded="true"]').forEach(function (b) {
      var body = b.closest("tbody");
      if (body && body.getAttribute("data-column")) { out.push(body.getAttribute("data-column")); }
    });
    return out;
  }

  function reopen(root, columns) {
    root.querySelectorAll("tbody[data-column]").forEach(function (body) {
      var b = body.querySelector("button[data-expand]");
      if (b && columns.indexOf(body.getAttribute("data-column")) >= 0) { expand(b, true); }
    });
  }

  // -- auto-refresh ------------------------------------------------------------------------
  // A page whose range ends at "now" (<body data-refresh="SECONDS">) fetches itself again
  // every SECONDS, swaps the new <main> in and redraws its charts in place (Plotly.react
  // keeps zoom). Paused by the header's toggle (remembered in this browser), while a form
  // in the page has focus or text typed in it, and while the tab is hidden.
  var PAUSE_KEY = "driftline.refresh.paused";

  function refresher() {
    var body = document.body;
    var every = parseFloat(body.getAttribute("data-refresh") || "0");
    var box = document.querySelector("[data-refresh-status]");
    if (!(every > 0) || !box) { return; }
    var toggle = box.querySelector("button");
    var age = box.querySelector("[data-age]");
    var updated = Date.now();
    var busy = false;
    var paused = false;
    try { paused = window.localStorage.getItem(PAUSE_KEY) === "1"; } catch (e) { paused = false; }

    function show() {
      box.classList.toggle("paused", paused);
      toggle.textContent = paused ? "resume" : "pause";
      toggle.setAttribute("aria-pressed", paused ? "true" : "false");
      var s = Math.max(0, Math.round((Date.now() - updated) / 1000));
      age.textContent = s < 60 ? s + " s" : Math.floor(s / 60) + " min";
    }

    function editing() {
      var a = document.activeElement;
      if (a && a.closest && a.closest("main form")) { return true; }
      var typed = false;
      document.querySelectorAll("main input[type=text], main input:not([type])").forEach(
        function (i) { typed = typed || i.value !== ""; });
      return typed;
    }

    function swap(html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.querySelector("main");
      var main = document.querySelector("main");
      if (!fresh || !main) { return; }
      // keep drawn charts: move each into the new page in place of its placeholder
      var keep = {};
      main.querySelectorAll("[data-chart][data-drawn]").forEach(function (el) {
        keep[el.getAttribute("data-chart")] = el;
      });
      fresh.querySelectorAll("[data-chart]").forEach(function (el) {
        var old = keep[el.getAttribute("data-chart")];
        if (old) { el.replaceWith(old); }
      });
      var open = expanded(main);
      main.replaceWith(fresh);
      reopen(fresh, open);  // rows the reader expanded stay expanded
      ["header nav", "header .range"].forEach(function (sel) {  // alert count, pin link
        var now = document.querySelector(sel);
        var next = doc.querySelector(sel);
        if (now && next) { now.replaceWith(next); }
      });
      autosubmit(fresh);
      if (window.Plotly) {
        fresh.querySelectorAll("[data-chart]").forEach(function (el) {
          var fig = figureOf(el.getAttribute("data-chart"), fresh);
          if (fig) { draw(el, fig); }
        });
      }
    }

    function tick() {
      if (paused || busy || document.hidden || editing()) { return; }
      busy = true;
      box.classList.add("loading");
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Driftline-Refresh": "1" } })
        .then(function (r) {
          if (!r.ok || r.redirected) { throw new Error("refresh answered " + r.status); }
          return r.text();
        })
        .then(function (html) {
          swap(html);
          updated = Date.now();
          box.classList.remove("stale");
        })
        .catch(function () { box.classList.add("stale"); })
        .then(function () {
          busy = false;
          box.classList.remove("loading");
          show();
        });
    }

    toggle.addEventListener("click", function () {
      paused = !paused;
      try { window.localStorage.setItem(PAUSE_KEY, paused ? "1" : "0"); } catch (e) { /* private mode */ }
      show();
      if (!paused) { tick(); }
    });
    box.hidden = false;
    show();
    window.setInterval(show, 1000);
    window.setInterval(tick, every * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    autosubmit(document);
    drawCharts();
    refresher();
  });
})();
