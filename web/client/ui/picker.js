// The model picker: a combobox over the catalog, one entry per model with its routes (the
// providers that serve it: provider, free/paid, price, speed, and a lock naming the plan a
// paid route needs); search by name, provider, capability or context ("images", "tools",
// "100k+"), "Free only"; arrows / Enter / Esc, "no matches", and the server's limit on models
// per send.

import { $, h } from "./dom.js";
import { capabilityWords, filterModels, formatContext, groupModels, lockOf, modelName, priceLabel, providerLabel, speedLabel } from "../lib/models.js";
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
    this.user = null;
    this.plans = [];
    this.speeds = {};
    this.input = $("#model-search");
    this.list = $("#model-list");
    this.freeOnly = $("#model-free");
    this.input.addEventListener("input", () => this.open());
    this.input.addEventListener("focus", () => this.open());
    // Close when focus has left for good (it may come back within the delay: a click on
    // "Free only", then typing again, must not close the list just opened).
    this.input.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== this.input) this.close();
    }, 150));
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.freeOnly.addEventListener("change", () => {
      if (!this.list.hidden) this.renderList();
    });
    this.list.addEventListener("mousedown", (e) => e.preventDefault()); // keep focus in the input
    this.list.addEventListener("click", (e) => {
      const li = e.target.closest("li[data-model-id]");
      if (!li) return;
      this.toggle(li.dataset.modelId);
      this.input.value = "";
      this.renderList();
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

  /** Who is choosing (their plan decides the locks), what is on sale, how fast models were. */
  setContext({ user, plans, speeds }) {
    // A new snapshot comes with every answer; only a change of plan changes the locks (and a
    // redraw would ask for a new estimate, whose answer carries a snapshot again).
    const planOf = (u) => (u && u.subscription ? u.subscription.plan : null);
    if (user !== undefined && plans === undefined && speeds === undefined && planOf(user) === planOf(this.user) && (user === null) === (this.user === null)) {
      this.user = user;
      return;
    }
    if (user !== undefined) this.user = user;
    if (plans !== undefined) this.plans = plans || [];
    if (speeds !== undefined) this.speeds = speeds || {};
    this.renderChips();
    if (!this.list.hidden) this.renderList();
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
      const lock = this.lockOf(modelId);
      announce(lock ? `${this.label(modelId)} added. It needs the ${lock.plan} plan.` : `${this.label(modelId)} added`);
    }
    this.renderChips();
    if (!this.list.hidden) this.renderList();
    this.onChange(this.selected);
  }

  label(modelId) {
    const m = this.byId.get(modelId);
    return m ? `${modelName(m)} (${providerLabel(m)})` : modelId;
  }

  lockOf(modelId) {
    const m = this.byId.get(modelId);
    return m ? lockOf(m, this.user, this.plans) : null;
  }

  /** The selected models the user's plan lacks: `[{modelId, plan, planId}]`. */
  locked() {
    return this.selected.map((id) => ({ modelId: id, ...this.lockOf(id) })).filter((l) => l.plan);
  }

  renderChips() {
    const chips = this.selected.map((id) => {
      const m = this.byId.get(id);
      const lock = this.lockOf(id);
      return h("span.chip", { "data-model-id": id, title: id },
        h("span.chip-name", { text: m ? modelName(m) : id }),
        m ? h("span.chip-provider", { text: providerLabel(m) }) : null,
        m ? badge(m, lock) : null,
        h("button.chip-remove", { type: "button", "data-remove": id, "aria-label": `Remove ${this.label(id)}`, text: "×" }));
    });
    $("#model-chips").replaceChildren(...chips);
    $("#model-limit").textContent = `${this.selected.length} of ${this.max} models`;
    this.renderLockNote();
    this.onShown(this.selected.map((id) => this.byId.get(id)));
  }

  /** Whether every picked model's catalog entry says it takes images. */
  takesImages() {
    return this.selected.length > 0 && this.selected.every((id) => this.byId.get(id)?.capabilities?.images);
  }

  /** Say before the send that a chosen model needs another plan (the send would be refused). */
  renderLockNote() {
    const note = $("#model-locked");
    const locked = this.locked();
    if (!locked.length) {
      note.hidden = true;
      note.replaceChildren();
      return;
    }
    const names = locked.map((l) => this.label(l.modelId)).join(", ");
    const plan = locked[0].plan;
    note.replaceChildren(
      h("span", { text: `${names} ${locked.length > 1 ? "need" : "needs"} the ${plan} plan; your plan has free models only. ` }),
      h("a", { href: locked[0].planId ? `/wallet?plan=${encodeURIComponent(locked[0].planId)}` : "/wallet", text: `See ${plan}` }));
    note.hidden = false;
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
    const matching = filterModels(this.models, this.input.value, { freeOnly: this.freeOnly.checked });
    const groups = groupModels(matching);
    this.hits = [];
    const items = [];
    for (const [gi, g] of groups.entries()) {
      if (this.hits.length >= SHOWN) break;
      const routes = g.routes.slice(0, SHOWN - this.hits.length);
      const first = routes[0];
      const caps = capabilityWords(first);
      const headId = `grp-${gi}`;
      items.push(h("li.group", { role: "group", "aria-labelledby": headId },
        h("div.group-head", { id: headId },
          h("span.group-name", { text: g.name }),
          h("span.group-meta", { text: [formatContext(first.contextWindow), ...caps].filter(Boolean).join(" · ") }),
          g.routes.length > 1 ? h("span.group-routes", { text: `${g.routes.length} providers` }) : null),
        h("ul.routes", { role: "none" }, routes.map((m) => this.routeItem(m)))));
    }
    if (!this.hits.length) {
      const empty = this.models.length ? (this.freeOnly.checked ? "No free model matches" : "No matches") : "Loading models…";
      this.list.replaceChildren(h("li.no-match", { role: "option", "aria-disabled": "true", "aria-selected": "false", text: empty }));
      return;
    }
    this.list.replaceChildren(...items);
    this.markActive();
  }

  routeItem(m) {
    const i = this.hits.length;
    this.hits.push(m);
    const chosen = this.selected.includes(m.modelId);
    const lock = lockOf(m, this.user, this.plans);
    const speed = speedLabel(this.speeds[m.modelId]);
    return h("li.option", { id: `opt-${i}`, role: "option", "aria-selected": String(chosen), "data-model-id": m.modelId, class: `option${i === this.active ? " active" : ""}${chosen ? " chosen" : ""}${lock ? " locked" : ""}` },
      h("span.opt-main", {},
        h("span.opt-name", { text: providerLabel(m) }),
        h("span.opt-id", { text: m.modelId })),
      h("span.opt-meta", {},
        badge(m, lock),
        h("span.price", { text: priceLabel(m) }),
        speed ? h("span.speed", { text: speed }) : null));
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

/** free, paid, or locked with the plan that unlocks it. */
function badge(m, lock) {
  if (lock) return h("span.badge.locked", { text: `needs ${lock.plan}`, title: `Paid model: needs the ${lock.plan} plan` });
  return h(`span.badge.${m.isFree ? "free" : "paid"}`, { text: m.isFree ? "free" : "paid" });
}
