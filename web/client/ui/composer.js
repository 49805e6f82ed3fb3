// The message box and what sits under it: max tokens, the estimate of what a send holds, the
// low-balance notice, and the one place a refused send is explained (with the action at hand).

import { $, fmtInt, h } from "./dom.js";
import { adviceFor } from "../lib/errors.js";
import { estimateSend } from "../lib/models.js";
import { count } from "../lib/words.js";

const LABELS = { upgrade: "See plans", lowerMaxTokens: "Lower max tokens", pickModel: "Pick another model", retry: "Retry" };

export class Composer {
  /** ctx: {api, store, picker, attachments, app: {token, user, models, limits}, onSubmit(text), onAction(action, err), onStopAll()} */
  constructor(ctx) {
    Object.assign(this, ctx);
    this.estimateApi = true;
    this.estimate = null;
    this.lastError = null;
    this.balanceAdvice = null;
    this.prompt = $("#prompt");
    const narrow = window.matchMedia("(max-width: 600px)");
    this.fitPlaceholder(narrow.matches);
    narrow.addEventListener("change", (e) => this.fitPlaceholder(e.matches));
    $("#composer").addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.prompt.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    let timer = null;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.refreshEstimate(), 300);
    };
    this.prompt.addEventListener("input", () => {
      later();
      this.autosize();
    });
    $("#max-tokens").addEventListener("input", () => {
      this.boundMaxTokens(false);
      later();
    });
    $("#max-tokens").addEventListener("change", () => this.boundMaxTokens(true));
    $("#stop-all").addEventListener("click", () => this.onStopAll());
    $("#send-error").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-action]");
      if (b) this.onAction(b.dataset.action, this.lastError || {});
    });
    $("#low-balance").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-action]");
      if (b) this.onAction(b.dataset.action, this.balanceAdvice || {});
    });
  }

  /** Back to a fresh form (logout). */
  reset() {
    $("#composer").reset();
    $("#max-tokens").value = "1024";
    this.estimateApi = true;
    this.estimate = null;
    this.lastError = null;
    this.clearError();
    $("#max-tokens-hint").textContent = "";
    for (const id of ["#estimate", "#low-balance"]) $(id).textContent = "";
    $("#low-balance").dataset.text = "";
  }

  text() {
    return this.prompt.value.trim();
  }

  setText(text) {
    this.prompt.value = text;
    this.autosize();
  }

  /** Empty the box if it still holds what was sent; true when it did. */
  sent(text) {
    if (this.text() !== text) return false;
    this.setText("");
    return true;
  }

  focus() {
    this.prompt.focus();
  }

  /** One line when empty; as tall as its text up to 40% of the screen. */
  autosize() {
    const area = this.prompt;
    area.style.height = "";
    if (!area.value) return;
    area.style.height = "auto";
    area.style.height = `${Math.min(area.scrollHeight, window.innerHeight * 0.4)}px`;
  }

  /** Placeholders that fit: the keys and search hints where there is room (a phone has no
   * Shift+Enter). */
  fitPlaceholder(narrow) {
    this.prompt.placeholder = narrow ? "Ask anything…" : "Ask anything… (Enter sends, Shift+Enter for a new line)";
    $("#model-search").placeholder = narrow ? "Add a model…" : "Add a model: name, provider, “images”, “100k+”…";
  }

  /** What a send asks for: the box's whole number, within 1 and the server's limit. */
  maxTokens() {
    const n = Number($("#max-tokens").value);
    const cap = this.app.limits.maxTokensPerRequest;
    return Number.isInteger(n) && n > 0 ? Math.min(n, cap) : Math.min(1024, cap);
  }

  /** Keep the box within the server's limit and say so under it; `fix` puts the bound in
   * the box (when the user leaves it), else only the hint shows while they type. */
  boundMaxTokens(fix) {
    const box = $("#max-tokens");
    const cap = this.app.limits.maxTokensPerRequest;
    const n = Number(box.value);
    const over = box.value !== "" && (!Number.isInteger(n) || n < 1 || n > cap);
    $("#max-tokens-hint").textContent = over ? `Max tokens is a whole number from 1 to ${cap.toLocaleString("en-US")}.` : "";
    if (over && fix) {
      box.value = String(this.maxTokens());
      $("#max-tokens-hint").textContent = `Max tokens set to ${this.maxTokens().toLocaleString("en-US")} (at most ${cap.toLocaleString("en-US")} per answer).`;
    }
  }

  setMaxTokens(n) {
    $("#max-tokens").value = String(n);
  }

  setBusy(busy) {
    $("#send").disabled = busy;
  }

  submit() {
    const text = this.text();
    this.clearError();
    if (!text) return;
    if (!this.picker.selected.length) {
      this.showError({ code: "VALIDATION_ERROR", message: "Pick at least one model.", details: { field: "models" } });
      return;
    }
    this.onSubmit(text);
  }

  /** The one place a refused send is explained (the low-balance notice steps aside). */
  showError(err) {
    const advice = adviceFor(err);
    this.lastError = err;
    $("#low-balance").hidden = true;
    const box = $("#send-error");
    box.replaceChildren(
      h("span.error-text", { text: advice.message }),
      ...advice.actions.map((a) => h("button.ghost.small", { type: "button", "data-action": a, text: LABELS[a] })),
    );
    box.hidden = false;
  }

  clearError() {
    $("#send-error").replaceChildren();
    $("#send-error").hidden = true;
    $("#low-balance").hidden = false;
  }

  /** How many live answers there are: the Stop button says so. */
  showLive(n) {
    $("#stop-all").hidden = n === 0;
    $("#stop-all").textContent = n > 1 ? `Stop all (${n})` : "Stop";
  }

  async refreshEstimate() {
    const app = this.app;
    if (!app.token) return;
    const text = this.text();
    const models = this.picker.selected.map((id) => app.models.find((m) => m.modelId === id)).filter(Boolean);
    if (!models.length) {
      this.estimate = null;
      $("#estimate").textContent = "";
      this.checkBalance();
      return;
    }
    let estimate = null;
    // Over the size limit the send is refused anyway (413, said when sent); estimate locally.
    if (this.estimateApi && text && text.length <= app.limits.maxMessageChars) {
      const body = { message: text, models: models.map((m) => m.modelId), options: { maxTokens: this.maxTokens() } };
      if (this.store.sessionId) body.sessionId = this.store.sessionId;
      if (this.attachments && this.attachments.urls.length) body.images = this.attachments.urls;
      try {
        estimate = await this.api("/api/chat/estimate", { method: "POST", body });
      } catch (err) {
        if (err.status === 404 || err.status === 405) this.estimateApi = false;
      }
    }
    if (!estimate || !Number.isFinite(estimate.total)) {
      estimate = estimateSend(models, [...this.store.history(), { role: "user", content: text }], this.maxTokens());
    }
    this.estimate = estimate;
    $("#estimate").textContent = `Up to ${count(estimate.total, "token")}`;
    $("#estimate").title = "What this send holds from your balance; unused tokens come back when the answer ends.";
    this.checkBalance();
  }

  /** Say so before a send would fail for want of tokens. */
  checkBalance() {
    const box = $("#low-balance");
    const u = this.app.user;
    if (!u || !this.estimate) {
      box.replaceChildren();
      return;
    }
    const balance = u.tokens.balance;
    if (balance < this.estimate.total) {
      const text = `Your balance (${fmtInt(balance)} tokens) is below what this send holds (${fmtInt(this.estimate.total)}).`;
      if (box.dataset.text !== text) {
        box.dataset.text = text;
        box.replaceChildren(h("span", { text }),
          h("button.ghost.small", { type: "button", "data-action": "lowerMaxTokens", text: "Lower max tokens" }),
          h("button.ghost.small", { type: "button", "data-action": "upgrade", text: "See plans" }));
        this.balanceAdvice = { code: "INSUFFICIENT_TOKENS", details: { required: this.estimate.total, available: balance } };
      }
    } else {
      box.dataset.text = "";
      box.replaceChildren();
    }
  }
}
