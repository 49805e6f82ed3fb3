// Usage: tokens and wallet charges per day (uPlot charts), per model and per API key over 7/30/90
// days (read from the ledger: deleting a chat changes none of it), the API requests' usage
// records per key, and the ledger as a paginated table with CSV export and each charge's receipt.

import uPlot from "uplot";
import { download, h } from "../ui/dom.js";
import { seriesFromDays, toCSV } from "../lib/money.js";
import { pager, table } from "../ui/screen.js";
import { when } from "../lib/dates.js";
import { labelOf } from "../ui/names.js";
import { count } from "../lib/words.js";

const int = (n) => Number(n || 0).toLocaleString("en-US");
const PAGE = 20;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#b8441a";
}

/** A bar chart of one daily series; the numbers are also in its label for screen readers. */
export function barChart(title, rows, field, unit) {
  const total = rows.reduce((a, r) => a + Number(r[field] || 0), 0);
  const peak = rows.reduce((a, r) => (Number(r[field] || 0) > Number(a[field] || 0) ? r : a), rows[0] || {});
  const summary = `${title}: ${int(total)} ${unit} in ${count(rows.length, "day")}${total ? `, most on ${peak.date} (${int(peak[field])})` : ""}.`;
  const box = h("div.chart-canvas", { role: "img", "aria-label": summary });
  const figure = h("figure.chart", { "data-chart": field }, h("figcaption", {}, h("h3", { text: title }), h("span.muted.chart-summary", { text: summary })), box);
  const data = seriesFromDays(rows, [field]);
  let plot = null;
  const draw = () => {
    const width = Math.max(200, box.clientWidth || 300);
    if (plot) {
      plot.setSize({ width, height: 200 });
      return;
    }
    const accent = cssVar("--accent");
    const fg = cssVar("--muted");
    const grid = cssVar("--line");
    plot = new uPlot({
      width,
      height: 200,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 60, values: (_u, vals) => vals.map((v) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}k` : String(v))) },
      ],
      series: [{}, { label: unit, stroke: accent, fill: accent, paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } }],
    }, data, box);
  };
  return { figure, draw, destroy: () => plot && plot.destroy() };
}

export class UsageTab {
  constructor(ctx, body) {
    this.ctx = ctx;
    this.body = body;
    this.days = 30;
    this.charts = [];
    this.ledger = { rows: [], page: 1, pages: 1, total: 0 };
    this.requests = { rows: [], page: 1, pages: 1, total: 0, keyId: "" };
    this.keyNames = new Map();
    this.observer = new ResizeObserver(() => this.charts.forEach((c) => c.draw()));
  }

  async open() {
    this.body.replaceChildren(
      h("div.toolbar", {}, h("div.seg", { role: "group", "aria-label": "Period" },
        [7, 30, 90].map((d) => h("button", { type: "button", "data-days": String(d), "aria-pressed": String(d === this.days), text: `${d} days`, onclick: () => this.load(d) })))),
      h("div", { id: "usage-summary" }),
      h("div.chart-grid", { id: "usage-charts" }),
      h("section", { "aria-labelledby": "by-model-title" }, h("h2", { id: "by-model-title", text: "By model" }), h("div", { id: "usage-models" })),
      h("section", { "aria-labelledby": "by-key-title" }, h("h2", { id: "by-key-title", text: "By API key" }), h("div", { id: "usage-keys" })),
      h("section", { "aria-labelledby": "api-requests-title" },
        h("div.screen-head", {}, h("h2", { id: "api-requests-title", text: "API requests" }),
          h("button.ghost.small", { type: "button", id: "api-requests-csv", text: "Export CSV", onclick: () => this.exportRequests() })),
        h("p.muted", { text: "Every request made with your API keys: its model, tokens and charge. They are not chats: they never appear in your conversations." }),
        h("label.inline", {}, "Key ", h("select", { id: "api-requests-key", onchange: (e) => this.loadRequests(1, e.target.value) }, h("option", { value: "", text: "All keys" }))),
        h("div", { id: "api-requests-body" })),
      h("section", { "aria-labelledby": "ledger-title" },
        h("div.screen-head", {}, h("h2", { id: "ledger-title", text: "Wallet ledger" }),
          h("button.ghost.small", { type: "button", id: "ledger-csv", text: "Export CSV", onclick: () => this.exportCSV() })),
        h("p.muted", { text: "Every token in and out of your wallet. A chat charge shows its receipt: the tokens the model used and the rates charged." }),
        h("div", { id: "ledger-body" })),
    );
    // The key names come with the usage figures: the requests table is drawn after them.
    await Promise.all([this.load(this.days).then(() => this.loadRequests(1, "")), this.loadLedger(1)]);
  }

  destroy() {
    this.observer.disconnect();
    this.charts.forEach((c) => c.destroy());
    this.charts = [];
  }

  async load(days) {
    this.days = days;
    for (const b of this.body.querySelectorAll("[data-days]")) b.setAttribute("aria-pressed", String(Number(b.dataset.days) === days));
    let data;
    try {
      data = await this.ctx.api("/api/user/usage", { query: { days } });
    } catch (err) {
      this.body.querySelector("#usage-summary").replaceChildren(h("p.notice.error", { role: "alert", text: err.message }));
      return;
    }
    const t = data.totals;
    this.body.querySelector("#usage-summary").replaceChildren(h("div.stats", {},
      [["Answers", t.requests], ["Tokens used", t.tokens], ["Wallet tokens charged", t.charged]].map(([label, v]) =>
        h("div.stat", {}, h("span.stat-label", { text: label }), h("span.stat-value", { text: int(v) }))),
      data.today ? h("div.stat", {}, h("span.stat-label", { text: "Requests today" }),
        h("span.stat-value", { text: `${int(data.today.requests)}${data.today.limit ? ` / ${int(data.today.limit)}` : ""}` })) : null));
    this.observer.disconnect();
    this.charts.forEach((c) => c.destroy());
    this.charts = [
      barChart("Tokens used per day", data.byDay, "tokens", "tokens"),
      barChart("Wallet tokens charged per day", data.byDay, "charged", "tokens charged"),
    ];
    const grid = this.body.querySelector("#usage-charts");
    grid.replaceChildren(...this.charts.map((c) => c.figure));
    this.charts.forEach((c) => {
      c.draw();
      this.observer.observe(c.figure);
    });
    const max = Math.max(1, ...data.byModel.map((m) => m.tokens));
    this.body.querySelector("#usage-models").replaceChildren(data.byModel.length
      ? h("ul.bars", { "aria-label": "Tokens by model" }, data.byModel.map((m) => {
        const bar = h("span.bar", { "aria-hidden": "true" });
        bar.style.width = `${Math.max(1, Math.round((m.tokens / max) * 100))}%`;
        return h("li", {}, h("span.name", { title: m.modelId, text: labelOf(m.modelId) }), h("span", {}, bar),
          h("span.muted", { text: `${count(m.tokens, "token")} · ${int(m.charged)} charged · ${count(m.requests, "answer")}${m.cost ? ` · $${m.cost.toFixed(4)}` : ""}` }));
      }))
      : h("p.muted.empty", { text: "No answers in this period." }));
    for (const k of data.byKey || []) this.keyNames.set(k.apiKeyId, k.name ? `${k.name} (${k.prefix})` : k.apiKeyId);
    this.body.querySelector("#usage-keys").replaceChildren(
      table("By API key", KEY_COLUMNS, data.byKey || [], "No API requests in this period."));
    const select = this.body.querySelector("#api-requests-key");
    select.replaceChildren(h("option", { value: "", text: "All keys" }),
      ...[...this.keyNames].map(([id, name]) => h("option", { value: id, text: name, selected: id === this.requests.keyId })));
    this.renderRequests();
  }

  async loadRequests(page, keyId = this.requests.keyId) {
    const query = { page, limit: PAGE, ...(keyId ? { keyId } : {}) };
    try {
      const data = await this.ctx.api("/api/user/usage/api-requests", { query });
      this.requests = { rows: data.requests || [], page, pages: data.totalPages || 1, total: data.total || 0, keyId };
    } catch (err) {
      this.ctx.announce(err.message);
    }
    this.renderRequests();
  }

  renderRequests() {
    const box = this.body.querySelector("#api-requests-body");
    if (!box) return;
    box.replaceChildren(
      table("API requests", this.requestColumns().map((c) => ({ label: c.label, value: c.show || c.value, className: c.className })), this.requests.rows, "No API requests yet."),
      pager(this.requests.page, this.requests.pages, (p) => this.loadRequests(p), "API request pages") || "",
    );
  }

  requestColumns() {
    const name = (id) => this.keyNames.get(id) || id;
    return [
      { label: "Date", value: (r) => r.createdAt, show: (r) => when(r.createdAt) },
      { label: "Key", value: (r) => name(r.apiKeyId) },
      { label: "Model", value: (r) => r.modelId },
      { label: "Status", value: (r) => r.status },
      { label: "Tokens", value: (r) => r.totalTokens, show: (r) => int(r.totalTokens), className: "num" },
      { label: "Charged", value: (r) => r.charged, show: (r) => int(r.charged), className: "num" },
      { label: "Request id", value: (r) => r.requestId || "" },
    ];
  }

  async exportRequests() {
    const rows = [];
    const keyId = this.requests.keyId;
    for (let page = 1; page <= 100; page++) {
      const data = await this.ctx.api("/api/user/usage/api-requests", { query: { page, limit: 200, ...(keyId ? { keyId } : {}) } });
      rows.push(...(data.requests || []));
      if (page >= (data.totalPages || 1)) break;
    }
    download(`aipasta-api-requests-${new Date().toISOString().slice(0, 10)}.csv`, toCSV(this.requestColumns(), rows), "text/csv");
  }

  async loadLedger(page) {
    try {
      const data = await this.ctx.api("/api/user/ledger", { query: { page, limit: PAGE } });
      this.ledger = { rows: data.entries || [], page, pages: data.totalPages || 1, total: data.total || 0 };
    } catch (err) {
      this.ctx.announce(err.message);
    }
    const box = this.body.querySelector("#ledger-body");
    if (!box) return;
    box.replaceChildren(
      table("Wallet ledger", COLUMNS.map((c) => ({ label: c.label, value: c.show || c.value, className: c.className })), this.ledger.rows, "No ledger entries yet."),
      pager(this.ledger.page, this.ledger.pages, (p) => this.loadLedger(p), "Ledger pages") || "",
    );
  }

  async exportCSV() {
    const rows = [];
    for (let page = 1; page <= 100; page++) {
      const data = await this.ctx.api("/api/user/ledger", { query: { page, limit: 200 } });
      rows.push(...(data.entries || []));
      if (page >= (data.totalPages || 1)) break;
    }
    download(`aipasta-ledger-${new Date().toISOString().slice(0, 10)}.csv`, toCSV(COLUMNS, rows), "text/csv");
  }
}

const KINDS = { grant: "Free tokens", credit: "Purchase / credit", charge: "Chat answer", debit: "Taken back", release: "Hold released", reset: "Free top-up" };

export function receipt(e) {
  const d = e.details || {};
  const parts = [];
  if (d.modelId) parts.push(labelOf(d.modelId));
  if (d.usage && (d.usage.prompt !== undefined)) parts.push(`${int(d.usage.prompt)} in / ${int(d.usage.completion)} out`);
  if (d.rates && d.rates.prompt !== undefined) parts.push(`rates ${d.rates.prompt} / ${d.rates.completion} per 1K`);
  if (d.planId) parts.push(d.planId);
  if (d.reason) parts.push(d.reason);
  return parts.join(" · ");
}

const KEY_COLUMNS = [
  { label: "Key", value: (k) => (k.name ? `${k.name} (${k.prefix})` : k.apiKeyId) },
  { label: "Requests", value: (k) => int(k.requests), className: "num" },
  { label: "Tokens", value: (k) => int(k.tokens), className: "num" },
  { label: "Charged", value: (k) => int(k.charged), className: "num" },
];

const COLUMNS = [
  { label: "Date", value: (e) => e.createdAt, show: (e) => when(e.createdAt) },
  { label: "Kind", value: (e) => KINDS[e.kind] || e.kind },
  { label: "Tokens", value: (e) => e.amount, show: (e) => `${e.amount > 0 ? "+" : ""}${int(e.amount)}`, className: "num" },
  { label: "Free", value: (e) => e.free, show: (e) => int(e.free), className: "num" },
  { label: "Purchased", value: (e) => e.purchased, show: (e) => int(e.purchased), className: "num" },
  { label: "Receipt", value: receipt },
  { label: "Reference", value: (e) => e.key },
];
