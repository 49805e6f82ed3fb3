import { test } from "node:test";
import assert from "node:assert/strict";
import { applyFrame, newStream } from "../../web/client/lib/stream.js";

const chunk = (seq, delta) => ({ type: "chunk", messageId: "m", seq, delta });
const run = (frames, start = newStream()) => frames.reduce(applyFrame, start);

test("chunks in order make the text", () => {
  const s = run([chunk(1, "Hel"), chunk(2, "lo"), chunk(3, "!")]);
  assert.equal(s.text, "Hello!");
  assert.equal(s.seq, 3);
});

test("a replayed chunk is not added twice", () => {
  const s = run([chunk(1, "a"), chunk(2, "b"), chunk(1, "a"), chunk(2, "b"), chunk(3, "c")]);
  assert.equal(s.text, "abc");
});

test("a gap is reported and nothing past it is added until the missing seq arrives", () => {
  let s = run([chunk(1, "a"), chunk(3, "c")]);
  assert.equal(s.gap, true);
  assert.equal(s.text, "a");
  assert.equal(s.seq, 1);
  s = run([chunk(2, "b"), chunk(3, "c")], s);
  assert.equal(s.text, "abc");
  assert.equal(s.gap, false);
});

test("resuming after a reload: subscribe afterSeq=0 replays all, live chunks continue", () => {
  const replay = [chunk(1, "x"), chunk(2, "y")];
  const live = [chunk(2, "y"), chunk(3, "z")]; // the live feed overlaps the replay
  assert.equal(run([...replay, ...live]).text, "xyz");
});

test("done carries the full text and ends the stream; later frames change nothing", () => {
  let s = run([chunk(1, "par"), { type: "done", seq: 2, content: "partial text" }]);
  assert.equal(s.final, "done");
  assert.equal(s.text, "partial text");
  s = run([chunk(3, "late"), { type: "error", code: "X" }], s);
  assert.equal(s.text, "partial text");
  assert.equal(s.final, "done");
});

test("cancelled keeps the text, interruption is told apart from failure", () => {
  assert.equal(run([chunk(1, "a"), { type: "cancelled", seq: 1 }]).final, "cancelled");
  assert.equal(run([{ type: "error", code: "STREAM_INTERRUPTED" }]).final, "interrupted");
  assert.equal(run([{ type: "error", code: "PROVIDER_ERROR" }]).final, "failed");
});
