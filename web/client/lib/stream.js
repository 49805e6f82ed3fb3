// Assembling one answer's stream from `chunk` frames: every seq exactly once, in order.
// Pure functions over a plain object, so the rules are unit-tested (tests/client/stream.test.js).

/** A stream that already holds `text` up to `seq` (0 = nothing yet). */
export function newStream(seq = 0, text = "") {
  return { seq, text, final: null, gap: false };
}

/**
 * The stream after `frame`. A chunk at or below the last seq is a replayed duplicate (ignored);
 * a chunk past the next seq means frames were missed: the text stays, `gap` is set, and the
 * caller re-subscribes with `afterSeq: stream.seq` so the server replays the missing ones.
 * Nothing changes the stream after its final frame (done, cancelled or error).
 */
export function applyFrame(stream, frame) {
  if (stream.final) return stream;
  switch (frame.type) {
    case "chunk":
      if (frame.seq <= stream.seq) return stream;
      if (frame.seq !== stream.seq + 1) return { ...stream, gap: true };
      return { ...stream, seq: frame.seq, text: stream.text + (frame.delta || ""), gap: false };
    case "done":
      return {
        ...stream,
        seq: Math.max(stream.seq, frame.seq || 0),
        text: typeof frame.content === "string" ? frame.content : stream.text,
        final: "done",
        gap: false,
      };
    case "cancelled":
      return { ...stream, final: "cancelled", gap: false };
    case "error":
      return { ...stream, final: frame.code === "STREAM_INTERRUPTED" ? "interrupted" : "failed", gap: false };
    default:
      return stream;
  }
}
