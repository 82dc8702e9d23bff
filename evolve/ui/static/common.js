"use strict";
// Helpers shared by the dashboard's pages. Data from the server goes into the page only as text
// (textContent, attribute values): never as markup, since candidates and models wrote much of it.

const UI = {
  el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  },
  // Plotly reads a subset of HTML in names and titles (<b>, <a href>, <br>...): text from the store goes to a chart
  // with its markup characters as entities, which Plotly shows as the characters themselves.
  plotText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  },
  link(href, text) {
    return UI.el("a", text, { href: href });
  },
  score(v) {
    return v === null || v === undefined ? "n/a" : Number(v).toPrecision(6).replace(/\.?0+$/, "");
  },
  int(v) {
    return Number(v || 0).toLocaleString("en-US");
  },
  usd(v) {
    return "$" + Number(v || 0).toFixed(4);
  },
  ago(ts) {
    const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
    if (s < 120) return s + " s ago";
    if (s < 7200) return Math.round(s / 60) + " min ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return new Date(ts * 1000).toISOString().slice(0, 16).replace("T", " ");
  },
  async json(url) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(url + ": HTTP " + response.status);
    return response.json();
  },
  // Call `fn` now and again every `seconds()` seconds; errors are shown, not thrown, and polling goes on.
  poll(fn, seconds) {
    const tick = async () => {
      try {
        await fn();
        UI.status("");
      } catch (err) {
        UI.status("cannot reach the dashboard server: " + err.message);
      }
      setTimeout(tick, seconds() * 1000);
    };
    tick();
  },
  status(message) {
    let bar = document.getElementById("ui-status");
    if (!bar) {
      bar = UI.el("div", "", { id: "ui-status", class: "status-bar" });
      document.body.appendChild(bar);
    }
    bar.textContent = message;
    bar.hidden = !message;
  },
  fillRows(tbody, rows) {
    tbody.replaceChildren(...rows.map((cells) => {
      const tr = document.createElement("tr");
      for (const cell of cells) {
        const td = document.createElement("td");
        if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell;
        tr.appendChild(td);
      }
      return tr;
    }));
  },
  plotConfig: { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage", "sendDataToCloud"] },
  font: { family: "system-ui, sans-serif", size: 13 },
};
