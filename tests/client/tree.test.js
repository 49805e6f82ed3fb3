import { test } from "node:test";
import assert from "node:assert/strict";
import { Tree, buildTurns, lastModels, shownMessages } from "../../web/client/lib/tree.js";

const u = (id, parentId = null, content = id) => ({ id, role: "user", parentId, content });
const a = (id, parentId, modelId = "m1", status = "done") => ({ id, role: "assistant", parentId, modelId, status });

// u1 → a1 → u2 → a2 ; u2e (an edit of u2) → a2e ; a1r regenerates a1 ; b1 is another column
const MESSAGES = [u("u1"), a("a1", "u1"), a("b1", "u1", "m2"), u("u2", "a1"), a("a2", "u2"), u("u2e", "a1", "edited"), a("a2e", "u2e"), a("a1r", "u1")];
const ids = (ms) => ms.map((m) => m.id);

test("paths, siblings and the newest leaf below a message, as the server has them", () => {
  const tree = new Tree(MESSAGES);
  assert.deepEqual(ids(tree.path("a2")), ["u1", "a1", "u2", "a2"]);
  assert.deepEqual(ids(tree.path("gone")), ["u1", "a1r"]);
  assert.deepEqual(ids(tree.siblings(tree.get("u2"))), ["u2", "u2e"]);
  assert.deepEqual(ids(tree.siblings(tree.get("a1"))), ["a1", "a1r"]);
  assert.equal(tree.leafBelow("a1"), "a2e");
  assert.equal(tree.leafBelow("u2"), "a2");
  assert.equal(tree.leafBelow("unknown"), "a1r");
  assert.deepEqual(new Tree().path("x"), []);
});

test("turns of a branch: edits as k / n, answers per model, the path's answer shown", () => {
  const tree = new Tree(MESSAGES);
  const turns = buildTurns(tree, "a2e");
  assert.deepEqual(turns.map((t) => [t.userMessageId, t.text, t.position, t.siblings.length]), [["u1", "u1", 0, 1], ["u2e", "edited", 1, 2]]);
  assert.deepEqual(turns[0].groups.map((g) => [g.modelId, g.answers, g.shown, g.onPath]), [["m1", ["a1", "a1r"], 0, true], ["m2", ["b1"], 0, false]]);
  assert.deepEqual(lastModels(turns), ["m1"]);
  // The regenerated answer's branch ends there.
  const other = buildTurns(tree, "a1r");
  assert.equal(other.length, 1);
  assert.equal(other[0].groups[0].shown, 1);
});

test("a column off the path shows the newest answer unless the view chose another", () => {
  const tree = new Tree([...MESSAGES, a("b1r", "u1", "m2")]);
  assert.equal(buildTurns(tree, "a2")[0].groups[1].shown, 1);
  const override = new Map([["u1 m2", "b1"]]);
  assert.equal(buildTurns(tree, "a2", { override })[0].groups[1].shown, 0);
});

test("turn objects are reused across rebuilds (their views survive)", () => {
  const tree = new Tree(MESSAGES);
  const first = buildTurns(tree, "a2");
  const reuse = new Map(first.map((t) => [t.userMessageId, t]));
  tree.add(u("u3", "a2"));
  tree.add(a("a3", "u3"));
  const again = buildTurns(tree, "a3", { reuse });
  assert.equal(again[0], first[0]);
  assert.equal(again[1], first[1]);
  assert.equal(again.length, 3);
});

test("the shown messages are what an export of the branch holds", () => {
  const tree = new Tree(MESSAGES);
  const turns = buildTurns(tree, "a2");
  assert.deepEqual(ids(shownMessages(turns, (id) => tree.get(id))), ["u1", "a1", "b1", "u2", "a2"]);
});
