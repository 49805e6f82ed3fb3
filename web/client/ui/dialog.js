// Modal questions on one <dialog>: confirm (delete) and ask (rename). Resolves null on cancel.

import { $, h } from "./dom.js";

function open({ title, body, confirmLabel, danger, input }) {
  const dialog = $("#dialog");
  return new Promise((resolve) => {
    const field = input ? h("input", { type: "text", value: input.value, "aria-label": input.label, maxlength: "200", required: true }) : null;
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: "dialog-title", text: title }),
      body ? h("p", { text: body }) : null,
      field,
      h(
        "div.dialog-actions",
        {},
        h("button.ghost", { type: "button", text: "Cancel", onclick: () => dialog.close("") }),
        h(`button.${danger ? "danger" : "primary"}`, { type: "submit", value: "ok", text: confirmLabel }),
      ),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (field && !field.value.trim()) return;
      dialog.close("ok");
    });
    dialog.replaceChildren(form);
    dialog.setAttribute("aria-labelledby", "dialog-title");
    dialog.onclose = () => resolve(dialog.returnValue === "ok" ? (field ? field.value.trim() : true) : null);
    dialog.returnValue = "";
    dialog.showModal();
    (field || form.querySelector("button[type=submit]")).focus();
    if (field) field.select();
  });
}

export const confirmDialog = (title, body, confirmLabel = "Delete") => open({ title, body, confirmLabel, danger: true });
export const askDialog = (title, label, value) => open({ title, confirmLabel: "Save", input: { label, value } });

/** An information dialog with arbitrary content (the plans). */
export function infoDialog(title, content) {
  const dialog = $("#dialog");
  const form = h("form", { method: "dialog" }, h("h2", { id: "dialog-title", text: title }), content,
    h("div.dialog-actions", {}, h("button.primary", { type: "submit", text: "Close" })));
  dialog.replaceChildren(form);
  dialog.setAttribute("aria-labelledby", "dialog-title");
  dialog.onclose = null;
  dialog.showModal();
  form.querySelector("button").focus();
}
