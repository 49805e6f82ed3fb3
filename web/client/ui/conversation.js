// The conversation: turns (the user's message and its answers, side by side when several
// models answer). Renders structure; answers paint themselves (answer.js).

import { $, h } from "./dom.js";
import { mount, showAltNav } from "./answer.js";

export class Conversation {
  constructor({ answers, onAnswerAction, onEdit }) {
    this.answers = answers; // Map id -> answer
    this.onAnswerAction = onAnswerAction;
    this.onEdit = onEdit;
    this.box = $("#messages");
    this.box.addEventListener("click", (e) => this.onClick(e));
  }

  clear() {
    this.box.replaceChildren();
  }

  renderAll(turns) {
    this.box.replaceChildren(...turns.map((t) => this.turnNode(t)));
  }

  turnNode(turn) {
    const node = h("div.turn");
    turn.node = node;
    if (turn.text) node.append(this.userNode(turn));
    node.append(h("div.answers"));
    this.renderGroups(turn);
    return node;
  }

  appendTurn(turn) {
    this.box.append(this.turnNode(turn));
  }

  userNode(turn) {
    const images = (turn.images || []).map((src, i) => h("img", { src, alt: `Your image ${i + 1}` }));
    return h("div.user-turn", {},
      images.length ? h("div.user-images", {}, ...images) : null,
      h("div.user-msg", { text: turn.text }),
      h("div.user-actions", {},
        h("button.ghost.small", { type: "button", "data-act": "copy-user", text: "Copy", "aria-label": "Copy your message" }),
        h("button.ghost.small", { type: "button", "data-act": "edit", text: "Edit", "aria-label": "Edit and resend your message" })));
  }

  renderGroups(turn) {
    const box = turn.node.querySelector(".answers");
    const compare = turn.groups.length > 1;
    box.classList.toggle("compare", compare);
    box.style.setProperty("--cols", String(Math.min(turn.groups.length, 3)));
    box.replaceChildren(...turn.groups.map((g) => {
      const answer = this.answers.get(g.answers[g.shown]);
      const card = mount(answer, { compare });
      card.dataset.group = g.modelId;
      showAltNav(answer, g.shown + 1, g.answers.length);
      return card;
    }));
  }

  onClick(e) {
    const button = e.target.closest("button");
    if (!button) return;
    if (button.dataset.copy === "code") {
      this.onAnswerAction("copy-code", null, button);
      return;
    }
    const act = button.dataset.act;
    const turnNode = button.closest(".turn");
    if (act === "edit" || act === "copy-user") {
      this.onEdit(act, turnNode, button);
      return;
    }
    const card = button.closest(".answer");
    if (card && act) this.onAnswerAction(act, card.dataset.messageId, button);
  }

  /** An inline editor over the user's message; resolves the new text or null (cancel). */
  edit(turnNode, text, onSave) {
    const userTurn = turnNode.querySelector(".user-turn");
    const area = h("textarea.edit-area", { "aria-label": "Edit your message", rows: "3" });
    area.value = text;
    const error = h("p.error", { role: "alert" });
    const editor = h("form.editor", {},
      area, error,
      h("div.editor-actions", {},
        h("button.ghost", { type: "button", text: "Cancel", onclick: () => editor.replaceWith(userTurn) }),
        h("button.primary", { type: "submit", text: "Send edited" })));
    editor.addEventListener("submit", async (e) => {
      e.preventDefault();
      const result = await onSave(area.value.trim());
      if (result === true) editor.replaceWith(userTurn);
      else if (result) error.textContent = result;
    });
    area.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        editor.requestSubmit();
      } else if (e.key === "Escape") {
        e.stopPropagation();
        editor.replaceWith(userTurn);
      }
    });
    userTurn.replaceWith(editor);
    area.focus();
  }
}
