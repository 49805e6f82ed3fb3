// The admin console's Mail tab: the outbox (GET /api/admin/mail), failed mail first, with
// "Send again" (POST /api/admin/mail/<id>/retry). Bodies are never shown: they hold links.

import { h } from "../ui/dom.js";
import { pager, table } from "../ui/screen.js";
import { when } from "../lib/dates.js";

const STATUSES = [["failed", "failed"], ["pending", "waiting to be sent"], ["sending", "being sent"], ["sent", "sent"], ["expired", "expired"], ["", "any"]];

export class MailTab {
  constructor(ctx, body) {
    this.ctx = ctx;
    this.body = body;
    this.filter = { status: "failed", page: 1 };
  }

  open() {
    const status = h("select", { id: "mail-status" }, STATUSES.map(([v, t]) => h("option", { value: v, text: t, selected: v === this.filter.status })));
    const form = h("form.toolbar", { role: "search", "aria-label": "Filter the mail" },
      h("label", { for: "mail-status" }, "Status", status),
      h("button.primary", { type: "submit", text: "Show" }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.filter = { status: status.value, page: 1 };
      this.load();
    });
    this.note = h("p.notice", { role: "status", hidden: true });
    this.list = h("div", { id: "mail-list" });
    this.body.replaceChildren(
      h("p.muted", { text: "Mail the workers send: password resets, address confirmations, receipts and security notices. A mail fails when the SMTP server refused it or stayed down for every try." }),
      form, this.note, this.list);
    return this.load();
  }

  async load() {
    const query = { page: this.filter.page, limit: 20 };
    if (this.filter.status) query.status = this.filter.status;
    let data;
    try {
      data = await this.ctx.api("/api/admin/mail", { query });
    } catch (err) {
      return this.say("error", err.message);
    }
    const columns = [
      { label: "Queued", value: (m) => when(m.createdAt) },
      { label: "Kind", value: (m) => m.kind.replace(/_/g, " ") },
      { label: "To", value: (m) => m.to },
      { label: "Subject", value: (m) => m.subject },
      { label: "Status", value: (m) => (m.status === "pending" && m.nextAttemptAt ? `waiting (next try ${when(m.nextAttemptAt)})` : m.status) },
      { label: "Tries", value: (m) => String(m.attempts), className: "num" },
      { label: "Last error", value: (m) => m.lastError || "—" },
      { label: "", value: (m) => (m.status === "failed" ? h("button.ghost.small", { type: "button", text: "Send again", "aria-label": `Send again: ${m.subject} to ${m.to}`, onclick: () => this.retry(m) }) : "") },
    ];
    const pages = Math.max(1, Math.ceil(data.total / 20));
    this.list.replaceChildren(
      table("Mail", columns, data.mail, this.filter.status === "failed" ? "No failed mail." : "No mail."),
      pager(this.filter.page, pages, (p) => { this.filter.page = p; this.load(); }, "Mail pages") || "");
  }

  async retry(m) {
    try {
      await this.ctx.api(`/api/admin/mail/${encodeURIComponent(m.id)}/retry`, { method: "POST" });
      this.say("success", `The mail to ${m.to} is queued again.`);
    } catch (err) {
      this.say("error", err.message);
    }
    return this.load();
  }

  say(kind, text) {
    this.note.className = `notice ${kind}`;
    this.note.textContent = text;
    this.note.hidden = false;
    this.ctx.announce(text);
  }
}
