import { test } from "node:test";
import assert from "node:assert/strict";
import { pickSnapshot } from "../../web/client/lib/snapshot.js";

const snap = (balance, walletVersion, id = "u1") => ({ id, tokens: { balance }, walletVersion });

test("the highest walletVersion wins whatever the arrival order", () => {
  const newer = snap(900, 7);
  const older = snap(1000, 5);
  assert.equal(pickSnapshot(newer, older), newer);
  assert.equal(pickSnapshot(older, newer), newer);
});

test("an equal version replaces (same wallet state, maybe newer profile)", () => {
  const a = snap(900, 7);
  const b = { ...snap(900, 7), name: "new" };
  assert.equal(pickSnapshot(a, b), b);
});

test("without versions the newest by arrival wins", () => {
  const a = snap(1000);
  const b = snap(900);
  assert.equal(pickSnapshot(a, b), b);
  assert.equal(pickSnapshot(b, a), a);
});

test("a versioned snapshot is not replaced by an unversioned one", () => {
  const versioned = snap(900, 3);
  assert.equal(pickSnapshot(versioned, snap(1000)), versioned);
});

test("another user's snapshot replaces; empty ones are ignored", () => {
  const mine = snap(900, 9);
  const theirs = snap(10_000, 1, "u2");
  assert.equal(pickSnapshot(mine, theirs), theirs);
  assert.equal(pickSnapshot(mine, null), mine);
  assert.equal(pickSnapshot(mine, { id: "u1" }), mine);
  assert.equal(pickSnapshot(null, mine), mine);
});
