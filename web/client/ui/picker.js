// The model picker: a combobox over the catalog (provider, free/paid badge, price, context
// length), arrows / Enter / Esc, "no matches", and the server's limit on models per send.

import { $, h } from "./dom.js";
import { displayName, filterModels, formatContext, priceLabel, providerOf } from "../lib/models.js";
import { announce } from "./announcer.js";

const SHOWN = 60;

export class Picker {
  constructor({ onChange, onShown = () => {} }) {
    this.onChange = onChange;
    this.onShown = onShown; // after every change of the shown selection, quiet ones too
    this.models = [];
    this.byId = new Map();
    this.selected = [];
    this.max = 5;
    this.active = -1;
    this.hits = [];
    this.input = $("#model-search");
    this.list = $("#model-list");
    this.input.addEventListener("input", () => this.open());
    this.input.addEventListener("focus", () => this.open());
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.list.addEventListener("mousedown", (e) => e.preventDefault()); // keep focus in the input
    this.list.addEventListener("click", (e) => {
      const li = e.target.closest("li[data-model-id]");
      if (li) this.toggle(li.dataset.modelId);
    });
    $("#model-chips").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-remove]");
      if (b) this.toggle(b.dataset.remove);
    });
  }

  setModels(models, max) {
    this.models = models;
    this.byId = new Map(models.map((m) => [m.modelId, m]));
    if (max) this.max = max;
    this.renderChips();
  }

  setSelected(ids, { quiet = false } = {}) {
    const known = ids.filter((id, i) => ids.indexOf(id) === i && (this.byId.size === 0 || this.byId.has(id)));
    this.selected = known.slice(0, this.max);
    this.renderChips();
    if (!quiet) this.onChange(this.selected);
  }

  toggle(modelId) {
    if (this.selected.includes(modelId)) {
      this.selected = this.selected.filter((id) => id !== modelId);
    } else if (this.selected.length >= this.max) {
      announce(`At most ${this.max} models at once. Remove one first.`);
      $("#model-limit").classList.add("over");
      setTimeout(() => $("#model-limit").classList.remove("over"), 1500);
      return;
    } else {
      this.selected = [...this.selected, modelId];
      announce(`${this.label(modelId)} added`);
    }
    this.renderChips();
    if (!this.list.hidden) this.renderList();
    this.onChange(this.selected);
  }

  label(modelId) {
    const m = this.byId.get(modelId);
    return m ? `${displayName(m)} (${providerOf(m)})` : modelId;
  }

  renderChips() {
    const chips = this.selected.map((id) => {
      const m = this.byId.get(id);
      return h("span.chip", { "data-model-id": id },
        h("span.chip-name", { text: id }),
        m ? h(`span.badge.${m.isFree ? "free" : "paid"}`, { text: m.isFree ? "free" : "paid" }) : null,
        h("button.chip-remove", { type: "button", "data-remove": id, "aria-label": `Remove ${id}`, text: "×" }));
    });
    $("#model-chips").replaceChildren(...chips);
    $("#model-limit").textContent = `${this.selected.length} of ${this.max} models`;
    this.onShown(this.selected.map((id) => this.byId.get(id)));
  }

  /** Whether every picked model's catalog entry says it takes images. */
  takesImages() {
    return this.selected.length > 0 && this.selected.every((id) => this.byId.get(id)?.capabilities?.images);
  }

  open() {
    this.active = this.input.value ? 0 : -1;
    this.renderList();
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close() {
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  renderList() {
    this.hits = filterModels(this.models, this.input.value).slice(0, SHOWN);
    if (!this.hits.length) {
      this.list.replaceChildren(h("li.no-match", { role: "option", "aria-disabled": "true", "aria-selected": "false", text: this.models.length ? "No matches" : "Loading models…" }));
      return;
    }
    this.list.replaceChildren(...this.hits.map((m, i) => {
      const chosen = this.selected.includes(m.modelId);
      return h("li.option", { id: `opt-${i}`, role: "option", "aria-selected": String(chosen), "data-model-id": m.modelId, class: `option${i === this.active ? " active" : ""}${chosen ? " chosen" : ""}` },
        h("span.opt-main", {},
          h("span.opt-name", { text: displayName(m) }),
          h("span.opt-id", { text: m.modelId })),
        h("span.opt-meta", {},
          h("span.provider", { text: providerOf(m) }),
          h(`span.badge.${m.isFree ? "free" : "paid"}`, { text: m.isFree ? "free" : "paid" }),
          h("span.price", { text: priceLabel(m) }),
          h("span.ctx", { text: formatContext(m.contextWindow) })));
    }));
    this.markActive();
  }

  markActive() {
    for (const li of this.list.querySelectorAll("li.option")) li.classList.toggle("active", li.id === `opt-${this.active}`);
    if (this.active >= 0 && this.hits.length) {
      this.input.setAttribute("aria-activedescendant", `opt-${this.active}`);
      const li = $(`#opt-${this.active}`, this.list);
      if (li) li.scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  onKey(e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (this.list.hidden) this.open();
      const n = this.hits.length;
      if (!n) return;
      this.active = e.key === "ArrowDown" ? (this.active + 1) % n : (this.active - 1 + n) % n;
      this.markActive();
    } else if (e.key === "Enter") {
      e.preventDefault(); // never submits the message form
      const m = this.hits[this.active];
      if (!this.list.hidden && m) {
        this.toggle(m.modelId);
        this.input.value = "";
        this.open();
      }
    } else if (e.key === "Escape") {
      if (!this.list.hidden) {
        e.preventDefault();
        e.stopPropagation();
        this.close();
      }
    }
  }

  focus() {
    this.input.focus();
    this.open();
  }
}
