import { test } from "node:test";
import assert from "node:assert/strict";
import { auditChanges, auditReason, describeAudit } from "../../web/client/lib/audit.js";

const admin = { id: "a1", email: "boss@example.com" };
const ann = { type: "user", id: "u1", email: "ann@example.com", name: "Ann" };

test("who did what to whom, in words", () => {
  const grant = { admin, action: "tokens.grant", target: ann, before: { balance: 10000, purchasedTokens: 0 }, after: { balance: 15000, purchasedTokens: 5000, amount: 5000, reason: "thanks" } };
  assert.equal(describeAudit(grant), "boss@example.com granted 5,000 tokens to Ann (ann@example.com)");
  assert.equal(auditReason(grant), "thanks");
  assert.equal(auditChanges(grant), "balance 10,000 → 15,000; purchased tokens 0 → 5,000");
  assert.equal(describeAudit({ admin, action: "tokens.grant", target: ann, after: { amount: 1 } }), "boss@example.com granted 1 token to Ann (ann@example.com)");
  assert.equal(describeAudit({ admin, action: "user.role", target: ann, before: { role: "user" }, after: { role: "admin" } }), "boss@example.com changed the role of Ann (ann@example.com) from user to admin");
  assert.equal(describeAudit({ admin, action: "user.ban", target: { type: "user", id: "u9" }, after: { deactivatedReason: "spam" } }), "boss@example.com banned user u9");
  assert.equal(describeAudit({ admin, action: "term.add", target: { type: "term", id: "spam" } }), "boss@example.com blocked the term “spam”");
  assert.equal(describeAudit({ admin, action: "message.hide", target: { type: "message", id: "m1" } }), "boss@example.com hid a message (m1)");
  assert.equal(describeAudit({ admin: { id: "cli" }, action: "tokens.reset", target: ann, after: { amount: 300 } }), "A server command topped up the free tokens of Ann (ann@example.com) by 300");
  assert.equal(describeAudit({ admin, action: "odd.thing", target: { type: "x", id: "1" } }), "boss@example.com did odd.thing on x 1");
});
