import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatStore, isLive } from "../../web/client/lib/chat.js";

const M = "model-a";
const N = "model-b";
const stored = [
  { id: "u1", role: "user", content: "Hi" },
  { id: "a1", role: "assistant", parentId: "u1", modelId: M, status: "done", content: "Hello", lastSeq: 2, charged: 5 },
  { id: "a2", role: "assistant", parentId: "u1", modelId: M, status: "streaming", content: "Hel", lastSeq: 1 },
  { id: "u2", role: "user", parentId: "a2", content: "More" },
  { id: "b1", role: "assistant", parentId: "u2", modelId: N, status: "pending", content: "" },
];

function sendCompose(store, requestId = "r1", text = "Question") {
  return store.send({ requestId, text, kind: "compose", models: [M, N], options: { maxTokens: 100 }, sentAt: 10 });
}

test("loading a session builds turns and answers and subscribes the live ones from seq 0", () => {
  const store = new ChatStore();
  const gen = store.beginOpen("s1");
  assert.ok(store.isCurrent(gen));
  const frames = store.load({ sessionId: "s1" }, stored);
  assert.deepEqual(frames, [
    { type: "subscribe", messageId: "a2", afterSeq: 0 },
    { type: "subscribe", messageId: "b1", afterSeq: 0 },
  ]);
  assert.equal(store.turns.length, 2);
  // The branch runs through a2 (u2 follows it): a2 is the alternative shown.
  assert.deepEqual(store.turns[0].groups, [{ modelId: M, answers: ["a1", "a2"], shown: 1, onPath: true }]);
  assert.equal(store.leaf, "b1");
  const done = store.answers.get("a1");
  assert.equal(done.stream.text, "Hello");
  assert.equal(done.stream.final, "done");
  assert.equal(done.charged, 5);
  assert.equal(store.answers.get("a2").stream.text, ""); // rebuilt from the replay
  assert.deepEqual(store.models(), [N]);
  assert.equal(store.live().length, 2);
});

test("a newer open makes an older load stale", () => {
  const store = new ChatStore();
  const first = store.beginOpen("s1");
  const second = store.beginOpen("s2");
  assert.equal(store.isCurrent(first), false);
  assert.equal(store.isCurrent(second), true);
  store.startNew();
  assert.equal(store.isCurrent(second), false);
  assert.equal(store.sessionId, null);
});

test("a compose send shows its turn at once; accepted gives it answers and a session", () => {
  const store = new ChatStore();
  const { frame, turn } = sendCompose(store);
  assert.deepEqual(frame, { type: "chat.send", requestId: "r1", message: "Question", models: [M, N], options: { maxTokens: 100 } });
  assert.equal(turn.sending, true);
  assert.equal(store.turns.length, 1);
  const result = store.accept({ type: "accepted", requestId: "r1", sessionId: "s9", userMessageId: "u9", parentId: null, leafId: "x", messages: [{ messageId: "x", modelId: M }, { messageId: "y", modelId: N }] });
  assert.equal(result.isNew, true);
  assert.equal(result.current, true);
  assert.deepEqual(store.turns, [turn]); // the same turn object: its view stays
  assert.equal(turn.sending, false);
  assert.equal(turn.userMessageId, "u9");
  assert.equal(store.sessionId, "s9");
  assert.equal(store.leaf, "x");
  assert.deepEqual(turn.groups.map((g) => g.answers), [["x"], ["y"]]);
  assert.equal(store.answers.get("x").sentAt, 10);
  assert.ok(isLive(store.answers.get("y")));
  assert.equal(store.accept({ type: "accepted", requestId: "r1" }), null); // once only
  // The next send names the session and follows the leaf shown.
  const next = sendCompose(store, "r2").frame;
  assert.equal(next.sessionId, "s9");
  assert.equal(next.afterId, "x");
});

test("accepted for a conversation the user has left changes nothing shown", () => {
  const store = new ChatStore();
  sendCompose(store);
  store.beginOpen("other");
  const result = store.accept({ type: "accepted", requestId: "r1", sessionId: "s9", userMessageId: "u9", messages: [{ messageId: "x", modelId: M }] });
  assert.equal(result.current, false);
  assert.equal(store.sessionId, "other");
  assert.equal(store.answers.has("x"), false);
});

test("a regenerate adds an alternative; on the branch's column it moves the branch", () => {
  const store = new ChatStore();
  store.beginOpen("s1");
  store.load({ sessionId: "s1", currentLeafId: "a1" }, stored.slice(0, 2));
  const { frame, turn } = store.send({ requestId: "r3", text: "Hi", kind: "regenerate", models: [M], options: {}, parentId: "u1" });
  assert.equal(turn, null);
  assert.equal(frame.parentId, "u1");
  assert.equal(frame.sessionId, "s1");
  assert.equal(frame.afterId, undefined);
  store.accept({ type: "accepted", requestId: "r3", sessionId: "s1", userMessageId: "u1", parentId: null, leafId: "a9", messages: [{ messageId: "a9", modelId: M }] });
  assert.deepEqual(store.turns[0].groups[0], { modelId: M, answers: ["a1", "a9"], shown: 1, onPath: true });
  const back = store.shiftAlternative("a9", -1);
  assert.equal(back.leaf, "a1");
  assert.equal(store.turns[0].groups[0].shown, 0);
  assert.equal(store.shiftAlternative("a1", -1), null); // bounded
  assert.equal(store.shiftAlternative("nope", 1), null);
});

test("an edit is sent as editOf and, once accepted, shows the new branch with k / n", () => {
  const store = new ChatStore();
  store.beginOpen("s1");
  const tree = [
    { id: "u1", role: "user", content: "Hi" },
    { id: "a1", role: "assistant", parentId: "u1", modelId: M, status: "done", content: "Hello" },
    { id: "u2", role: "user", parentId: "a1", content: "Long question" },
    { id: "a2", role: "assistant", parentId: "u2", modelId: M, status: "done", content: "Long answer" },
  ];
  store.load({ sessionId: "s1", currentLeafId: "a2" }, tree);
  const { frame, turn } = store.send({ requestId: "r4", text: "Short?", kind: "edit", models: [M], options: {}, editOf: "u2" });
  assert.equal(turn, null);
  assert.equal(frame.editOf, "u2");
  assert.equal(store.turns.length, 2); // nothing changes until accepted
  store.accept({ type: "accepted", requestId: "r4", sessionId: "s1", userMessageId: "u3", parentId: "a1", leafId: "a3", messages: [{ messageId: "a3", modelId: M }] });
  assert.deepEqual(store.turns.map((t) => [t.userMessageId, t.position, t.siblings.length]), [["u1", 0, 1], ["u3", 1, 2]]);
  assert.deepEqual(store.history().map((t) => t.content), ["Hi", "Hello", "Short?", ""]);
  // Back to the first version: its answers come back; the URL and the session get this leaf.
  assert.equal(store.shiftEdit("u3", -1), "a2");
  assert.deepEqual(store.turns.map((t) => t.userMessageId), ["u1", "u2"]);
  assert.equal(store.shiftEdit("u2", -1), null);
  assert.equal(store.showBranch("u3"), "a3");
  assert.deepEqual(store.shownMessages().map((m) => m.id), ["u1", "a1", "u3", "a3"]);
});

test("a column off the branch switches only what is shown", () => {
  const store = new ChatStore();
  store.beginOpen("s1");
  store.load({ sessionId: "s1", currentLeafId: "a1" }, [
    { id: "u1", role: "user", content: "Both" },
    { id: "a1", role: "assistant", parentId: "u1", modelId: M, status: "done" },
    { id: "b1", role: "assistant", parentId: "u1", modelId: N, status: "done" },
    { id: "b2", role: "assistant", parentId: "u1", modelId: N, status: "done" },
  ]);
  assert.equal(store.turns[0].groups[1].shown, 1);
  const moved = store.shiftAlternative("b2", -1);
  assert.equal(moved.leaf, null);
  assert.equal(store.leaf, "a1");
  assert.equal(store.turns[0].groups[1].shown, 0);
});

test("a refusal drops the turn and is remembered for Retry", () => {
  const store = new ChatStore();
  sendCompose(store);
  const p = store.refuse({ type: "error", requestId: "r1", code: "INSUFFICIENT_TOKENS" });
  assert.equal(p.text, "Question");
  assert.equal(store.turns.length, 0);
  assert.deepEqual(store.lastFailed, { text: "Question", kind: "compose", parentId: null, editOf: null });
  assert.equal(store.hasPending("r1"), false);
  assert.equal(store.refuse({ type: "error", requestId: "r1" }), null);
});

test("stream frames: chunks, a gap asks for a resubscribe, the final frame ends the answer", () => {
  const store = new ChatStore();
  sendCompose(store);
  store.accept({ type: "accepted", requestId: "r1", sessionId: "s", userMessageId: "u", messages: [{ messageId: "x", modelId: M }] });
  assert.equal(store.apply({ type: "chunk", messageId: "x", seq: 1, delta: "a" }, 20).answer.status, "streaming");
  assert.equal(store.answers.get("x").firstAt, 20);
  assert.equal(store.apply({ type: "chunk", messageId: "x", seq: 1, delta: "a" }, 21), null); // duplicate
  const gap = store.apply({ type: "chunk", messageId: "x", seq: 3, delta: "c" }, 22);
  assert.deepEqual(gap.resubscribe, { type: "subscribe", messageId: "x", afterSeq: 1 });
  assert.deepEqual(store.resubscribeFrames(), [{ type: "subscribe", messageId: "x", afterSeq: 1 }]);
  const end = store.apply({ type: "done", messageId: "x", seq: 3, content: "abc", usage: { totalTokens: 7 }, charged: 3 }, 30);
  assert.equal(end.ended, true);
  const a = store.answers.get("x");
  assert.deepEqual([a.status, a.stream.text, a.charged, a.endAt, a.usage.totalTokens], ["done", "abc", 3, 30, 7]);
  assert.equal(store.live().length, 0);
  assert.equal(store.apply({ type: "chunk", messageId: "zzz", seq: 1 }, 0), null);
});

test("a stream error keeps its message; an interruption is told apart", () => {
  const store = new ChatStore();
  store.beginOpen("s1");
  store.load({ sessionId: "s1" }, stored);
  store.apply({ type: "error", messageId: "a2", code: "STREAM_INTERRUPTED", message: "cut" }, 1);
  store.apply({ type: "error", messageId: "b1", code: "PROVIDER_ERROR", message: "boom" }, 1);
  assert.equal(store.answers.get("a2").status, "interrupted");
  assert.deepEqual(store.answers.get("b1").error, { message: "boom", code: "PROVIDER_ERROR" });
  assert.equal(store.answers.get("b1").status, "failed");
});

test("history is the user's turns and the first model's shown answers", () => {
  const store = new ChatStore();
  store.beginOpen("s1");
  store.load({ sessionId: "s1" }, stored.slice(0, 2));
  assert.deepEqual(store.history(), [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }]);
});

test("clear forgets everything but keeps the answers map the views hold", () => {
  const store = new ChatStore();
  const answers = store.answers;
  store.beginOpen("s1");
  store.load({ sessionId: "s1" }, stored);
  sendCompose(store);
  store.clear();
  assert.equal(store.answers, answers);
  assert.deepEqual([store.answers.size, store.pending.size, store.turns.length, store.sessionId], [0, 0, 0, null]);
});

test("an answer given by a fallback names the model that answered", () => {
  const store = new ChatStore();
  sendCompose(store);
  store.accept({ type: "accepted", requestId: "r1", sessionId: "s9", userMessageId: "u9", parentId: null, leafId: "x", messages: [{ messageId: "x", modelId: M }, { messageId: "y", modelId: N }] });
  store.apply({ type: "chunk", messageId: "x", seq: 1, delta: "Hi", modelId: "hf:model-a" }, 20);
  const a = store.answers.get("x");
  assert.equal(a.modelId, "hf:model-a");
  assert.equal(a.requestedModelId, M);
  store.apply({ type: "done", messageId: "x", seq: 1, content: "Hi", modelId: "hf:model-a", charged: 3 }, 30);
  assert.equal(a.requestedModelId, M); // still the one asked for
  assert.equal(store.answers.get("y").modelId, N); // the other column is untouched
});
