// Personal API keys (for the OpenAI-compatible /v1 API): create with a name, token caps and
// models; the secret is shown once; last use and spend; revoke.

import { copyText, h } from "../ui/dom.js";
import { confirmDialog } from "../ui/dialog.js";
import { table } from "../ui/screen.js";
import { when } from "../lib/dates.js";
import { count } from "../lib/words.js";
import { verifyNotice } from "./verify.js";

const int = (n) => Number(n || 0).toLocaleString("en-US");

export class ApiKeysTab {
  constructor(ctx, body) {
    this.ctx = ctx;
    this.body = body;
  }

  async open() {
    const name = h("input", { id: "key-name", maxlength: "100", required: true, placeholder: "e.g. my script" });
    const daily = h("input", { id: "key-daily", type: "number", min: "1", inputmode: "numeric", placeholder: "no cap" });
    const monthly = h("input", { id: "key-monthly", type: "number", min: "1", inputmode: "numeric", placeholder: "no cap" });
    const models = h("input", { id: "key-models", placeholder: "all models", "aria-describedby": "key-models-hint" });
    this.note = h("p.notice", { role: "status", hidden: true });
    this.secretBox = h("div", { id: "key-secret" });
    const form = h("form.form-grid", { "aria-labelledby": "new-key-title" },
      h("h2", { id: "new-key-title", text: "Create a key" }),
      h("label", { for: "key-name" }, "Name", name),
      h("div.form-row", {},
        h("label", { for: "key-daily" }, "Daily token cap", daily),
        h("label", { for: "key-monthly" }, "Monthly token cap", monthly)),
      h("label", { for: "key-models" }, "Models (comma-separated ids)", models,
        h("span.muted.hint", { id: "key-models-hint", text: "Leave empty to allow every model your plan includes." })),
      h("div", {}, h("button.primary", { type: "submit", text: "Create key" })),
      this.note);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { name: name.value.trim(), models: models.value.split(",").map((s) => s.trim()).filter(Boolean) };
      if (daily.value) body.dailyTokenCap = Number(daily.value);
      if (monthly.value) body.monthlyTokenCap = Number(monthly.value);
      try {
        const data = await this.ctx.api("/api/user/api-keys", { method: "POST", body });
        form.reset();
        this.showSecret(data.key, data.secret);
        await this.refresh();
      } catch (err) {
        this.tell("error", err.message);
      }
    });
    this.list = h("div", { id: "keys-list" });
    // Creating a key needs a confirmed address (the profile read here is fresh).
    const me = await this.ctx.api("/api/user/profile").then((d) => d.user).catch(() => this.ctx.getUser());
    const confirm = verifyNotice(this.ctx, me, "create API keys");
    if (confirm) for (const control of form.querySelectorAll("input, button")) control.disabled = true;
    this.body.replaceChildren(
      h("p.muted", { text: "Keys let programs use the OpenAI-compatible API (/v1) with your wallet. Treat a key like a password." }),
      confirm, this.secretBox, form, h("h2", { text: "Your keys" }), this.list);
    await this.refresh();
  }

  tell(kind, text) {
    this.note.className = `notice ${kind}`;
    this.note.textContent = text;
    this.note.hidden = false;
  }

  showSecret(key, secret) {
    const copy = h("button.ghost.small", { type: "button", text: "Copy", onclick: (e) => copyText(secret, e.currentTarget) });
    this.secretBox.replaceChildren(h("div.notice.success", { role: "status" },
      h("p", {}, h("strong", { text: `Key “${key.name}” created. ` }), "Copy it now: it is shown only once."),
      h("p.secret", { text: secret }), copy,
      h("button.ghost.small", { type: "button", text: "Done", onclick: () => this.secretBox.replaceChildren() })));
    copy.focus();
  }

  async refresh() {
    let keys;
    try {
      keys = (await this.ctx.api("/api/user/api-keys?revoked=true")).keys || [];
    } catch (err) {
      this.list.replaceChildren(h("p.muted", { text: err.status === 404 ? "API keys are not available on this server." : err.message }));
      return;
    }
    this.list.replaceChildren(table("Your API keys", [
      { label: "Name", value: (k) => k.name },
      { label: "Key", value: (k) => h("code", { text: `${k.prefix}…` }) },
      { label: "Models", value: (k) => (k.models.length ? k.models.join(", ") : "all") },
      { label: "Caps", value: (k) => [k.dailyTokenCap ? `${int(k.dailyTokenCap)}/day` : "", k.monthlyTokenCap ? `${int(k.monthlyTokenCap)}/month` : ""].filter(Boolean).join(" · ") || "none" },
      { label: "Spent", value: (k) => `${count(k.spentTokens, "token")} · ${count(k.requests, "request")}` },
      { label: "Last used", value: (k) => (k.lastUsedAt ? when(k.lastUsedAt) : "never") },
      { label: "", value: (k) => (k.revokedAt ? h("span.muted", { text: `revoked ${when(k.revokedAt)}` })
        : h("button.ghost.small", { type: "button", text: `Revoke ${k.name}`, onclick: () => this.revoke(k) })) },
    ], keys, "No keys yet."));
  }

  async revoke(k) {
    if (!(await confirmDialog(`Revoke “${k.name}”?`, "Programs using it stop working at once.", "Revoke"))) return;
    try {
      await this.ctx.api(`/api/user/api-keys/${encodeURIComponent(k.id)}`, { method: "DELETE" });
      this.ctx.announce("Key revoked");
      await this.refresh();
    } catch (err) {
      this.tell("error", err.message);
    }
  }
}
