// Money and wallet helpers, pure: prices, which plan answers a refusal, payment rows, checkout
// outcomes, CSV, usage series and the addresses of the wallet, account and admin screens.

import { count } from "./words.js";

/** Paise (or cents) to a price: 49900, "INR" -> "₹499.00". */
export function fmtPrice(minor, currency = "INR") {
  const n = Number(minor || 0) / 100;
  try {
    return n.toLocaleString("en-IN", { style: "currency", currency });
  } catch {
    return `${n.toFixed(2)} ${currency}`;
  }
}

export const isPack = (p) => !p.durationDays;

const RANK = { free: 0, pro: 1, enterprise: 2 };

function cheapest(list) {
  return list.reduce((best, p) => (!best || p.price < best.price ? p : best), null);
}

/** The plan a refused send should link to: the required plan for PAYWALL, a plan with more
 * requests a day for DAILY_LIMIT, a pack (or plan) that covers the shortfall for
 * INSUFFICIENT_TOKENS. Null when nothing on sale helps. */
export function planForError(error, plans, user) {
  const code = (error && error.code) || "";
  const details = (error && error.details) || {};
  const current = (user && user.subscription && user.subscription.plan) || "free";
  const onSale = (plans || []).filter((p) => p.isActive !== false);
  if (code === "PAYWALL") {
    const need = RANK[details.requiredPlan] ?? 1;
    return cheapest(onSale.filter((p) => !isPack(p) && (RANK[p.plan] ?? 0) >= need && p.unlocksPaidModels !== false));
  }
  if (code === "DAILY_LIMIT") {
    const limit = Number(details.limit) || (user && user.subscription && user.subscription.limits.requestsPerDay) || 0;
    return cheapest(onSale.filter((p) => !isPack(p) && (RANK[p.plan] ?? 0) > (RANK[current] ?? 0)
      && (!p.limits || !p.limits.requestsPerDay || p.limits.requestsPerDay > limit)));
  }
  if (code === "INSUFFICIENT_TOKENS") {
    const short = Math.max(1, Number(details.required || 0) - Number(details.available || 0));
    const packs = onSale.filter(isPack);
    const enough = cheapest(packs.filter((p) => p.tokens >= short));
    if (enough) return enough;
    return cheapest(onSale.filter((p) => p.tokens >= short)) || packs.reduce((a, p) => (!a || p.tokens > a.tokens ? p : a), null);
  }
  return null;
}

/** What a plan's card says it gives: tokens, days, requests a day, paid models, and what the
 * tokens buy (`buys`, when the server says). */
export function planFacts(p) {
  const facts = [count(p.tokens, "token")];
  if (isPack(p)) facts.push("never expire");
  else facts.push(`${p.durationDays} days of ${p.plan}`);
  if (!isPack(p) && p.limits) {
    facts.push(p.limits.requestsPerDay ? `${count(p.limits.requestsPerDay, "request")} a day` : "unlimited requests a day");
  }
  if (p.unlocksPaidModels) facts.push("paid models included");
  for (const b of p.buys || []) facts.push(`≈ ${count(b.answers, "answer")} on ${b.name}`);
  return facts;
}

/** A payment history row: its label, and the tokens still credited after refunds. */
export function paymentRow(o) {
  const refunded = Number(o.refundedAmount || 0);
  let status = o.status || "created";
  if (refunded > 0 && refunded >= o.amount) status = "refunded";
  else if (refunded > 0) status = "partly refunded";
  // A Checkout closed before paying leaves its order "created": nothing was ever charged.
  const labels = { created: "abandoned — nothing charged", attempted: "failed — nothing charged", paid: "paid", captured: "paid", failed: "failed — nothing charged" };
  return {
    label: labels[status] || status,
    paid: ["paid", "captured", "refunded", "partly refunded"].includes(status),
    refunded,
    tokensKept: Math.max(0, Number(o.tokens || 0) - Number(o.refundedTokens || 0)),
  };
}

/** The message a checkout's end leaves. `kind`: "paid" | "failed" | "dismissed" | "error". */
export function checkoutMessage(kind, info = {}) {
  if (kind === "paid") return `Payment received: ${info.plan || "your purchase"} is in your wallet.`;
  if (kind === "failed") {
    // Razorpay's reason is a sentence of its own ("Your payment has been declined by your bank.").
    const reason = String(info.reason || "").trim().replace(/[.!]+$/, "");
    return `The payment failed${reason ? `: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}` : ""}. Nothing was charged; you can try again.`;
  }
  if (kind === "dismissed") return "Checkout closed. Nothing was charged.";
  return info.message || "The purchase could not be completed. Nothing was charged.";
}

/** Rows to CSV (RFC 4180 quoting; cells that a spreadsheet would run as formulas are defused). */
export function toCSV(columns, rows) {
  const cell = (v) => {
    let s = v === null || v === undefined ? "" : String(v);
    if (/^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s)) s = `'${s}`;
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [columns.map((c) => cell(c.label)).join(",")];
  for (const r of rows) lines.push(columns.map((c) => cell(typeof c.value === "function" ? c.value(r) : r[c.value])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/** uPlot's data from `byDay` rows: [[unix seconds], [values of each field]]. */
export function seriesFromDays(rows, fields) {
  const xs = rows.map((r) => Date.parse(`${r.date}T00:00:00Z`) / 1000);
  return [xs, ...fields.map((f) => rows.map((r) => Number(r[f] || 0)))];
}

/** The screen an address opens: `/wallet`, `/account[/tab]`, `/admin[/tab]`; null for chat. */
export function screenFromPath(pathname) {
  const m = /^\/(wallet|account|admin)(?:\/([a-z-]{1,30}))?\/?$/.exec(pathname);
  return m ? { screen: m[1], tab: m[2] || null } : null;
}

/** Whether the user's subscription is this plan (its card says "Your plan"). */
export function isCurrentPlan(plan, user) {
  const sub = user && user.subscription;
  return Boolean(sub && plan.durationDays && sub.plan === plan.plan && sub.plan !== "free");
}
