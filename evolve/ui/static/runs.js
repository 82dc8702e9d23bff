"use strict";
// The runs page: every run in the store with its figures, refreshed while the page is open.

function progressCell(run) {
  if (!run.iterations) return UI.int(run.children);
  const share = Math.min(1, run.children / run.iterations);
  const wrap = UI.el("div", null, { class: "progress", title: run.children + " of " + run.iterations + " children" });
  const bar = UI.el("div", null, { class: "bar" });
  bar.style.width = (share * 100).toFixed(1) + "%";
  wrap.appendChild(bar);
  wrap.appendChild(UI.el("span", Math.round(share * 100) + "%"));
  return wrap;
}

async function refreshRuns() {
  const data = await UI.json("/api/runs");
  const tbody = document.querySelector("#runs tbody");
  UI.fillRows(tbody, data.runs.map((r) => [
    UI.link("/runs/" + encodeURIComponent(r.id), r.id),
    r.task_name,
    r.models.join(", "),
    UI.el("span", r.status, { class: "status-" + r.status }),
    UI.score(r.best),
    UI.score(r.seed_score),
    UI.score(r.best_known),
    UI.int(r.children),
    progressCell(r),
    UI.int(r.tokens),
    UI.usd(r.cost_usd),
    UI.ago(r.created_at),
  ]));
  document.getElementById("runs-empty").hidden = data.runs.length > 0;
  document.getElementById("batches-section").hidden = data.batches.length === 0;
  UI.fillRows(document.querySelector("#batches tbody"), data.batches.map((b) => [
    UI.link("/batches/" + encodeURIComponent(b.id), b.id), b.name, b.status, UI.int(b.runs), UI.ago(b.created_at),
  ]));
}

UI.poll(refreshRuns, () => 3);
