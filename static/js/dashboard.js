// Dashboard charts, drawn with the Chart.js the app serves itself (offices may be offline).
(function () {
  const source = document.getElementById("dashboard-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  Chart.defaults.animation = false;  // instant: an office dashboard, and honest screenshots
  Chart.defaults.font.family = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  const palette = ["#007bff", "#28a745", "#ffc107", "#dc3545", "#6c757d", "#17a2b8"];
  const bar = (id, labels, values, color) => new Chart(document.getElementById(id), {
    type: "bar",
    data: {labels, datasets: [{data: values, backgroundColor: color || palette}]},
    options: {plugins: {legend: {display: false}}, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
  });
  bar("chart-classes", data.classes.labels, data.classes.values);
  bar("chart-modes", data.modes.labels, data.modes.values);
  bar("chart-late", data.late.labels, data.late.values, "#dc3545");
  new Chart(document.getElementById("chart-indicators"), {
    type: "doughnut",
    data: {labels: data.indicators.labels,
           datasets: [{data: data.indicators.values, backgroundColor: ["#28a745", "#dc3545", "#ced4da"]}]},
  });
  new Chart(document.getElementById("chart-phases"), {
    type: "bar",
    data: {labels: data.phases.map((p) => p.phase),
           datasets: [{label: "已完成", data: data.phases.map((p) => p.done), backgroundColor: "#28a745"},
                      {label: "未完成", data: data.phases.map((p) => p.total - p.done), backgroundColor: "#ced4da"}]},
    options: {indexAxis: "y", scales: {x: {stacked: true, ticks: {precision: 0}}, y: {stacked: true}}},
  });
})();
