// The wallet: balance (free, purchased, held), plan, limits and expiry, today's requests, the
// plans and packs on sale with what they buy, buying through Razorpay Checkout, and payments.

import { h } from "../ui/dom.js";
import { checkoutMessage, fmtPrice, isCurrentPlan, isPack, paymentRow, planFacts } from "../lib/money.js";
import { frame, pager, table } from "../ui/screen.js";
import { when } from "../lib/dates.js";
import { buy } from "./checkout.js";
import { count } from "../lib/words.js";
import { verifyNotice } from "../account/verify.js";

const int = (n) => Number(n || 0).toLocaleString("en-US");

export class WalletScreen {
  constructor(ctx, root) {
    this.ctx = ctx;
    this.root = root;
    this.plans = null;
    this.today = null;
    this.payments = { rows: [], page: 1, pages: 1 };
    this.busy = false;
    this.message = null;
  }

  async open(_tab, params) {
    this.highlight = params.get("plan");
    const { node, body } = frame("Wallet", [], null);
    this.body = body;
    this.root.replaceChildren(node);
    document.title = "Wallet · AI Pasta";
    this.render();
    node.querySelector("h1").focus();
    // The profile refreshes the snapshot: whether the address is confirmed may have changed.
    await Promise.all([this.loadPlans(), this.loadToday(), this.loadPayments(1), this.ctx.api("/api/user/profile").catch(() => null)]);
    if (this.highlight && this.body) { // the screen may have been left meanwhile
      const card = this.body.querySelector(`[data-plan="${CSS.escape(this.highlight)}"]`);
      if (card) card.scrollIntoView({ block: "center" });
    }
  }

  destroy() {
    this.body = null;
  }

  userChanged(user) {
    if (!this.body || !this.body.querySelector("#wallet-balance")) return;
    const plan = user && user.subscription ? `${user.subscription.plan} ${user.subscription.expiresAt}` : "";
    if (this.shownPlan !== undefined && plan !== this.shownPlan && !this.busy) this.render(); // the current plan's card changes
    else this.renderBalance();
    this.shownPlan = plan;
    this.renderVerify();
  }

  /** Buying needs a confirmed address: say so above the offers, and the buttons wait. */
  renderVerify() {
    const box = this.body && this.body.querySelector("#wallet-verify");
    if (!box) return;
    const user = this.ctx.getUser();
    const unconfirmed = Boolean(user && !user.emailVerified);
    if (unconfirmed !== (box.dataset.unconfirmed === "1")) box.replaceChildren(verifyNotice(this.ctx, user, "buy tokens or a plan") || "");
    box.dataset.unconfirmed = unconfirmed ? "1" : "0";
    for (const b of this.body.querySelectorAll("button.buy")) b.disabled = unconfirmed || this.busy;
  }

  async loadPlans() {
    try {
      this.plans = (await this.ctx.api("/api/plans")).plans || [];
    } catch (err) {
      this.plans = [];
      this.say("error", err.message);
    }
    this.render();
  }

  async loadToday() {
    try {
      this.today = (await this.ctx.api("/api/user/usage", { query: { days: 7 } })).today;
    } catch {
      this.today = null;
    }
    this.renderBalance();
  }

  async loadPayments(page) {
    try {
      const data = await this.ctx.api("/api/user/payments", { query: { page, limit: 10 } });
      this.payments = { rows: data.payments || [], page, pages: Math.max(1, Math.ceil((data.total || 0) / 10)) };
    } catch (err) {
      this.say("error", err.message);
    }
    this.renderPayments();
  }

  say(kind, text) {
    this.message = { kind, text };
    const box = this.body && this.body.querySelector("#wallet-message");
    if (!box) return;
    box.className = `notice ${kind}`;
    box.textContent = text;
    box.hidden = false;
    this.ctx.announce(text);
  }

  render() {
    if (!this.body) return;
    this.body.replaceChildren(
      h("section.wallet-top", { "aria-label": "Balance and plan" }, h("div", { id: "wallet-balance" }), h("div", { id: "wallet-plan" })),
      h("p.notice", { id: "wallet-message", role: "status", hidden: !this.message, text: this.message ? this.message.text : "" }),
      h("div", { id: "wallet-verify" }),
      this.offers("Plans", "Paid plans set your plan for their days and add their tokens.", (p) => !isPack(p)),
      this.offers("Token packs", "Packs add purchased tokens to your wallet; they never expire.", isPack),
      h("section.payments", { "aria-labelledby": "payments-title" }, h("h2", { id: "payments-title", text: "Payment history" }), h("div", { id: "payments-body" })),
    );
    if (this.message) this.body.querySelector("#wallet-message").className = `notice ${this.message.kind}`;
    this.renderBalance();
    this.renderPayments();
    this.renderVerify();
  }

  renderBalance() {
    const u = this.ctx.getUser();
    const box = this.body && this.body.querySelector("#wallet-balance");
    if (!u || !box) return;
    const t = u.tokens;
    const stat = (label, value, id, hint) => h("div.stat", {}, h("span.stat-label", { text: label }),
      h("span.stat-value", { id, text: int(value) }), hint ? h("span.stat-hint.muted", { text: hint }) : null);
    box.replaceChildren(
      h("h2", { text: "Balance" }),
      h("div.stats", {},
        stat("Spendable", t.balance, "wallet-total", "tokens"),
        stat("Free", t.freeTokens, "wallet-free", "spent first"),
        stat("Purchased", t.purchasedTokens, "wallet-purchased", "never expire"),
        stat("Held", t.reserved, "wallet-held", "for answers in progress")),
    );
    const sub = u.subscription || { plan: "free", limits: {} };
    const limits = sub.limits || {};
    const today = this.today;
    const used = today ? today.requests : null;
    const cap = limits.requestsPerDay || (today && today.limit) || 0;
    const planBox = this.body.querySelector("#wallet-plan");
    planBox.replaceChildren(
      h("h2", { text: "Plan" }),
      h("p.plan-name", {}, h("strong", { id: "wallet-plan-name", text: sub.plan }),
        sub.expiresAt ? h("span.muted", { text: ` · until ${when(sub.expiresAt)}` }) : h("span.muted", { text: sub.plan === "free" ? " · no expiry" : "" })),
      h("ul.limits", {},
        h("li", { text: cap ? `${count(cap, "request")} a day` : "Unlimited requests a day" }),
        h("li", { text: "No monthly token cap: use your tokens whenever you like" }),
        h("li", { text: sub.plan === "free" ? "Free models only" : "Paid models included" })),
      used === null ? null : h("div.today", {},
        h("label", { for: "today-meter", text: cap ? `Today: ${int(used)} of ${count(cap, "request")}` : `Today: ${count(used, "request")}` }),
        cap ? h("meter", { id: "today-meter", min: "0", max: String(cap), value: String(Math.min(used, cap)), high: String(Math.floor(cap * 0.9)) }) : null),
    );
  }

  offers(title, note, which) {
    const id = `offers-${title.toLowerCase().replace(/\W+/g, "-")}`;
    const section = h("section.offers", { "aria-labelledby": id }, h("h2", { id, text: title }), h("p.muted", { text: note }));
    if (this.plans === null) {
      section.append(h("p.muted", { text: "Loading…" }));
      return section;
    }
    const list = this.plans.filter(which);
    if (!list.length) {
      section.append(h("p.muted", { text: "Nothing on sale right now." }));
      return section;
    }
    section.append(h("div.offer-grid", {}, list.map((p) => this.card(p))));
    return section;
  }

  card(p) {
    const recommended = p.id === this.highlight;
    const current = isCurrentPlan(p, this.ctx.getUser());
    const nameId = `plan-${p.id}-name`;
    return h(`article.offer${recommended ? ".recommended" : ""}${current ? ".current" : ""}`, { "data-plan": p.id, "aria-labelledby": nameId },
      current ? h("p.badge-current", { text: "Your plan" }) : recommended ? h("p.badge-recommended", { text: "Suggested for you" }) : null,
      h("h3", { id: nameId, text: p.name }),
      h("p.price", { text: fmtPrice(p.price, p.currency) }),
      h("ul.facts", {}, planFacts(p).map((f) => h("li", { text: f }))),
      p.description ? h("p.muted.desc", { text: p.description }) : null,
      h("button.primary.wide.buy", {
        type: "button",
        "data-buy": p.id,
        "aria-describedby": nameId,
        text: current ? `Add ${p.durationDays} days of ${p.name}` : `Buy ${p.name}`,
        onclick: (e) => this.purchase(p, e.currentTarget),
      }));
  }

  async purchase(plan, button) {
    if (this.busy) return;
    this.busy = true;
    const buttons = [...this.body.querySelectorAll("button.buy")];
    for (const b of buttons) b.disabled = true;
    this.say("info", `Opening Razorpay Checkout for ${plan.name}…`);
    const result = await buy(plan, {
      api: this.ctx.api,
      config: this.ctx.config,
      onFailedAttempt: (reason) => this.say("error", checkoutMessage("failed", { reason })),
    });
    this.busy = false;
    if (!this.body) return;
    this.renderVerify();
    if (result.kind === "paid") {
      this.say("success", checkoutMessage("paid", { plan: plan.name }));
      this.render(); // the plan bought is now the user's
      this.loadToday();
    } else {
      this.say(result.kind === "dismissed" ? "info" : "error", checkoutMessage(result.kind, result));
    }
    this.loadPayments(1);
    if (button && button.isConnected) button.focus();
  }

  renderPayments() {
    const box = this.body && this.body.querySelector("#payments-body");
    if (!box) return;
    const name = (o) => (this.plans || []).find((p) => p.id === o.planId)?.name || o.planId;
    const columns = [
      { label: "Date", value: (o) => when(o.paidAt || o.createdAt) },
      { label: "Item", value: (o) => name(o) },
      { label: "Amount", value: (o) => fmtPrice(o.amount, o.currency) },
      { label: "Tokens", value: (o) => int(o.tokens) },
      { label: "Status", value: (o) => h(`span.status.status-${paymentRow(o).label.replace(/\s+/g, "-")}`, { text: paymentRow(o).label }) },
      // A paid order's receipt: its number, opening the printable receipt (links/receipt.js).
      { label: "Receipt", value: (o) => (paymentRow(o).paid && o.razorpayPaymentId
        ? h("a.receipt-link", { href: `/receipt/${encodeURIComponent(o.id)}`, text: o.receiptNumber || o.receipt, "aria-label": `Receipt ${o.receiptNumber || o.receipt}` })
        : "—") },
      { label: "Refunds", value: (o) => (o.refunds && o.refunds.length
        ? h("ul.refunds", {}, o.refunds.map((r) => h("li", { text: `${fmtPrice(r.amount, o.currency)} (${int(r.tokens)} tokens) on ${when(r.at)}` })))
        : "—") },
    ];
    box.replaceChildren(
      table("Payment history", columns, this.payments.rows, "No payments yet."),
      pager(this.payments.page, this.payments.pages, (p) => this.loadPayments(p), "Payment pages") || "",
    );
  }
}
