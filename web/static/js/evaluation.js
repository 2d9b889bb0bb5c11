/* Evaluation charts: reads the figures from the JSON block the page carries (no inline script). */
(function () {
  "use strict";
  var source = document.getElementById("evaluation-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var palette = ["#1d5fa8", "#1e7a46", "#a05a00", "#a8261d", "#5b6776", "#7a3fa0", "#2a8a9a", "#c2a000"];
  Chart.defaults.font.family = '"DejaVu Sans", "Segoe UI", Arial, sans-serif';
  Chart.defaults.animation = false;

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    canvas.chart = new Chart(canvas, config);
    canvas.setAttribute("data-drawn", "1");
  }
  function colored(series) {
    return series.map(function (s, i) {
      return { label: s.label, data: s.data, backgroundColor: palette[i % palette.length],
               borderColor: palette[i % palette.length], fill: false };
    });
  }
  draw("chart-type-outcome", {
    type: "bar",
    data: { labels: data.typeOutcome.labels, datasets: colored(data.typeOutcome.series) },
    options: { responsive: true, maintainAspectRatio: false,
               scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });
  draw("chart-answer-rates", {
    type: "bar",
    data: { labels: data.answerRates.labels, datasets: [
      { label: "bereikt (%)", data: data.answerRates.reached, backgroundColor: palette[0] },
      { label: "bevestigd (%)", data: data.answerRates.acknowledged, backgroundColor: palette[1] } ] },
    options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, max: 100 } } }
  });
  draw("chart-growth", {
    type: "line",
    data: { labels: data.growth.labels, datasets: colored(data.growth.series) },
    options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  draw("chart-coverage", {
    type: "bar",
    data: { labels: data.coverage.labels, datasets: [
      { label: "deelnemers per 1.000 inwoners", data: data.coverage.data, backgroundColor: palette[2] } ] },
    options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } }
  });
})();
