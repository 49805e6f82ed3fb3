// The conversation: turns (the user's message, its edits, and its answers side by side when
// several models answer). Renders structure; answers paint themselves (answer.js). The turns are
// the store's (lib/chat.js); their nodes are kept here, and `sync` redraws only what changed.

import { $, h } from "./dom.js";
import { mount, showAltNav } from "./answer.js";

export class Conversation {
  constructor({ answers, onAnswerAction, onEdit }) {
    this.answers = answers; // Map id -> answer
    this.onAnswerAction = onAnswerAction;
    this.onEdit = onEdit;
    this.nodes = new WeakMap(); // turn -> node
    this.turns = new WeakMap(); // node -> turn
    this.drawn = new WeakMap(); // turn -> what its node shows (a key)
    this.box = $("#messages");
    this.box.addEventListener("click", (e) => this.onClick(e));
  }

  clear() {
    this.box.replaceChildren();
  }

  renderAll(turns) {
    this.box.replaceChildren(...turns.map((t) => this.turnNode(t)));
  }

  /** Show `turns` in order, keeping the nodes of turns already shown as they were (a long
   * history is not redrawn when a turn is added or an answer switched). */
  sync(turns) {
    const nodes = turns.map((t) => {
      const node = this.nodes.get(t);
      if (!node) return this.turnNode(t);
      if (this.drawn.get(t) !== keyOf(t)) this.redraw(t, node);
      return node;
    });
    const wanted = new Set(nodes);
    for (const child of [...this.box.children]) if (!wanted.has(child)) child.remove();
    nodes.forEach((node, i) => {
      if (this.box.children[i] !== node) this.box.insertBefore(node, this.box.children[i] || null);
    });
  }

  turnNode(turn) {
    const node = h("div.turn");
    this.nodes.set(turn, node);
    this.turns.set(node, turn);
    this.redraw(turn, node);
    return node;
  }

  redraw(turn, node) {
    const user = turn.text ? this.userNode(turn) : null;
    node.replaceChildren(...[user, h("div.answers")].filter(Boolean));
    this.renderGroups(turn);
  }

  appendTurn(turn) {
    this.box.append(this.turnNode(turn));
  }

  nodeOf(turn) {
    return this.nodes.get(turn) || null;
  }

  turnOf(node) {
    return this.turns.get(node) || null;
  }

  removeTurn(turn) {
    const node = this.nodes.get(turn);
    if (node) node.remove();
  }

  userNode(turn) {
    const count = (turn.siblings || []).length;
    const nav = count > 1
      ? h("span.alt-nav.edit-nav", { role: "group", "aria-label": "Versions of your message" },
        h("button.ghost.small", { type: "button", "data-act": "edit-prev", "aria-label": "Previous version", disabled: turn.position <= 0, text: "‹" }),
        h("span.alt-pos", { text: `${turn.position + 1} / ${count}` }),
        h("button.ghost.small", { type: "button", "data-act": "edit-next", "aria-label": "Next version", disabled: turn.position >= count - 1, text: "›" }))
      : null;
    const images = (turn.images || []).map((src, i) => h("img", { src, alt: `Your image ${i + 1}` }));
    return h("div.user-turn", {},
      images.length ? h("div.user-images", {}, ...images) : null,
      h("div.user-msg", { text: turn.text }),
      h("div.user-actions", {},
        nav,
        h("button.ghost.small", { type: "button", "data-act": "copy-user", text: "Copy", "aria-label": "Copy your message" }),
        h("button.ghost.small", { type: "button", "data-act": "edit", text: "Edit", "aria-label": "Edit your message" })));
  }

  renderGroups(turn) {
    const node = this.nodes.get(turn);
    if (!node) return;
    this.drawn.set(turn, keyOf(turn));
    node.classList.toggle("sending", Boolean(turn.sending));
    const box = node.querySelector(".answers");
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
    if (act === "edit" || act === "copy-user" || act === "edit-prev" || act === "edit-next") {
      this.onEdit(act, turnNode, button);
      return;
    }
    const card = button.closest(".answer");
    if (card && act) this.onAnswerAction(act, card.dataset.messageId, button);
  }

  /** An inline editor over the user's message. `onSave(text)` answers true (sent: the editor
   * goes), a string (an error to show), or anything else (the editor stays as it is). */
  edit(turnNode, text, onSave) {
    const userTurn = turnNode.querySelector(".user-turn");
    const area = h("textarea.edit-area", { "aria-label": "Edit your message", rows: "3" });
    area.value = text;
    const error = h("p.error", { role: "alert" });
    const save = h("button.primary", { type: "submit", text: "Send edited" });
    const editor = h("form.editor", {},
      area, error,
      h("p.muted.small", { text: "Sends a new version from here; the original and its answers stay one click away." }),
      h("div.editor-actions", {},
        h("button.ghost", { type: "button", text: "Cancel", onclick: () => editor.replaceWith(userTurn) }),
        save));
    editor.addEventListener("submit", async (e) => {
      e.preventDefault();
      save.disabled = true;
      const result = await onSave(area.value.trim());
      save.disabled = false;
      if (result === true) editor.replaceWith(userTurn);
      else if (typeof result === "string") error.textContent = result;
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

/** What a turn's node shows: redrawn when this changes. */
function keyOf(turn) {
  const groups = turn.groups.map((g) => `${g.modelId}:${g.answers.join(",")}@${g.shown}`).join("|");
  return `${turn.userMessageId}|${turn.text}|${(turn.images || []).length}|${turn.position}/${(turn.siblings || []).length}|${turn.sending ? 1 : 0}|${groups}`;
}
