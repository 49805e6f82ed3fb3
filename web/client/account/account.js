// The account: profile (name, avatar), preferences, security (password, sign out everywhere,
// delete the account), usage (charts, ledger, CSV) and personal API keys.

import { h } from "../ui/dom.js";
import { confirmDialog } from "../ui/dialog.js";
import { applyTheme } from "../ui/theme.js";
import { frame } from "../ui/screen.js";
import { groupModels, priceLabel, providerLabel } from "../lib/models.js";
import { UsageTab } from "./usage.js";
import { ApiKeysTab } from "./apikeys.js";
import { verifyNotice } from "./verify.js";

const TABS = [
  { id: "profile", label: "Profile", href: "/account" },
  { id: "preferences", label: "Preferences", href: "/account/preferences" },
  { id: "security", label: "Security", href: "/account/security" },
  { id: "usage", label: "Usage", href: "/account/usage" },
  { id: "api-keys", label: "API keys", href: "/account/api-keys" },
];

let fieldSeq = 0;

/** A labelled field: h("label", text, control) with a unique id for hints. */
function field(label, control, hint) {
  const id = `f${++fieldSeq}`;
  control.id = id;
  const hintNode = hint ? h("span.muted.hint", { id: `${id}-hint`, text: hint }) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("label", { for: id }, h("span", { text: label }), control, hintNode);
}

function status() {
  return h("p.notice", { role: "status", hidden: true });
}

function tell(node, kind, text) {
  node.className = `notice ${kind}`;
  node.textContent = text;
  node.hidden = false;
}

/** Mark `input` wrong with `text` under it (announced, described), and focus it. */
function invalid(input, text) {
  const label = input.closest("label");
  let note = label.querySelector(".field-error");
  if (!note) {
    note = h("span.field-error", { id: `${input.id}-error`, role: "alert" });
    label.append(note);
  }
  note.textContent = text;
  input.setAttribute("aria-invalid", "true");
  const described = new Set((input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
  described.add(note.id);
  input.setAttribute("aria-describedby", [...described].join(" "));
  input.focus();
}

function clearInvalid(form) {
  for (const note of form.querySelectorAll(".field-error")) note.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

export class AccountScreen {
  constructor(ctx, root) {
    this.ctx = ctx;
    this.root = root;
    this.sub = null;
  }

  async open(tab) {
    const active = TABS.some((t) => t.id === tab) ? tab : "profile";
    const { node, body } = frame("Account", TABS, active);
    this.body = body;
    this.root.replaceChildren(node);
    document.title = `${TABS.find((t) => t.id === active).label} · Account · AI Pasta`;
    if (this.sub && this.sub.destroy) this.sub.destroy();
    this.sub = null;
    if (active === "usage") this.sub = new UsageTab(this.ctx, body);
    else if (active === "api-keys") this.sub = new ApiKeysTab(this.ctx, body);
    if (this.sub) return this.sub.open();
    let profile;
    try {
      profile = (await this.ctx.api("/api/user/profile")).user;
    } catch (err) {
      body.replaceChildren(h("p.notice.error", { role: "alert", text: err.message }));
      return;
    }
    if (!this.body) return;
    if (active === "profile") this.profile(profile);
    else if (active === "preferences") await this.preferences(profile);
    else this.security(profile);
  }

  destroy() {
    if (this.sub && this.sub.destroy) this.sub.destroy();
    this.body = null;
  }

  profile(p) {
    const name = h("input", { name: "name", value: p.name || "", maxlength: "100", required: true, autocomplete: "name" });
    const avatar = h("input", { name: "avatar", type: "url", value: p.avatar || "", maxlength: "2048", placeholder: "https://…" });
    const preview = h("img.avatar-preview", { alt: "Your avatar", width: "64", height: "64", hidden: !p.avatar, src: p.avatar || undefined });
    avatar.addEventListener("input", () => {
      const ok = /^https:\/\/\S+$/.test(avatar.value.trim());
      preview.hidden = !ok;
      if (ok) preview.src = avatar.value.trim();
    });
    const note = status();
    const form = h("form.form-grid", { "aria-label": "Profile" },
      field("Name", name),
      field("Avatar (image address)", avatar, "An https:// link to a picture; leave empty for none."),
      preview,
      h("p.muted", { text: `${p.googleLinked ? "Linked to Google · " : ""}Member since ${new Date(p.createdAt).toLocaleDateString("en-GB")}` }),
      h("div", {}, h("button.primary", { type: "submit", text: "Save profile" })),
      note);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { name: name.value.trim() };
      const url = avatar.value.trim();
      if (url && !/^https:\/\/\S+$/.test(url)) return tell(note, "error", "The avatar must be an https:// address.");
      body.avatar = url;
      try {
        await this.ctx.api("/api/user/profile", { method: "PUT", body });
        tell(note, "success", "Profile saved.");
      } catch (err) {
        tell(note, "error", err.message);
      }
    });
    this.body.replaceChildren(form, this.emailSection(p));
  }

  /** The address: confirmed or not ("resend"), and changing it (a link to the new one). */
  emailSection(p) {
    const state = p.emailVerified
      ? h("span.state-badge.ok", { text: "Confirmed" })
      : h("span.state-badge.warn", { text: "Not confirmed" });
    const section = h("section.card.email-card", { "aria-labelledby": "email-title" },
      h("h2", { id: "email-title", text: "Email address" }),
      h("p", {}, h("strong", { id: "email-current", text: p.email }), " ", state),
      verifyNotice(this.ctx, p, "buy tokens or plans, create API keys and change it"));
    if (!p.emailVerified) return section;
    const next = h("input", { name: "newEmail", type: "email", autocomplete: "email", maxlength: "254", required: true });
    const pw = h("input", { name: "password", type: "password", autocomplete: "current-password", maxlength: "128" });
    const note = status();
    const form = h("form.form-grid", { "aria-label": "Change your email address", novalidate: true },
      field("New email address", next, "We mail a link there; your address changes when you open it."),
      p.hasPassword ? field("Your password", pw) : h("p.muted", { text: "You sign in with Google: sign in again first if it was more than a few minutes ago." }),
      h("div", {}, h("button.ghost", { type: "submit", text: "Change address" })),
      note);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearInvalid(form);
      note.hidden = true;
      if (!next.value.trim() || !next.checkValidity()) return invalid(next, "Enter the new email address.");
      try {
        const data = await this.ctx.api("/api/user/email", { method: "PUT", body: { newEmail: next.value.trim(), password: pw.value } });
        form.reset();
        tell(note, "success", `We sent a link to ${data.pendingEmail}. Your address changes when you open it; until then it stays ${data.email}.`);
      } catch (err) {
        if (err.code === "WRONG_PASSWORD") return invalid(pw, err.message);
        if (err.details.field === "newEmail" || err.status === 409) return invalid(next, err.message);
        tell(note, "error", err.message);
      }
    });
    section.append(form);
    return section;
  }

  async preferences(p) {
    const prefs = p.preferences || {};
    const models = await this.ctx.api("/api/models", { query: { limit: 500 } }).then((d) => d.models || []).catch(() => []);
    const model = h("select", { name: "defaultModel" },
      h("option", { value: "", text: "The server's default" }),
      // One group per model, one option per provider that serves it (free or paid, and what it costs).
      groupModels(models).map((g) => h("optgroup", { label: g.name },
        g.routes.map((m) => h("option", { value: m.modelId, text: `${g.name} · ${providerLabel(m)} · ${m.isFree ? "free" : `paid, ${priceLabel(m)}`}`, selected: (prefs.defaultModels || [])[0] === m.modelId })))));
    const theme = h("select", { name: "theme" },
      [["auto", "Follow the system"], ["light", "Light"], ["dark", "Dark"]].map(([v, t]) => h("option", { value: v, text: t, selected: (prefs.theme || "auto") === v })));
    const temperature = h("input", { name: "temperature", type: "number", min: "0", max: "2", step: "0.1", inputmode: "decimal", value: prefs.temperature ?? "", placeholder: "model default" });
    const maxTokens = h("input", { name: "maxTokens", type: "number", min: "1", step: "1", inputmode: "numeric", value: prefs.maxTokens ?? "", placeholder: "1024" });
    const note = status();
    const form = h("form.form-grid", { "aria-label": "Preferences" },
      field("Default model", model, "Selected for every new chat."),
      field("Theme", theme),
      h("div.form-row", {}, field("Temperature", temperature, "0 to 2"), field("Max tokens", maxTokens, "per answer")),
      h("div", {}, h("button.primary", { type: "submit", text: "Save preferences" })),
      note);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const preferences = { theme: theme.value, defaultModels: model.value ? [model.value] : [] };
      if (temperature.value !== "") preferences.temperature = Number(temperature.value);
      if (maxTokens.value !== "") preferences.maxTokens = Number(maxTokens.value);
      try {
        await this.ctx.api("/api/user/profile", { method: "PUT", body: { preferences } });
        if (theme.value === "auto") localStorage.removeItem("aipasta.theme");
        else localStorage.setItem("aipasta.theme", theme.value);
        applyTheme(document.querySelector("#theme"));
        tell(note, "success", "Preferences saved. New chats start with them.");
      } catch (err) {
        tell(note, "error", err.message);
      }
    });
    this.body.replaceChildren(form);
  }

  security(p) {
    const current = h("input", { type: "password", autocomplete: "current-password", maxlength: "128" });
    const next = h("input", { type: "password", autocomplete: "new-password", minlength: "8", maxlength: "128", required: true });
    const note = status();
    const setting = !p.hasPassword;
    const pwForm = h("form.form-grid", { "aria-labelledby": "pw-title" },
      h("h2", { id: "pw-title", text: setting ? "Set a password" : "Change password" }),
      setting ? h("p.muted", { text: "You sign in with Google. A password lets you sign in with your email too." }) : field("Current password", current),
      field("New password", next, "At least 8 characters and hard to guess (a few unrelated words work well). Other devices are signed out."),
      h("div", {}, h("button.primary", { type: "submit", text: setting ? "Set password" : "Change password" })),
      note);
    pwForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearInvalid(pwForm);
      note.hidden = true;
      if (next.value.length < 8) return invalid(next, "The new password needs at least 8 characters.");
      try {
        const data = await this.ctx.api("/api/user/password", { method: "PUT", body: { currentPassword: current.value, newPassword: next.value } });
        if (data.token) this.ctx.setToken(data.token);
        current.value = next.value = "";
        tell(note, "success", "Password saved. Your other devices are signed out.");
      } catch (err) {
        // A wrong current password is 400 WRONG_PASSWORD: said here; this session stays.
        if (err.code === "WRONG_PASSWORD") return invalid(current, "That is not your current password.");
        if (err.details.field === "newPassword") return invalid(next, err.message.replace(/^newPassword: /, ""));
        tell(note, "error", err.message);
      }
    });
    const everywhere = h("section.card", { "aria-labelledby": "everywhere-title" },
      h("h2", { id: "everywhere-title", text: "Sign out of all devices" }),
      h("p.muted", { text: "Every browser and app signed in to your account is signed out, this one too." }),
      h("button.ghost", { type: "button", text: "Sign out everywhere", onclick: async () => {
        if (!(await confirmDialog("Sign out of all devices?", "You will need to log in again here too.", "Sign out everywhere"))) return;
        try {
          await this.ctx.api("/api/user/logout-all", { method: "POST" });
          this.ctx.logout(false);
        } catch (err) {
          this.ctx.announce(err.message);
        }
      } }));
    const delPw = h("input", { type: "password", autocomplete: "current-password", maxlength: "128" });
    const word = h("input", { autocomplete: "off", maxlength: "10", placeholder: "DELETE" });
    const delNote = status();
    const wallet = this.ctx.getUser() ? this.ctx.getUser().tokens : { balance: 0, purchasedTokens: 0 };
    const del = h("form.danger-zone.form-grid", { "aria-labelledby": "delete-title" },
      h("h2", { id: "delete-title", text: "Delete your account" }),
      h("p", { text: `Your conversations are deleted and you cannot sign in again. Your wallet is closed: its ${Number(wallet.balance).toLocaleString("en-US")} tokens (${Number(wallet.purchasedTokens).toLocaleString("en-US")} of them purchased) are forfeited and not refunded. Payment records are kept, as the law requires. You can sign up again with the same email as a new account.` }),
      p.hasPassword ? field("Password", delPw) : null,
      field("Type DELETE to confirm", word),
      h("div", {}, h("button.danger", { type: "submit", text: "Delete my account" })),
      delNote);
    del.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearInvalid(del);
      if (word.value.trim() !== "DELETE") return invalid(word, "Type DELETE to confirm.");
      try {
        await this.ctx.api("/api/user", { method: "DELETE", body: { password: delPw.value, confirm: "DELETE" } });
        this.ctx.logout(false, {
          title: "Your account is deleted",
          text: `${p.email}: your conversations are deleted and this account can no longer sign in. Its ${Number(wallet.balance).toLocaleString("en-US")} tokens were forfeited (nothing is refunded); payment records are kept for accounting. You can sign up again with the same email as a new account.`,
        });
      } catch (err) {
        if (err.code === "WRONG_PASSWORD") return invalid(delPw, "That is not your password.");
        tell(delNote, "error", err.message);
      }
    });
    this.body.replaceChildren(pwForm, everywhere, del);
  }
}
