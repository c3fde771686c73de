// driftline dashboard: draw the Plotly charts embedded as JSON, small form helpers.
(function () {
  "use strict";

  function drawCharts() {
    if (!window.Plotly) { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var name = el.getAttribute("data-chart");
      var src = document.querySelector('script[data-chart-for="' + name + '"]');
      if (!src) { return; }
      var fig = JSON.parse(src.textContent);
      Plotly.newPlot(el, fig.data, fig.layout, { displayModeBar: false, responsive: true })
        .then(function () {
          el.setAttribute("data-drawn", "1");
          if (el.classList.contains("pick-window")) {
            el.on("plotly_click", function (ev) {
              if (!ev.points || !ev.points.length) { return; }
              var t = Date.parse(ev.points[0].x + "Z") / 1000;
              var url = new URL(window.location.href);
              url.searchParams.set("at", String(Math.round(t)));
              window.location.assign(url.toString());
            });
          }
        });
    });
  }

  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    autosubmit();
    drawCharts();
  });
})();
