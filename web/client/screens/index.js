// The screens beside the chat: /wallet, /account[/tab], /admin[/tab]. One <section id="screen">
// takes the chat's place; the app's router asks `show(path)` first and falls back to the chat.

import { $, h } from "../ui/dom.js";
import { screenFromPath } from "../lib/money.js";
import { WalletScreen } from "../wallet/wallet.js";
import { AccountScreen } from "../account/account.js";
import { AdminScreen } from "../admin/admin.js";

export class Screens {
  /** ctx: {api, getUser, go(path), setToken(token), logout(), announce(text)} */
  constructor(ctx) {
    this.ctx = { ...ctx, config: () => this.config() };
    this.root = $("#screen");
    this.current = null;
    this.kinds = { wallet: WalletScreen, account: AccountScreen, admin: AdminScreen };
    this.configPromise = null;
    // Links to the screens (and back to the chat) route in place.
    document.addEventListener("click", (e) => {
      const a = e.target.closest("a[href]");
      if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || a.target || a.hasAttribute("download")) return;
      if (!screenFromPath(url.pathname) && !(a.dataset.route === "chat" && url.pathname === "/")) return;
      e.preventDefault();
      ctx.go(url.pathname + url.search);
    });
  }

  /** The public settings (`GET /api/config`), fetched once. */
  config() {
    if (!this.configPromise) {
      this.configPromise = fetch("/api/config").then((r) => r.json()).then((j) => j.data || {}).catch(() => {
        this.configPromise = null;
        return {};
      });
    }
    return this.configPromise;
  }

  /** Show the screen for `pathname` if it is one; true when it was. */
  show(pathname, search = location.search) {
    const where = screenFromPath(pathname);
    if (!where) return false;
    const Kind = this.kinds[where.screen];
    if (!(this.current instanceof Kind)) {
      if (this.current) this.current.destroy();
      this.current = new Kind(this.ctx, this.root);
    }
    $("#main").hidden = true;
    this.root.hidden = false;
    document.body.dataset.screen = where.screen;
    this.current.open(where.tab, new URLSearchParams(search));
    return true;
  }

  hide() {
    if (this.current) this.current.destroy();
    this.current = null;
    this.root.replaceChildren();
    this.root.hidden = true;
    delete document.body.dataset.screen;
    $("#main").hidden = false;
  }

  /** A new user snapshot was taken (the app keeps the newest): the open screen redraws it. */
  userChanged(user) {
    for (const link of [$("#admin-link"), $("#admin-side")]) if (link) link.hidden = !(user && user.role === "admin");
    if (this.current && this.current.userChanged) this.current.userChanged(user);
  }

  reset() {
    this.hide();
    this.configPromise = null;
  }
}

/** A screen's frame: title, tabs (links), and the body the tab fills. */
export function frame(title, tabs, active) {
  const nav = tabs.length > 1
    ? h("nav.screen-tabs", { "aria-label": `${title} sections` },
      tabs.map((t) => h("a.tab", { href: t.href, "aria-current": t.id === active ? "page" : null, text: t.label })))
    : null;
  const body = h("div.screen-body");
  const node = h("div.screen-inner", {},
    h("div.screen-head", {}, h("h1", { text: title, tabindex: "-1" }), h("a.back", { href: "/", "data-route": "chat", text: "← Back to chat" })),
    nav, body);
  return { node, body };
}

/** A table from column specs `{label, value(row) -> text|Node, className?}`. */
export function table(caption, columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p.muted.empty", { text: empty });
  return h("div.table-wrap", { tabindex: "0", role: "region", "aria-label": caption },
    h("table.data", {},
      h("caption.sr-only", { text: caption }),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c.label })))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => {
        const v = c.value(r);
        return h(`td${c.className ? `.${c.className}` : ""}`, { "data-label": c.label }, v instanceof Node ? v : String(v ?? ""));
      }))))));
}

/** Page buttons under a table. */
export function pager(page, pages, onPage, label = "Pages") {
  if (pages <= 1) return null;
  return h("nav.pager", { "aria-label": label },
    h("button.ghost.small", { type: "button", disabled: page <= 1, text: "← Previous", onclick: () => onPage(page - 1) }),
    h("span.muted", { text: ` Page ${page} of ${pages} ` }),
    h("button.ghost.small", { type: "button", disabled: page >= pages, text: "Next →", onclick: () => onPage(page + 1) }));
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) + " UTC";
}
