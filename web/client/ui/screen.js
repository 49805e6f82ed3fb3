// The parts every screen (wallet, account, admin) is made of: a frame with tabs, tables, pagers.

import { h } from "./dom.js";

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

/** A table from column specs `{label, value(row) -> text|Node, className?}`. Under 600 px
 * each row is a card whose cells carry their column's name (screens.css); the explicit roles
 * keep it a table for assistive technology whatever the layout. */
export function table(caption, columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p.muted.empty", { text: empty });
  return h("div.table-wrap", { tabindex: "0", role: "region", "aria-label": caption },
    h("table.data", { role: "table" },
      h("caption.sr-only", { text: caption }),
      h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, columns.map((c) => h("th", { scope: "col", role: "columnheader", text: c.label })))),
      h("tbody", { role: "rowgroup" }, rows.map((r) => h("tr", { role: "row" }, columns.map((c) => {
        const v = c.value(r);
        return h(`td${c.className ? `.${c.className}` : ""}`, { role: "cell", "data-label": c.label }, v instanceof Node ? v : String(v ?? ""));
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
