// The admin console (role admin; the server refuses everyone else with 403): users, analytics,
// moderation and the audit log, on /api/admin/*.

import { h } from "../ui/dom.js";
import { confirmDialog } from "../ui/dialog.js";
import { fmtPrice } from "../lib/money.js";
import { frame, pager, table } from "../ui/screen.js";
import { when } from "../lib/dates.js";
import { labelOf } from "../ui/names.js";
import { auditChanges, auditReason, describeAudit } from "../lib/audit.js";
import { barChart } from "../account/usage.js";
import { MailTab } from "./mail.js";
import { count } from "../lib/words.js";

const KIND_WORDS = { message: "Message", session: "Conversation", attempt: "Blocked attempt (not sent)" };
const SOURCE_WORDS = { user: "reported by the user", admin: "flagged by an admin", provider: "refused by the provider", blocked_term: "blocked term" };

/** Who flagged an item and why, without saying it twice ("blocked term — matched the blocked term"). */
function flagWords(m) {
  const source = SOURCE_WORDS[m.source] || m.source || "";
  const reason = String(m.reason || "").trim();
  if (m.source === "blocked_term" && reason) return reason.charAt(0).toUpperCase() + reason.slice(1);
  const generic = !reason || /^(provider refused|refused by (the )?provider)$/i.test(reason);
  if (generic) return source ? source.charAt(0).toUpperCase() + source.slice(1) : "No reason given";
  return source ? `${source.charAt(0).toUpperCase()}${source.slice(1)} — ${reason}` : reason;
}

const int = (n) => Number(n || 0).toLocaleString("en-US");
const TABS = [
  { id: "users", label: "Users", href: "/admin" },
  { id: "analytics", label: "Analytics", href: "/admin/analytics" },
  { id: "moderation", label: "Moderation", href: "/admin/moderation" },
  { id: "audit", label: "Audit log", href: "/admin/audit" },
  { id: "mail", label: "Mail", href: "/admin/mail" },
];

function notice() {
  return h("p.notice", { role: "status", hidden: true });
}

function tell(node, kind, text) {
  node.className = `notice ${kind}`;
  node.textContent = text;
  node.hidden = false;
}

function select(label, id, options, value) {
  return h("label", { for: id }, label, h("select", { id }, options.map(([v, t]) => h("option", { value: v, text: t, selected: v === value }))));
}

export class AdminScreen {
  constructor(ctx, root) {
    this.ctx = ctx;
    this.root = root;
    this.charts = [];
    this.users = { q: "", role: "", active: "", plan: "", page: 1 };
    this.audit = { email: "", action: "", targetType: "", targetId: "", from: "", to: "", page: 1 };
  }

  async open(tab) {
    const active = TABS.some((t) => t.id === tab) ? tab : "users";
    const { node, body } = frame("Admin console", TABS, active);
    this.body = body;
    this.root.replaceChildren(node);
    document.title = `${TABS.find((t) => t.id === active).label} · Admin · AI Pasta`;
    this.dropCharts();
    const u = this.ctx.getUser();
    if (!u || u.role !== "admin") {
      body.replaceChildren(h("p.notice.error", { role: "alert", text: "The admin console is for administrators only." }));
      return;
    }
    if (active === "users") return this.usersTab();
    if (active === "analytics") return this.analyticsTab();
    if (active === "moderation") return this.moderationTab();
    if (active === "mail") return new MailTab(this.ctx, body).open();
    return this.auditTab();
  }

  destroy() {
    this.dropCharts();
    this.body = null;
  }

  dropCharts() {
    if (this.observer) this.observer.disconnect();
    this.charts.forEach((c) => c.destroy());
    this.charts = [];
  }

  fail(err) {
    if (this.body) this.body.prepend(h("p.notice.error", { role: "alert", text: err.message }));
  }

  // -- users ------------------------------------------------------------------------------------

  usersTab() {
    const f = this.users;
    const q = h("input", { id: "user-q", type: "search", value: f.q, placeholder: "email or name" });
    // What is typed survives a redraw of the tab (the screen may be opened again meanwhile).
    q.addEventListener("input", () => { f.q = q.value.trim(); });
    const form = h("form.toolbar", { role: "search", "aria-label": "Find users" },
      h("label", { for: "user-q" }, "Search", q),
      select("Role", "user-role", [["", "any"], ["user", "user"], ["admin", "admin"]], f.role),
      select("Status", "user-active", [["", "any"], ["true", "active"], ["false", "deactivated"]], f.active),
      select("Plan", "user-plan", [["", "any"], ["free", "free"], ["pro", "pro"], ["enterprise", "enterprise"]], f.plan),
      h("button.primary", { type: "submit", text: "Search" }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      Object.assign(f, { q: q.value.trim(), role: form.querySelector("#user-role").value, active: form.querySelector("#user-active").value, plan: form.querySelector("#user-plan").value, page: 1 });
      this.loadUsers();
    });
    this.body.replaceChildren(form, h("div", { id: "users-list" }), h("div", { id: "user-detail" }));
    return this.loadUsers();
  }

  async loadUsers() {
    const f = this.users;
    const query = { page: f.page, limit: 20 };
    for (const k of ["q", "role", "active", "plan"]) if (f[k]) query[k] = f[k];
    const seq = (this.usersSeq = (this.usersSeq || 0) + 1);
    let data;
    try {
      data = await this.ctx.api("/api/admin/users", { query });
    } catch (err) {
      return this.fail(err);
    }
    if (seq !== this.usersSeq) return; // a newer search is on its way
    const box = this.body && this.body.querySelector("#users-list");
    if (!box) return;
    const p = data.pagination || { page: 1, pages: 1, total: 0 };
    box.replaceChildren(
      h("p.muted", { text: `${int(p.total)} ${p.total === 1 ? "user" : "users"}` }),
      table("Users", [
        { label: "User", value: (u) => h("button.link.open-user", { type: "button", "data-user": u.id, text: u.email, onclick: () => this.openUser(u.id) }) },
        { label: "Name", value: (u) => u.name },
        { label: "Role", value: (u) => u.role },
        { label: "Plan", value: (u) => u.subscription.plan },
        { label: "Balance", value: (u) => int(u.tokens.balance), className: "num" },
        { label: "Status", value: (u) => (u.isActive ? "active" : "deactivated") },
        { label: "Joined", value: (u) => when(u.createdAt) },
      ], data.users || [], "No user matches."),
      pager(p.page, p.pages, (page) => {
        f.page = page;
        this.loadUsers();
      }, "User pages") || "");
  }

  async openUser(id, said = null) {
    let d;
    let audit;
    try {
      [d, audit] = await Promise.all([
        this.ctx.api(`/api/admin/users/${encodeURIComponent(id)}`),
        this.ctx.api("/api/admin/audit", { query: { targetId: id, limit: 20 } }),
      ]);
    } catch (err) {
      return this.fail(err);
    }
    const box = this.body && this.body.querySelector("#user-detail");
    if (!box) return;
    const u = d.user;
    const w = d.wallet;
    const note = notice();
    const amount = h("input", { id: "grant-amount", type: "number", min: "1", inputmode: "numeric", required: true });
    const reason = h("input", { id: "grant-reason", maxlength: "500", required: true, placeholder: "why (kept in the audit log)" });
    const act = async (path, body, done) => {
      try {
        await this.ctx.api(`/api/admin/users/${encodeURIComponent(id)}${path}`, { method: path === "/role" ? "PATCH" : "POST", body });
        await Promise.all([this.openUser(id, done), this.loadUsers()]);
        this.ctx.announce(done);
      } catch (err) {
        tell(note, "error", err.message);
      }
    };
    const tokens = (kind) => {
      const n = Number(amount.value);
      if (!Number.isInteger(n) || n < 1) return tell(note, "error", "Enter a whole number of tokens.");
      if (!reason.value.trim()) return tell(note, "error", "Say why: the reason goes in the audit log.");
      const key = `ui-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
      return act(`/tokens/${kind}`, { amount: n, reason: reason.value.trim(), idempotencyKey: key }, `${kind === "grant" ? "Granted" : "Deducted"} ${count(n, "token")}`);
    };
    box.replaceChildren(h("section.card.user-card", { "aria-labelledby": "user-title" },
      h("h2", { id: "user-title", tabindex: "-1", text: `${u.name} · ${u.email}` }),
      h("p.muted", { text: `${u.role} · ${u.isActive ? "active" : `deactivated${u.deactivatedReason ? ` (${u.deactivatedReason})` : ""}`} · plan ${u.subscription.plan}${u.subscription.expiresAt ? ` until ${when(u.subscription.expiresAt)}` : ""} · joined ${when(u.createdAt)} · ${count(u.usage.totalRequests, "request")}, ${count(d.sessions.length, "recent session")}` }),
      h("div.stats", {},
        [["Balance", w.balance, "detail-balance"], ["Free", w.freeTokens], ["Purchased", w.purchasedTokens, "detail-purchased"], ["Held", w.reserved], ["Used", w.usedTokens]].map(([label, v, sid]) =>
          h("div.stat", {}, h("span.stat-label", { text: label }), h("span.stat-value", { id: sid, text: int(v) })))),
      h("h3", { text: "Tokens" }),
      h("div.toolbar", {},
        h("label", { for: "grant-amount" }, "Amount", amount),
        h("label", { for: "grant-reason" }, "Reason", reason),
        h("button.primary", { type: "button", text: "Grant", onclick: () => tokens("grant") }),
        h("button.ghost", { type: "button", text: "Deduct", onclick: () => tokens("deduct") })),
      h("h3", { text: "Account" }),
      h("div.toolbar", {},
        h("button.ghost", { type: "button", text: u.role === "admin" ? "Make user" : "Make admin", onclick: async () => {
          const role = u.role === "admin" ? "user" : "admin";
          if (await confirmDialog(`Make ${u.email} ${role === "admin" ? "an admin" : "a user"}?`, "The change is audited.", "Change role")) act("/role", { role }, `Role set to ${role}`);
        } }),
        u.isActive
          ? h("button.ghost", { type: "button", text: "Deactivate", onclick: async () => {
            if (await confirmDialog(`Deactivate ${u.email}?`, "They are signed out and cannot sign in until reactivated.", "Deactivate")) act("/deactivate", { reason: reason.value.trim() }, "Deactivated");
          } })
          : h("button.ghost", { type: "button", text: "Activate", onclick: () => act("/activate", undefined, "Activated") })),
      note,
      h("h3", { text: "Recent ledger" }),
      table(`Ledger of ${u.email}`, [
        { label: "Date", value: (e) => when(e.createdAt) },
        { label: "Kind", value: (e) => e.kind },
        { label: "Tokens", value: (e) => `${e.amount > 0 ? "+" : ""}${int(e.amount)}`, className: "num" },
        { label: "Source", value: (e) => e.source || "" },
        { label: "Reference", value: (e) => e.key },
      ], d.ledger || []),
      h("h3", { text: "Audit of this user" }),
      auditTable(audit.entries || [], `Audit of ${u.email}`)));
    if (said) tell(note, "success", said);
    else box.querySelector("#user-title").focus();
  }

  // -- analytics --------------------------------------------------------------------------------

  async analyticsTab(days = 30) {
    const to = new Date();
    const from = new Date(to.getTime() - (days - 1) * 86400000);
    const iso = (d) => d.toISOString().slice(0, 10);
    let a;
    try {
      a = await this.ctx.api("/api/admin/analytics", { query: { from: iso(from), to: iso(to) } });
    } catch (err) {
      return this.fail(err);
    }
    if (!this.body) return;
    this.dropCharts();
    const t = a.totals || {};
    const rows = (a.series || []).map((s) => ({ date: s.period, newUsers: s.newUsers, activeUsers: s.activeUsers, requests: s.requests, tokens: s.tokens, revenue: (s.revenue || 0) / 100, charged: typeof s.charged === "object" ? s.charged.total : s.charged }));
    const models = a.models || [];
    const providerCost = models.reduce((sum, m) => sum + Number(m.cost || 0), 0);
    this.charts = [
      barChart("New users per day", rows, "newUsers", "new users"),
      barChart("Active users per day", rows, "activeUsers", "active users"),
      barChart("Requests per day", rows, "requests", "requests"),
      barChart("Tokens per day", rows, "tokens", "tokens"),
      barChart("Revenue per day (₹)", rows, "revenue", "rupees"),
    ];
    const rev = a.revenue || { byPlan: [] };
    this.body.replaceChildren(
      h("div.toolbar", {}, h("div.seg", { role: "group", "aria-label": "Period" },
        [7, 30, 90].map((d) => h("button", { type: "button", "aria-pressed": String(d === days), text: `${d} days`, onclick: () => this.analyticsTab(d) })))),
      h("div.stats", {},
        [["New users", int(t.newUsers)], ["Active users", int(t.activeUsers)], ["Requests", int(t.requests)], ["Tokens", int(t.tokens)],
          ["Revenue (net)", fmtPrice(rev.net || 0)], ["Provider cost", `$${providerCost.toFixed(4)}`]].map(([label, v]) =>
          h("div.stat", {}, h("span.stat-label", { text: label }), h("span.stat-value", { text: v })))),
      h("div.chart-grid", { id: "admin-charts" }, this.charts.map((c) => c.figure)),
      h("h2", { text: "Top models" }),
      table("Top models", [
        { label: "Model", value: (m) => labelOf(m.modelId) },
        { label: "Requests", value: (m) => int(m.requests), className: "num" },
        { label: "Errors", value: (m) => `${int(m.errors)} (${((m.errorRate || 0) * 100).toFixed(1)}%)`, className: "num" },
        { label: "Tokens", value: (m) => int(m.totalTokens), className: "num" },
        { label: "Charged", value: (m) => int(m.charged), className: "num" },
        { label: "Provider cost", value: (m) => `$${Number(m.cost || 0).toFixed(4)}`, className: "num" },
        { label: "Avg TTFT", value: (m) => (m.avgTtftMs ? `${Math.round(m.avgTtftMs)} ms` : "—"), className: "num" },
      ], models, "No requests in this period."),
      h("h2", { text: "Top users" }),
      table("Top users", [
        { label: "User", value: (u) => u.email || u.userId },
        { label: "Requests", value: (u) => int(u.requests), className: "num" },
        { label: "Tokens", value: (u) => int(u.tokens), className: "num" },
        { label: "Charged", value: (u) => int(u.charged), className: "num" },
      ], a.topUsers || [], "No users in this period."),
      h("h2", { text: "Revenue by plan" }),
      table("Revenue by plan", [
        { label: "Plan", value: (p) => p.planId },
        { label: "Payments", value: (p) => int(p.payments), className: "num" },
        { label: "Gross", value: (p) => fmtPrice(p.gross, p.currency || "INR"), className: "num" },
        { label: "Refunded", value: (p) => fmtPrice(p.refunded, p.currency || "INR"), className: "num" },
        { label: "Net", value: (p) => fmtPrice(p.net, p.currency || "INR"), className: "num" },
      ], rev.byPlan || [], "No payments in this period."),
    );
    this.observer = new ResizeObserver(() => this.charts.forEach((c) => c.draw()));
    this.charts.forEach((c) => {
      c.draw();
      this.observer.observe(c.figure);
    });
  }

  // -- moderation -------------------------------------------------------------------------------

  async moderationTab(status = "open") {
    let items;
    let terms;
    try {
      [items, terms] = await Promise.all([
        this.ctx.api("/api/admin/moderation/flagged", { query: { status, limit: 50 } }),
        this.ctx.api("/api/admin/moderation/blocked-terms"),
      ]);
    } catch (err) {
      return this.fail(err);
    }
    if (!this.body) return;
    const note = notice();
    const path = (it) => `/api/admin/moderation/${it.type}s/${encodeURIComponent(it.id)}`;
    const run = async (it, what, method = "POST") => {
      try {
        await this.ctx.api(method === "DELETE" ? path(it) : `${path(it)}/${what}`, { method, body: method === "POST" && what === "hide" ? { hidden: !it.moderation.hidden } : undefined });
        this.ctx.announce(`Done: ${what}`);
        await this.moderationTab(status);
      } catch (err) {
        tell(note, "error", err.message);
      }
    };
    const term = h("input", { id: "term", maxlength: "100", required: true });
    const termForm = h("form.toolbar", { "aria-label": "Blocked terms" }, h("label", { for: "term" }, "Block a term", term), h("button.primary", { type: "submit", text: "Block" }));
    termForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await this.ctx.api("/api/admin/moderation/blocked-terms", { method: "POST", body: { term: term.value.trim() } });
        await this.moderationTab(status);
      } catch (err) {
        tell(note, "error", err.message);
      }
    });
    this.body.replaceChildren(
      h("div.toolbar", {}, h("div.seg", { role: "group", "aria-label": "Queue" },
        [["open", "Open"], ["reviewed", "Reviewed"], ["all", "All"]].map(([v, t]) => h("button", { type: "button", "aria-pressed": String(v === status), text: t, onclick: () => this.moderationTab(v) })))),
      note,
      h("h2", { text: "Flagged messages, conversations and blocked attempts" }),
      (items.items || []).length ? h("ul.queue", {}, items.items.map((it) => h("li.card", {},
        h("p.muted", { text: [KIND_WORDS[it.type] || it.type, labelOf(it.modelId), it.role, it.via === "api" ? "through an API key" : "", it.userEmail || `user ${it.userId}`, it.sessionId || it.type === "session" ? `session ${it.sessionId || it.id}` : "", when(it.createdAt), it.attempts > 1 ? `tried ${it.attempts} times, last ${when(it.lastAttemptAt)}` : ""].filter(Boolean).join(" · ") }),
        h("p", {}, h("strong", { text: "Flag: " }), `${flagWords(it.moderation)} (${when(it.moderation.flaggedAt)})`),
        it.type === "session" ? h("p", { text: it.title || "" }) : h("blockquote.flagged-content", { text: it.content || "(empty)" }),
        it.type === "message" ? h("div.context", { id: `context-${it.id}`, hidden: true }) : "",
        h("div.toolbar", {},
          it.type === "message" ? h("button.ghost.small", { type: "button", text: "View in context", "aria-expanded": "false", "aria-controls": `context-${it.id}`, onclick: (e) => this.toggleContext(it, e.currentTarget) }) : "",
          h("button.ghost.small", { type: "button", text: it.moderation.hidden ? "Unhide" : "Hide", onclick: () => run(it, "hide") }),
          h("button.ghost.small", { type: "button", text: "Dismiss", onclick: () => run(it, "dismiss") }),
          h("button.ghost.small.danger-text", { type: "button", text: "Remove content", onclick: async () => {
            if (await confirmDialog("Remove this content?", "The text is deleted; the record stays for usage and the audit.", "Remove")) run(it, "remove", "DELETE");
          } })))))
        : h("p.muted.empty", { text: "The queue is empty." }),
      h("h2", { text: "Blocked terms" }),
      termForm,
      h("ul.terms", {},
        (terms.configured || []).map((t) => h("li", { text: `${t} (from settings)` })),
        (terms.runtime || []).map((t) => h("li", {}, `${t} `, h("button.ghost.small", { type: "button", text: `Unblock ${t}`, onclick: async () => {
          try {
            await this.ctx.api(`/api/admin/moderation/blocked-terms/${encodeURIComponent(t)}`, { method: "DELETE" });
            await this.moderationTab(status);
          } catch (err) {
            tell(note, "error", err.message);
          }
        } })))),
    );
  }

  /** Show or hide the conversation around a flagged message (GET .../messages/<id>/context). */
  async toggleContext(it, button) {
    const box = this.body && this.body.querySelector(`#context-${CSS.escape(it.id)}`);
    if (!box) return;
    if (button.getAttribute("aria-expanded") === "true") {
      box.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.textContent = "View in context";
      return;
    }
    let data;
    try {
      data = await this.ctx.api(`/api/admin/moderation/messages/${encodeURIComponent(it.id)}/context`, { query: { around: 3 } });
    } catch (err) {
      box.replaceChildren(h("p.notice.error", { role: "alert", text: err.message }));
      box.hidden = false;
      return;
    }
    const line = (m, current) => h(`li.context-message${current ? ".current" : ""}`, current ? { "aria-current": "true" } : {},
      h("p.muted", { text: `${m.role || ""}${m.modelId ? ` · ${labelOf(m.modelId)}` : ""} · ${when(m.createdAt)}${current ? " · flagged" : ""}` }),
      h("p.context-text", { text: m.content || "(empty)" }));
    const s = data.session || {};
    box.replaceChildren(
      h("p.muted", { text: `Conversation “${s.title || s.id || ""}” · ${count(s.messageCount, "message")}` }),
      h("ol.context-list", { "aria-label": `Conversation around the flagged message` },
        (data.before || []).map((m) => line(m, false)), line(data.message, true), (data.after || []).map((m) => line(m, false))));
    box.hidden = false;
    button.setAttribute("aria-expanded", "true");
    button.textContent = "Hide context";
  }

  // -- audit ------------------------------------------------------------------------------------

  auditTab() {
    const f = this.audit;
    const input = (id, label, value, placeholder) => h("label", { for: id }, label, h("input", { id, value, placeholder }));
    const form = h("form.toolbar", { role: "search", "aria-label": "Filter the audit log" },
      input("audit-email", "Email (who did it, or to whom)", f.email, "ann@example.com"),
      input("audit-action", "Action", f.action, "e.g. tokens.grant"),
      input("audit-type", "Target type", f.targetType, "user"),
      input("audit-target", "Target id", f.targetId, ""),
      h("label", { for: "audit-from" }, "From (UTC day)", h("input", { id: "audit-from", type: "date", value: f.from })),
      h("label", { for: "audit-to" }, "To (UTC day)", h("input", { id: "audit-to", type: "date", value: f.to })),
      h("button.primary", { type: "submit", text: "Filter" }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      Object.assign(f, {
        email: form.querySelector("#audit-email").value.trim(),
        action: form.querySelector("#audit-action").value.trim(),
        targetType: form.querySelector("#audit-type").value.trim(),
        targetId: form.querySelector("#audit-target").value.trim(),
        from: form.querySelector("#audit-from").value,
        to: form.querySelector("#audit-to").value,
        page: 1,
      });
      this.loadAudit();
    });
    this.body.replaceChildren(form, h("div", { id: "audit-list" }));
    return this.loadAudit();
  }

  async loadAudit() {
    const f = this.audit;
    const query = { page: f.page, limit: 50 };
    for (const k of ["email", "action", "targetType", "targetId", "from", "to"]) if (f[k]) query[k] = f[k];
    const seq = (this.auditSeq = (this.auditSeq || 0) + 1);
    let data;
    try {
      data = await this.ctx.api("/api/admin/audit", { query });
    } catch (err) {
      return this.fail(err);
    }
    if (seq !== this.auditSeq) return; // a newer filter is on its way
    const box = this.body && this.body.querySelector("#audit-list");
    if (!box) return;
    const p = data.pagination || { page: 1, pages: 1 };
    box.replaceChildren(auditTable(data.entries || [], "Audit log"), pager(p.page, p.pages, (page) => {
      f.page = page;
      this.loadAudit();
    }, "Audit pages") || "");
  }
}

function auditTable(entries, caption) {
  return table(caption, [
    { label: "When", value: (e) => when(e.createdAt) },
    { label: "What happened", value: (e) => h("span", {},
      describeAudit(e),
      auditReason(e) ? h("span.audit-reason", { text: ` — “${auditReason(e)}”` }) : null,
      " ", h("code.muted.audit-action", { text: e.action })) },
    { label: "Changes", value: (e) => auditChanges(e) || "—" },
  ], entries, "No audit entries.");
}
