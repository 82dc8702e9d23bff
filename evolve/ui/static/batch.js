"use strict";
// A batch: the best per configuration (median over seeds) and each configuration's median best-so-far curve.

const BATCH_ID = document.getElementById("batch").dataset.batchId;
const batchState = { running: true };

function describe(params) {
  const keys = Object.keys(params || {});
  return keys.length ? keys.map((k) => k + "=" + JSON.stringify(params[k])).join(" · ") : "(single configuration)";
}

async function refreshBatch() {
  const data = await UI.json("/api/batches/" + encodeURIComponent(BATCH_ID));
  batchState.running = data.batch.status === "running";
  document.getElementById("b-status").textContent = data.batch.status;
  const labels = new Map(data.cells.map((c) => [c.cell, describe(c.params)]));
  UI.fillRows(document.querySelector("#cells tbody"), data.cells.map((c) => [
    labels.get(c.cell), String(c.seeds), UI.score(c.median), UI.score(c.lo), UI.score(c.hi),
  ]));
  UI.fillRows(document.querySelector("#batch-runs tbody"), data.runs.map((r) => [
    UI.link("/runs/" + encodeURIComponent(r.id), r.id), labels.get(r.cell || r.id) || "",
    r.params && r.params.seed !== undefined ? String(r.params.seed) : "", r.status, UI.score(r.best),
    UI.int(r.children), UI.usd(r.cost_usd),
  ]));
  const traces = data.cells.map((c) => ({
    x: c.x, y: c.curve, name: UI.plotText(labels.get(c.cell)) + " (" + c.seeds + " seeds)", type: "scatter", mode: "lines",
    line: { shape: "hv", width: 2 },
  }));
  const lay = {
    font: UI.font, margin: { l: 60, r: 20, t: 10, b: 50 }, uirevision: "keep",
    xaxis: { title: { text: "children evaluated" }, automargin: true },
    yaxis: { title: { text: "median best " + UI.plotText(data.objective || "score") + " so far" }, automargin: true },
    legend: { orientation: "h", y: -0.25, x: 0 },
  };
  Plotly.react("chart-cells", traces, lay, UI.plotConfig);
}

UI.poll(refreshBatch, () => (batchState.running ? 5 : 30));
