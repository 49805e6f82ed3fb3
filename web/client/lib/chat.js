// The open conversation as data: frames and REST answers in, state out. No DOM, no socket: the
// app hands it what arrived and acts on what it returns (frames to send, what to repaint), so
// the rules are unit-tested (tests/client/chat.test.js).
//
// State: the open session (`sessionId`, `session`), its turns (lib/turns.js: a user message and
// its answers grouped per model), the answers by id (each with its stream, lib/stream.js), and
// the sends waiting for `accepted` by requestId.

import { applyFrame, newStream } from "./stream.js";
import { addAnswer, buildTurns, lastModels } from "./turns.js";

const LIVE = new Set(["pending", "streaming"]);

export function isLive(answer) {
  return LIVE.has(answer.status);
}

/** An answer as the store keeps it, from a stored message. A live one replays from its first
 * chunk (the server's buffer keeps them all): no gap, no duplicate. */
export function answerFromMessage(m) {
  const live = m.status === "pending" || m.status === "streaming";
  const stream = live ? newStream(0, "") : { ...newStream(m.lastSeq || 0, m.content || ""), final: m.status };
  return {
    id: m.id,
    modelId: m.modelId,
    status: m.status,
    stream,
    usage: m.usage,
    charged: live ? undefined : m.charged,
    ttftMs: m.ttftMs ?? null,
    tps: m.tokensPerSecond ?? null,
    error: m.error && m.error.message ? m.error : null,
  };
}

/** An answer this tab has just sent for (timed from `sentAt`). */
export function newAnswer(id, modelId, sentAt) {
  return { id, modelId, status: "pending", stream: newStream(), sentAt, firstAt: null, endAt: null, ttftMs: null, tps: null };
}

export class ChatStore {
  constructor() {
    this.openGen = 0;
    this.answers = new Map();
    this.pending = new Map();
    this.clear();
  }

  /** Forget everything (logout). The same `answers` map object is kept: views hold it. */
  clear() {
    this.openGen += 1;
    this.answers.clear();
    this.pending.clear();
    this.sessionId = null;
    this.session = null;
    this.turns = [];
    this.lastFailed = null;
  }

  // -- opening a conversation ----------------------------------------------------------------

  /** A new, empty chat (sends still waiting for `accepted` stay: their session is remembered). */
  startNew() {
    this.openGen += 1;
    this.answers.clear();
    this.sessionId = null;
    this.session = null;
    this.turns = [];
  }

  /** Start opening `sessionId`; the returned generation tells a stale load from the current. */
  beginOpen(sessionId) {
    this.openGen += 1;
    this.answers.clear();
    this.sessionId = sessionId;
    this.session = null;
    this.turns = [];
    return this.openGen;
  }

  isCurrent(gen) {
    return gen === this.openGen;
  }

  /** The session and its stored messages arrived. Returns the `subscribe` frames for the
   * answers still running (each replays from its first chunk). */
  load(session, messages) {
    this.session = session;
    this.answers.clear();
    for (const m of messages) if (m.role === "assistant") this.answers.set(m.id, answerFromMessage(m));
    this.turns = buildTurns(messages);
    return this.live().map((a) => subscribeFrame(a));
  }

  /** The models the conversation continues with (its latest turn's), or []. */
  models() {
    return lastModels(this.turns);
  }

  // -- sending -------------------------------------------------------------------------------

  /**
   * Start a send. `parentId` makes it a regenerate of that user message (no new turn); else a
   * new turn is shown at once (`turn`, marked as sending until `accepted`). Returns the
   * `chat.send` frame and the turn. `extra` is kept with the pending send and handed back on
   * `accepted`/refusal (the UI's own bookkeeping).
   */
  send({ requestId, text, kind, models, options, parentId = null, sentAt = 0, extra = {} }) {
    const frame = { type: "chat.send", requestId, message: text, models: [...models], options: { ...options } };
    if (this.sessionId) frame.sessionId = this.sessionId;
    if (parentId) frame.parentId = parentId;
    let turn = null;
    if (!parentId) {
      turn = { userMessageId: null, text, groups: [], sending: true };
      this.turns.push(turn);
    }
    this.pending.set(requestId, { ...extra, kind, text, turn, parentId, sentAt, sessionId: this.sessionId });
    return { frame, turn };
  }

  hasPending(requestId) {
    return this.pending.has(requestId);
  }

  /**
   * `accepted`: the answers are stored and running. Returns null for a send this store does not
   * know, else `{pending, turn, isNew, current}`: `current` is false when the user has moved to
   * another conversation meanwhile (nothing is shown then), `isNew` when the send created the
   * session, `turn` the turn that gained the answers (null if it is gone).
   */
  accept(f) {
    const p = this.pending.get(f.requestId);
    if (!p) return null;
    this.pending.delete(f.requestId);
    if (p.sessionId !== this.sessionId) return { pending: p, turn: null, isNew: false, current: false };
    const isNew = !this.sessionId;
    this.sessionId = f.sessionId;
    const turn = p.parentId ? this.turns.find((t) => t.userMessageId === p.parentId) : p.turn;
    if (turn) {
      turn.userMessageId = f.userMessageId || turn.userMessageId;
      turn.sending = false;
      for (const m of f.messages) {
        this.answers.set(m.messageId, newAnswer(m.messageId, m.modelId, p.sentAt));
        addAnswer(turn, m.modelId, m.messageId);
      }
    }
    return { pending: p, turn: turn || null, isNew, current: true };
  }

  /** A refused send (an `error` frame with its requestId): its turn is dropped and it is
   * remembered for Retry. Returns the pending send, or null when unknown. */
  refuse(f) {
    const p = this.pending.get(f.requestId);
    if (!p) return null;
    this.pending.delete(f.requestId);
    if (p.turn) this.turns = this.turns.filter((t) => t !== p.turn);
    this.lastFailed = { text: p.text, kind: p.kind, parentId: p.parentId };
    return p;
  }

  // -- streams -------------------------------------------------------------------------------

  /**
   * A `chunk`, `done`, `cancelled` or stream `error` frame. Returns null when it changed
   * nothing (an unknown answer, a duplicate); else `{answer, resubscribe?, ended}`:
   * `resubscribe` is the frame to send when chunks were missed.
   */
  apply(f, now) {
    const a = this.answers.get(f.messageId);
    if (!a) return null;
    const before = a.stream;
    a.stream = applyFrame(before, f);
    if (a.stream === before) return null;
    if (a.stream.gap) return { answer: a, resubscribe: subscribeFrame(a), ended: false };
    if (f.type === "chunk") {
      if (!a.firstAt) a.firstAt = now;
      a.status = "streaming";
      return { answer: a, ended: false };
    }
    a.status = a.stream.final;
    a.endAt = now;
    if (f.usage) a.usage = f.usage;
    if (f.charged !== undefined) a.charged = f.charged;
    if (f.type === "error") a.error = { message: f.message, code: f.code };
    return { answer: a, ended: true };
  }

  live() {
    return [...this.answers.values()].filter(isLive);
  }

  /** After a (re)connect: a `subscribe` frame per live answer, from where it stands. */
  resubscribeFrames() {
    return this.live().map((a) => subscribeFrame(a));
  }

  // -- reading -------------------------------------------------------------------------------

  /** The conversation as the first model's side sees it (for a local estimate). */
  history() {
    const turns = [];
    for (const t of this.turns) {
      if (t.text) turns.push({ role: "user", content: t.text });
      const g = t.groups[0];
      const a = g && this.answers.get(g.answers[g.shown]);
      if (a) turns.push({ role: "assistant", content: a.stream.text });
    }
    return turns;
  }

  turnOfAnswer(id) {
    return this.turns.find((t) => t.groups.some((g) => g.answers.includes(id))) || null;
  }

  /** Show the previous (`delta` -1) or next (+1) alternative of the group holding answer `id`.
   * Returns `{turn, group}`, or null when `id` is in no group. */
  shiftAlternative(id, delta) {
    const turn = this.turnOfAnswer(id);
    const group = turn && turn.groups.find((g) => g.answers.includes(id));
    if (!group) return null;
    group.shown = Math.max(0, Math.min(group.answers.length - 1, group.shown + delta));
    return { turn, group };
  }
}

function subscribeFrame(a) {
  return { type: "subscribe", messageId: a.id, afterSeq: a.stream.seq };
}
