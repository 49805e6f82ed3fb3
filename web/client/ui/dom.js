// A tiny element builder: h("button.primary", {onclick, "aria-label": "Send"}, "Send").

export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const node = document.createElement(tag || "div");
  if (classes.length) node.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else if (key === "hidden") node.hidden = Boolean(value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function fmtInt(n) {
  return Number(n || 0).toLocaleString("en-US");
}

/** Copy `text` and say so on `button` for a moment. */
export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    flash(button, "Copied");
  } catch {
    flash(button, "Copy failed");
  }
}

/** Show `label` on the button for a moment. Its accessible name says the same meanwhile: a
 * visible word missing from the name fails WCAG 2.5.3 (axe's label-content-name-mismatch). */
function flash(button, label) {
  if (!button) return;
  const before = button.textContent;
  const named = button.getAttribute("aria-label");
  button.textContent = label;
  if (named !== null) button.setAttribute("aria-label", label);
  setTimeout(() => {
    button.textContent = before;
    if (named !== null) button.setAttribute("aria-label", named);
  }, 1200);
}

/** Save `text` as a file (export). */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
