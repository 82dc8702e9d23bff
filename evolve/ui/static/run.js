"use strict";
// One run: figures, score / failure / spend charts, the MAP-Elites grid per island and the lineage tree.
// Polls the run's JSON every 2 s while it runs (15 s otherwise) and redraws only what changed.

const RUN_ID = document.getElementById("run").dataset.runId;
const API = "/api/runs/" + encodeURIComponent(RUN_ID);
const FAILURE_COLOURS = {
  invalid: "#e6a23c", crashed: "#d9534f", timeout: "#8e44ad", "sandbox-violation": "#34495e",
  skipped: "#95a5a6", "rejected-duplicate": "#7f8c8d", twin: "#3498db",
};
// The grid and the lineage are redrawn at most every HEAVY_S seconds while the run goes on (they change slowly
// and a redraw resets what the eye follows); the figures and the score chart follow every new child.
const HEAVY_S = 10;
const state = { running: true, lastSeq: null, heavySeq: null, heavyAt: 0 };

function axis(title, extra) {
  return Object.assign({ title: { text: title }, automargin: true, zeroline: false, gridcolor: "#eee" }, extra || {});
}

function layout(xTitle, yTitle, extra) {
  return Object.assign({
    font: UI.font, margin: { l: 60, r: 20, t: 36, b: 50 }, xaxis: axis(xTitle), yaxis: axis(yTitle),
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" }, hovermode: "closest", uirevision: "keep",
    plot_bgcolor: "#fff", paper_bgcolor: "#fff",
  }, extra || {});
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

function drawFigures(run) {
  setText("f-status", run.status);
  setText("f-children", UI.int(run.children) + (run.iterations ? " of " + UI.int(run.iterations) : ""));
  setText("f-best", UI.score(run.best));
  setText("f-seed", UI.score(run.seed_score));
  setText("f-known", UI.score(run.best_known));
  setText("f-tokens", UI.int(run.tokens));
  setText("f-cost", UI.usd(run.cost_usd));
  setText("f-models", run.models.join(", ") || "none");
  setText("f-reason", run.stop_reason ? "stopped: " + run.stop_reason : "");
  document.getElementById("f-status").className = "status-" + run.status;
}

function drawProgress(t) {
  const per = t.width > 1 ? "best in each window of " + t.width + " children" : "each child's score";
  const better = t.direction === "maximize" ? "higher is better" : "lower is better";
  const traces = [
    { x: t.best_x, y: t.best, name: "best so far", mode: "lines", type: "scatter", line: { shape: "hv", width: 2.5, color: "#1f4e99" } },
    { x: t.x, y: t.current, name: per, mode: "markers", type: "scatter",
      marker: { size: 7, color: "#e07b39", line: { width: 1, color: "#fff" } } },
  ];
  const lines = [];
  const last = t.x.length ? t.x[t.x.length - 1] : 1;
  if (t.seed !== null) lines.push({ y: t.seed, name: "seed", dash: "dash", color: "#888" });
  if (t.best_known !== null) lines.push({ y: t.best_known, name: "best known", dash: "dot", color: "#c0392b" });
  for (const l of lines) {
    traces.push({ x: [0, last], y: [l.y, l.y], name: l.name + " (" + UI.score(l.y) + ")", mode: "lines",
                  type: "scatter", hoverinfo: "name", line: { dash: l.dash, color: l.color, width: 1.5 } });
  }
  Plotly.react("chart-progress", traces,
    layout("children evaluated", UI.plotText(t.objective) + " (" + better + ")"), UI.plotConfig);
}

function drawFailures(t) {
  const kinds = Object.keys(t.failures);
  const traces = kinds.map((kind) => ({
    x: t.x, y: t.failures[kind], name: kind, type: "bar", marker: { color: FAILURE_COLOURS[kind] || "#999" },
  }));
  const yTitle = t.width > 1 ? "failed children per " + t.width : "failed children";
  const extra = { barmode: "stack", bargap: 0.1 };
  if (!kinds.length) {
    extra.annotations = [{ text: "no failures yet", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }];
  }
  const lay = layout("children evaluated", yTitle, extra);
  lay.yaxis.tickformat = ",d";
  lay.yaxis.rangemode = "tozero";
  const tallest = Math.max(0, ...t.x.map((_, i) => kinds.reduce((n, k) => n + t.failures[k][i], 0)));
  if (tallest <= 10) lay.yaxis.dtick = 1;  // whole children: no 0.2 steps on a small run
  Plotly.react("chart-failures", traces, lay, UI.plotConfig);
}

function drawSpend(t) {
  const models = Object.keys(t.tokens);
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  const traces = [];
  models.forEach((m, i) => {
    const colour = palette[i % palette.length];
    traces.push({ x: t.x, y: t.tokens[m], name: UI.plotText(m) + " tokens", type: "scatter", mode: "lines", line: { color: colour } });
    traces.push({ x: t.x, y: t.cost[m], name: UI.plotText(m) + " cost", type: "scatter", mode: "lines", yaxis: "y2",
                  line: { color: colour, dash: "dot" } });
  });
  const lay = layout("children evaluated", "tokens (cumulative)", {
    yaxis2: axis("cost, US$ (cumulative)", { overlaying: "y", side: "right", rangemode: "tozero" }),
    margin: { l: 70, r: 70, t: 36, b: 50 },
  });
  lay.yaxis2.tickprefix = "$";
  lay.yaxis.rangemode = "tozero";
  Plotly.react("chart-spend", traces, lay, UI.plotConfig);
}

async function drawGrid() {
  const g = await UI.json(API + "/grid");
  const host = document.getElementById("grids");
  if (g.problem) {
    setText("grid-note", g.problem);
    return;
  }
  setText("grid-note", g.folded ? "The axis " + g.folded + " is folded: each cell shows the best over it." : "");
  g.islands.forEach((isl) => {
    const id = "grid-island-" + isl.island;
    let box = document.getElementById(id);
    if (!box) {
      const wrap = UI.el("div", null, { class: "grid-box" });
      wrap.appendChild(UI.el("h3", "island " + isl.island, { id: id + "-title" }));
      box = UI.el("div", null, { id: id, class: "chart grid" });
      wrap.appendChild(box);
      host.appendChild(wrap);
    }
    setText(id + "-title", "island " + isl.island + " · " + isl.filled + " cells filled · best " + UI.score(isl.best));
    const xAxis = g.axes[0];
    const yAxis = g.axes[1];
    const trace = {
      type: "heatmap", z: isl.scores, customdata: isl.ids, colorscale: "Viridis", hoverongaps: false,
      x: xAxis.centres, y: yAxis ? yAxis.centres : [0], xgap: 1, ygap: 1,
      colorbar: { title: { text: "score" }, thickness: 12 },
      hovertemplate: xAxis.name + " ≈ %{x:.3~g}<br>" + (yAxis ? yAxis.name + " ≈ %{y:.3~g}<br>" : "") +
        "elite score %{z:.6~g}<extra>click to open</extra>",
    };
    const lay = layout(UI.plotText(xAxis.title), yAxis ? UI.plotText(yAxis.title) : "", { margin: { l: 70, r: 10, t: 10, b: 50 } });
    lay.showlegend = false;
    lay.xaxis.range = [xAxis.low, xAxis.high];
    lay.xaxis.tickformat = "~s";
    if (yAxis) {
      lay.yaxis.range = [yAxis.low, yAxis.high];
      lay.yaxis.tickformat = "~g";
    } else {
      lay.yaxis.visible = false;
    }
    Plotly.react(box, [trace], lay, UI.plotConfig).then(() => {
      if (!box.dataset.clicks) {
        box.dataset.clicks = "1";
        box.on("plotly_click", (ev) => {
          const cand = ev.points[0] && ev.points[0].customdata;
          if (cand) window.location.assign("/candidates/" + encodeURIComponent(cand));
        });
      }
    });
  });
}

async function drawLineage() {
  const data = await UI.json(API + "/lineage");
  const byId = new Map(data.nodes.map((n) => [n.id, n]));
  const ex = [];
  const ey = [];
  for (const n of data.nodes) {
    const p = n.shown_parent && byId.get(n.shown_parent);
    if (p) ex.push(p.x, n.x, null), ey.push(p.y, n.y, null);
  }
  const ok = data.nodes.filter((n) => n.status === "ok" && n.score !== null);
  const bad = data.nodes.filter((n) => !(n.status === "ok" && n.score !== null));
  const hover = (n) => n.id + "<br>" + n.status + " · score " + UI.score(n.score) + "<br>generation " + n.generation +
    " · child #" + n.seq + (n.model ? "<br>" + UI.plotText(n.model) : "");
  const traces = [
    { x: ex, y: ey, mode: "lines", type: "scatter", hoverinfo: "skip", line: { color: "#bbb", width: 1 }, name: "parent → child" },
    { x: ok.map((n) => n.x), y: ok.map((n) => n.y), customdata: ok.map((n) => n.id), text: ok.map(hover),
      hovertemplate: "%{text}<extra></extra>", mode: "markers", type: "scatter", name: "scored",
      marker: { size: ok.map((n) => (n.top ? 12 : 8)), color: ok.map((n) => n.score), colorscale: "Viridis",
                line: { width: ok.map((n) => (n.top ? 2 : 0)), color: "#000" },
                colorbar: { title: { text: "score" }, thickness: 12 } } },
    { x: bad.map((n) => n.x), y: bad.map((n) => n.y), customdata: bad.map((n) => n.id), text: bad.map(hover),
      hovertemplate: "%{text}<extra></extra>", mode: "markers", type: "scatter", name: "failed",
      marker: { symbol: "x", size: 8, color: "#d9534f" } },
  ];
  const lay = layout("generation", "", { dragmode: "pan", showlegend: true, margin: { l: 20, r: 20, t: 36, b: 50 } });
  lay.xaxis.dtick = 1;
  lay.yaxis.showticklabels = false;
  lay.yaxis.showgrid = false;
  setText("lineage-note", "Showing " + data.nodes.length + " of " + UI.int(data.stored) +
    " candidates: the best lineages (ringed) and the most recent children. Drag to pan, scroll to zoom, click a node to see its change.");
  const chart = document.getElementById("chart-lineage");
  await Plotly.react(chart, traces, lay, Object.assign({ scrollZoom: true }, UI.plotConfig));
  if (!chart.dataset.clicks) {
    chart.dataset.clicks = "1";
    chart.on("plotly_click", (ev) => {
      const cand = ev.points[0] && ev.points[0].customdata;
      if (cand) showNode(cand);
    });
  }
}

async function showNode(candId) {
  const d = await UI.json("/api/candidates/" + encodeURIComponent(candId) + "/diff");
  const panel = document.getElementById("node-panel");
  panel.hidden = false;
  const title = document.getElementById("node-title");
  title.replaceChildren(UI.el("span", "candidate "), UI.link("/candidates/" + encodeURIComponent(d.id), d.id));
  setText("node-meta", d.status + " · score " + UI.score(d.score) + " · generation " + d.generation +
    " · child #" + d.seq + (d.model ? " · " + d.model : "") + (d.reason ? " · " + d.reason : ""));
  const pre = document.getElementById("node-diff");
  pre.replaceChildren(...d.diff.map(([kind, line]) => UI.el("span", line, { class: "d-" + kind })));
  if (!d.diff.length) pre.textContent = "(no change against its parent)";
}

async function refresh() {
  const data = await UI.json(API);
  const run = data.run;
  state.running = run.status === "running";
  drawFigures(run);
  if (run.last_seq !== state.lastSeq) {
    state.lastSeq = run.last_seq;
    drawProgress(data.timeline);
    drawFailures(data.timeline);
    drawSpend(data.timeline);
  }
  if (run.last_seq !== state.heavySeq && Date.now() - state.heavyAt > HEAVY_S * 1000) {
    state.heavySeq = run.last_seq;
    state.heavyAt = Date.now();
    await Promise.all([drawGrid(), drawLineage()]);
  }
}

UI.poll(refresh, () => (state.running ? 2 : 15));
