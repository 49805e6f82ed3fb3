import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkoutMessage, fmtPrice, isCurrentPlan, paymentRow, planFacts, planForError, screenFromPath, seriesFromDays, toCSV,
} from "../../web/client/lib/money.js";

const PLANS = [
  { id: "tokens-50k", plan: "free", price: 9900, tokens: 50000, durationDays: 0 },
  { id: "tokens-250k", plan: "free", price: 39900, tokens: 250000, durationDays: 0 },
  { id: "pro-monthly", plan: "pro", price: 49900, tokens: 500000, durationDays: 30, unlocksPaidModels: true, limits: { requestsPerDay: 1000 } },
  { id: "enterprise-monthly", plan: "enterprise", price: 299900, tokens: 5000000, durationDays: 30, unlocksPaidModels: true, limits: { requestsPerDay: 10000 } },
];
const freeUser = { subscription: { plan: "free", limits: { requestsPerDay: 100 } } };
const proUser = { subscription: { plan: "pro", limits: { requestsPerDay: 1000 } } };

test("prices are shown from paise", () => {
  assert.equal(fmtPrice(49900, "INR"), "₹499.00");
  assert.equal(fmtPrice(0), "₹0.00");
});

test("a paywall links to the cheapest plan that unlocks the required plan", () => {
  assert.equal(planForError({ code: "PAYWALL", details: { requiredPlan: "pro" } }, PLANS, freeUser).id, "pro-monthly");
  assert.equal(planForError({ code: "PAYWALL", details: { requiredPlan: "enterprise" } }, PLANS, freeUser).id, "enterprise-monthly");
});

test("a daily limit links to a higher plan than the current one", () => {
  assert.equal(planForError({ code: "DAILY_LIMIT", details: { limit: 100 } }, PLANS, freeUser).id, "pro-monthly");
  assert.equal(planForError({ code: "DAILY_LIMIT", details: { limit: 1000 } }, PLANS, proUser).id, "enterprise-monthly");
});

test("too few tokens links to the cheapest pack covering the shortfall", () => {
  const err = (required, available) => ({ code: "INSUFFICIENT_TOKENS", details: { required, available } });
  assert.equal(planForError(err(3000, 100), PLANS, freeUser).id, "tokens-50k");
  assert.equal(planForError(err(100000, 0), PLANS, freeUser).id, "tokens-250k");
  assert.equal(planForError(err(1000000, 0), PLANS, freeUser).id, "enterprise-monthly");
  assert.equal(planForError({ code: "PROVIDER_ERROR" }, PLANS, freeUser), null);
  assert.equal(planForError(err(10, 0), [], freeUser), null);
});

test("plan facts say what a plan buys", () => {
  const facts = planFacts({ ...PLANS[2], buys: [{ name: "a free model", answers: 1234 }] });
  assert.deepEqual(facts, ["500,000 tokens", "30 days of pro", "1,000 requests a day", "paid models included", "≈ 1,234 answers on a free model"]);
  assert.deepEqual(planFacts(PLANS[0]), ["50,000 tokens", "never expire"]);
});

test("payment rows show refunds", () => {
  assert.equal(paymentRow({ status: "paid", amount: 100, tokens: 50 }).label, "paid");
  assert.equal(paymentRow({ status: "created", amount: 100, tokens: 50 }).label, "abandoned — nothing charged");
  assert.equal(paymentRow({ status: "failed", amount: 100, tokens: 50 }).paid, false);
  assert.equal(isCurrentPlan(PLANS[2], { subscription: { plan: "pro" } }), true);
  assert.equal(isCurrentPlan(PLANS[0], { subscription: { plan: "free" } }), false);
  const part = paymentRow({ status: "paid", amount: 100, refundedAmount: 40, tokens: 50, refundedTokens: 20 });
  assert.equal(part.label, "partly refunded");
  assert.equal(part.tokensKept, 30);
  assert.equal(paymentRow({ status: "paid", amount: 100, refundedAmount: 100, tokens: 50, refundedTokens: 50 }).label, "refunded");
  assert.equal(paymentRow({ status: "created", amount: 100 }).paid, false);
});

test("checkout outcomes say whether anything was charged", () => {
  assert.match(checkoutMessage("dismissed"), /Nothing was charged/);
  assert.match(checkoutMessage("failed", { reason: "card declined" }), /card declined.*Nothing was charged/);
  assert.equal(
    checkoutMessage("failed", { reason: "Your payment has been declined by your bank." }),
    "The payment failed: your payment has been declined by your bank. Nothing was charged; you can try again.",
  );
  assert.equal(checkoutMessage("failed"), "The payment failed. Nothing was charged; you can try again.");
  assert.match(checkoutMessage("paid", { plan: "Pro" }), /Pro/);
});

test("CSV quotes and defuses formulas", () => {
  const csv = toCSV([{ label: "a", value: "a" }, { label: "b", value: (r) => r.b * 2 }], [{ a: 'x,"y"', b: 2 }, { a: "=1+1", b: -3 }]);
  assert.equal(csv, 'a,b\r\n"x,""y""",4\r\n\'=1+1,-6\r\n');
});

test("usage series and screen addresses", () => {
  const [xs, tokens] = seriesFromDays([{ date: "2026-01-01", tokens: 5 }, { date: "2026-01-02" }], ["tokens"]);
  assert.deepEqual(xs, [1767225600, 1767312000]);
  assert.deepEqual(tokens, [5, 0]);
  assert.deepEqual(screenFromPath("/wallet"), { screen: "wallet", tab: null });
  assert.deepEqual(screenFromPath("/account/usage"), { screen: "account", tab: "usage" });
  assert.deepEqual(screenFromPath("/admin/users/"), { screen: "admin", tab: "users" });
  assert.equal(screenFromPath("/c/abc"), null);
  assert.equal(screenFromPath("/wallet/../x"), null);
});
