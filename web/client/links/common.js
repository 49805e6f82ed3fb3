// What the mail-link pages share: posting JSON and the card's heading.

import { h } from "../ui/dom.js";

/** POST JSON; resolves to the parsed answer, with `ok` and `status`. */
export async function post(path, body, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    const res = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    const json = await res.json().catch(() => ({ status: "error", message: `HTTP ${res.status}` }));
    return { ...json, ok: res.ok, status: res.status };
  } catch {
    return { ok: false, status: 0, message: "The server cannot be reached. Check your connection and retry." };
  }
}

export function head(card, title, lead) {
  document.title = `${title} · AI Pasta`;
  const parts = [
    h("img.brand-big", { src: "/static/favicon.svg", alt: "", width: "48", height: "48" }),
    h("h1", { text: title, tabindex: "-1" }),
  ];
  if (lead) parts.push(h("p.muted", { text: lead }));
  card.replaceChildren(...parts);
  card.querySelector("h1").focus();
}
