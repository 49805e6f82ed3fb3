import { test } from "node:test";
import assert from "node:assert/strict";
import { keepDraft, takeDraft } from "../../web/client/lib/draft.js";
import { takeToken } from "../../web/client/links/pages.js";

class Store {
  constructor() { this.items = new Map(); }
  getItem(k) { return this.items.has(k) ? this.items.get(k) : null; }
  setItem(k, v) { this.items.set(k, String(v)); }
  removeItem(k) { this.items.delete(k); }
}

test("a kept draft comes back once, to the same user, with its conversation", () => {
  const s = new Store();
  assert.equal(keepDraft(s, "u1", "half a question", "/c/abc_1", 1000), true);
  assert.deepEqual(takeDraft(s, "u1", 2000), { text: "half a question", path: "/c/abc_1" });
  assert.equal(takeDraft(s, "u1", 3000), null);
});

test("another user signing in on the tab never sees it", () => {
  const s = new Store();
  keepDraft(s, "u1", "private words", "/", 0);
  assert.equal(takeDraft(s, "u2", 1), null);
  assert.equal(takeDraft(s, "u1", 2), null); // dropped, not kept for later
});

test("nothing to keep, old drafts and odd paths", () => {
  const s = new Store();
  assert.equal(keepDraft(s, "u1", "   ", "/"), false);
  assert.equal(keepDraft(null, null, "x", "/"), false);
  keepDraft(s, "u1", "stale", "/", 0);
  assert.equal(takeDraft(s, "u1", 25 * 3600 * 1000), null);
  keepDraft(s, "u1", "text", "/wallet", 0);
  assert.deepEqual(takeDraft(s, "u1", 1), { text: "text", path: "/" });
  s.setItem("aipasta-kept-draft", "{not json");
  assert.equal(takeDraft(s, "u1"), null);
});

test("a link's token is read from the fragment and taken out of the address", () => {
  const calls = [];
  const hist = { replaceState: (...a) => calls.push(a) };
  const loc = { hash: "#token=abc-DEF_123", pathname: "/reset-password", search: "" };
  assert.equal(takeToken(loc, hist), "abc-DEF_123");
  assert.deepEqual(calls, [[null, "", "/reset-password"]]);
  assert.equal(takeToken({ hash: "", pathname: "/verify-email", search: "" }, hist), null);
  assert.equal(calls.length, 1);
});
