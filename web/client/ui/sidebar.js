// The conversation list: grouped by date (pinned first), rename / pin / export / delete per
// conversation, 50 at a time with more loaded as the list scrolls, and search over titles and
// message text (the server's /api/chat/search).

import { $, h } from "./dom.js";
import { groupSessions } from "../lib/dates.js";
import { pathFor } from "../lib/routes.js";

const PAGE = 50;

export class Sidebar {
  constructor({ api, onOpen, onAction }) {
    Object.assign(this, { api, onOpen, onAction });
    this.reset();
    this.list = $("#sessions");
    this.search = $("#search");
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { root: $("#sidebar"), rootMargin: "200px" });
    this.observer.observe($("#sessions-sentinel"));
    let timer = null;
    this.search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.runSearch(), 250);
    });
    this.search.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.search.value) {
        e.stopPropagation();
        this.search.value = "";
        this.runSearch();
      }
    });
    this.list.addEventListener("click", (e) => this.onClick(e));
    this.list.addEventListener("keydown", (e) => {
      const menu = e.target.closest(".session-menu");
      if (e.key !== "Escape" || !menu) return;
      e.stopPropagation();
      menu.hidden = true;
      const toggle = menu.closest("li.session").querySelector(".session-more");
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    });
  }

  reset() {
    this.sessions = [];
    this.page = 0;
    this.total = Infinity;
    this.loading = null;
    this.activeId = null;
    this.query = "";
    this.generation = (this.generation || 0) + 1;
    if (this.list) {
      this.search.value = "";
      this.list.replaceChildren();
    }
  }

  /** Reload from the first page (after a send, rename, delete). */
  async refresh() {
    const gen = ++this.generation;
    const pages = Math.max(1, this.page);
    const data = await this.api("/api/chat/sessions", { query: { page: 1, limit: PAGE * pages > 100 ? 100 : PAGE * pages } });
    if (gen !== this.generation) return;
    this.sessions = data.sessions || [];
    this.total = data.pagination ? data.pagination.total : this.sessions.length;
    this.page = Math.ceil(this.sessions.length / PAGE) || 1;
    this.loading = null;
    this.render();
    this.keepFilling();
  }

  /** The bottom of the list is in view (the observer fires only when that changes). */
  sentinelInView() {
    const bar = $("#sidebar").getBoundingClientRect();
    return $("#sessions-sentinel").getBoundingClientRect().top < bar.bottom + 200;
  }

  keepFilling() {
    if (!this.query && this.page > 0 && this.sessions.length < this.total && this.sentinelInView()) this.more();
  }

  async more() {
    // Before the first page, or while a page loads, the load in progress calls keepFilling.
    if (this.query || this.loading || this.page === 0 || this.sessions.length >= this.total) return;
    const gen = this.generation;
    this.loading = this.api("/api/chat/sessions", { query: { page: this.page + 1, limit: PAGE } })
      .then((data) => {
        if (gen !== this.generation) return;
        const seen = new Set(this.sessions.map((s) => s.sessionId));
        this.sessions.push(...(data.sessions || []).filter((s) => !seen.has(s.sessionId)));
        this.total = data.pagination ? data.pagination.total : this.sessions.length;
        this.page += 1;
        this.render();
      })
      .catch(() => {})
      .finally(() => {
        if (gen === this.generation) this.loading = null;
      });
    await this.loading;
    this.keepFilling(); // still at the bottom (a tall screen, or scrolled meanwhile)
  }

  setActive(sessionId) {
    this.activeId = sessionId;
    for (const a of this.list.querySelectorAll("a.session-link")) {
      const on = a.dataset.sessionId === sessionId;
      a.classList.toggle("active", on);
      if (on) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  find(sessionId) {
    return this.sessions.find((s) => s.sessionId === sessionId);
  }

  render() {
    if (this.query) return;
    const groups = groupSessions(this.sessions);
    const nodes = groups.map((g) =>
      h("section.session-group", { "aria-label": g.label },
        h("h3", { text: g.label }),
        h("ul", {}, g.sessions.map((s) => this.item(s)))));
    if (!this.sessions.length) nodes.push(h("p.muted.empty", { text: "No conversations yet." }));
    this.list.replaceChildren(...nodes);
    this.setActive(this.activeId);
  }

  /** One conversation; a search hit (`leaf`: the matching message) opens the branch holding it. */
  item(s, snippet, leaf = null) {
    const title = s.title || "New chat";
    const link = h("a.session-link", { href: pathFor(s.sessionId, leaf), "data-session-id": s.sessionId, "data-leaf": leaf },
      h("span.session-title", { text: title }),
      snippet ? h("span.snippet", { text: snippet }) : null);
    const menuId = `menu-${s.sessionId}`;
    const menu = h("div.session-menu", { id: menuId, hidden: true, role: "group", "aria-label": `Actions for ${title}` },
      h("button", { type: "button", "data-act": "rename", text: "Rename" }),
      h("button", { type: "button", "data-act": "pin", text: s.pinned ? "Unpin" : "Pin" }),
      h("button", { type: "button", "data-act": "export-md", text: "Export Markdown" }),
      h("button", { type: "button", "data-act": "export-json", text: "Export JSON" }),
      h("button.danger-text", { type: "button", "data-act": "delete", text: "Delete" }));
    const toggle = h("button.session-more", { type: "button", "aria-label": `More actions for ${title}`, "aria-expanded": "false", "aria-controls": menuId, "data-act": "menu", text: "⋯" });
    return h("li.session", { "data-session-id": s.sessionId }, h("div.session-row", {}, link, toggle), menu);
  }

  onClick(e) {
    const link = e.target.closest("a.session-link");
    if (link && !e.ctrlKey && !e.metaKey && !e.shiftKey && e.button === 0) {
      e.preventDefault();
      this.onOpen(link.dataset.sessionId, link.dataset.leaf || null);
      return;
    }
    const button = e.target.closest("button[data-act]");
    if (!button) return;
    const li = button.closest("li.session");
    const act = button.dataset.act;
    if (act === "menu") {
      const menu = li.querySelector(".session-menu");
      const open = menu.hidden;
      for (const m of this.list.querySelectorAll(".session-menu")) m.hidden = true;
      for (const b of this.list.querySelectorAll(".session-more")) b.setAttribute("aria-expanded", "false");
      menu.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      if (open) menu.querySelector("button").focus();
      return;
    }
    li.querySelector(".session-menu").hidden = true;
    this.onAction(act, li.dataset.sessionId);
  }

  async runSearch() {
    const q = this.search.value.trim();
    this.query = q;
    if (!q) {
      this.render();
      return;
    }
    const gen = ++this.generation;
    try {
      const data = await this.api("/api/chat/search", { query: { q, limit: 50 } });
      if (gen !== this.generation) return;
      const results = data.results || [];
      const items = results.map((r) => this.item(r.session, r.snippet !== r.session.title ? r.snippet : "", r.messageId));
      this.list.replaceChildren(
        h("section.session-group", { "aria-label": "Search results" },
          h("h3", { text: `${results.length ? results.length : "No"} result${results.length === 1 ? "" : "s"} for “${q}”` }),
          h("ul", {}, items)));
      this.setActive(this.activeId);
    } catch (err) {
      if (gen === this.generation) this.list.replaceChildren(h("p.error", { text: err.message }));
    }
  }
}
