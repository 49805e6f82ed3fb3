// The open conversation as data: frames and REST answers in, state out. No DOM, no socket: the
// app hands it what arrived and acts on what it returns (frames to send, what to repaint), so
// the rules are unit-tested (tests/client/chat.test.js).
//
// State: the open session (`sessionId`, `session`), its messages as a tree (lib/tree.js) and the
// leaf shown (`leaf`), the turns of that branch (`turns`: a user message, its edits and its
// answers grouped per model), the answers by id (each with its stream, lib/stream.js), and the
// sends waiting for `accepted` by requestId.

import { applyFrame, newStream } from "./stream.js";
import { Tree, buildTurns, lastModels, shownMessages } from "./tree.js";

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
    this.reset(null);
    this.lastFailed = null;
  }

  reset(sessionId) {
    this.sessionId = sessionId;
    this.session = null;
    this.tree = new Tree();
    this.leaf = null;
    this.override = new Map();
    this.sendingTurns = [];
    this.turns = [];
  }

  // -- opening a conversation ----------------------------------------------------------------

  /** A new, empty chat (sends still waiting for `accepted` stay: their session is remembered). */
  startNew() {
    this.openGen += 1;
    this.answers.clear();
    this.reset(null);
  }

  /** Start opening `sessionId`; the returned generation tells a stale load from the current. */
  beginOpen(sessionId) {
    this.openGen += 1;
    this.answers.clear();
    this.reset(sessionId);
    return this.openGen;
  }

  isCurrent(gen) {
    return gen === this.openGen;
  }

  /** The session and every stored message arrived; `leaf` (from the address) picks the branch,
   * else the session's `currentLeafId`. Returns the `subscribe` frames for the answers still
   * running (each replays from its first chunk). */
  load(session, messages, leaf = null) {
    this.session = session;
    this.answers.clear();
    this.tree = new Tree(messages.map(record));
    for (const m of messages) if (m.role === "assistant") this.answers.set(m.id, answerFromMessage(m));
    const wanted = leaf && this.tree.get(leaf) ? leaf : session.currentLeafId;
    this.leaf = this.tree.get(wanted) ? this.tree.leafBelow(wanted) : this.tree.newest() && this.tree.newest().id;
    this.rebuild();
    return this.live().map((a) => subscribeFrame(a));
  }

  /** Recompute the shown turns from the tree (turn objects are kept per user message). */
  rebuild() {
    const reuse = new Map(this.turns.filter((t) => t.userMessageId).map((t) => [t.userMessageId, t]));
    this.turns = [...buildTurns(this.tree, this.leaf, { override: this.override, reuse }), ...this.sendingTurns];
  }

  /** The models the conversation continues with (its latest turn's), or []. */
  models() {
    return lastModels(this.turns);
  }

  // -- branches ------------------------------------------------------------------------------

  /** Show the branch through message `id` (its newest leaf). Returns the new leaf, or null
   * when `id` is unknown. */
  showBranch(id) {
    if (!this.tree.get(id)) return null;
    this.leaf = this.tree.leafBelow(id);
    this.rebuild();
    return this.leaf;
  }

  /** The previous (-1) or next (+1) edit of the turn's user message. Returns the new leaf, or
   * null when there is none that way. */
  shiftEdit(userMessageId, delta) {
    const m = this.tree.get(userMessageId);
    if (!m) return null;
    const siblings = this.tree.siblings(m);
    const next = siblings[siblings.indexOf(m) + delta];
    return next ? this.showBranch(next.id) : null;
  }

  /**
   * The previous (-1) or next (+1) alternative of the group holding answer `id`. On the
   * branch's own column this changes the branch (`{leaf}`); on another column of a comparison
   * it only changes what is shown (`{leaf: null}`). Null when there is none that way.
   */
  shiftAlternative(id, delta) {
    const turn = this.turnOfAnswer(id);
    const group = turn && turn.groups.find((g) => g.answers.includes(id));
    if (!group) return null;
    const to = group.answers[group.shown + delta];
    if (!to) return null;
    if (group.onPath) return { turn, group, leaf: this.showBranch(to) };
    this.override.set(`${turn.userMessageId} ${group.modelId}`, to);
    this.rebuild();
    return { turn, group, leaf: null };
  }

  /** The messages shown, in order (an export of this branch). */
  shownMessages() {
    return shownMessages(this.turns.filter((t) => !t.sending), (id) => {
      const m = this.tree.get(id);
      const a = this.answers.get(id);
      return m && (a ? { ...m, content: a.stream.text, status: a.status } : m);
    });
  }

  // -- sending -------------------------------------------------------------------------------

  /**
   * Start a send. `parentId` makes it a regenerate of that user message, `editOf` an edit of
   * that one (a new branch from its parent); neither shows anything until `accepted`. A plain
   * send follows the leaf shown (`afterId`) and shows its turn at once (`turn`, marked as
   * sending). Returns the `chat.send` frame and the turn. `extra` is kept with the pending
   * send and handed back on `accepted`/refusal (the UI's own bookkeeping).
   */
  send({ requestId, text, kind, models, options, images = [], parentId = null, editOf = null, sentAt = 0, extra = {} }) {
    const frame = { type: "chat.send", requestId, message: text, models: [...models], options: { ...options } };
    if (images.length) frame.images = [...images];
    if (this.sessionId) frame.sessionId = this.sessionId;
    let turn = null;
    if (parentId) frame.parentId = parentId;
    else if (editOf) frame.editOf = editOf;
    else {
      if (this.sessionId && this.leaf) frame.afterId = this.leaf;
      turn = { userMessageId: null, text, images: [...images], groups: [], siblings: [], position: 0, sending: true };
      this.sendingTurns.push(turn);
      this.turns.push(turn);
    }
    this.pending.set(requestId, { ...extra, kind, text, images, turn, parentId, editOf, follows: frame.afterId || null, sentAt, sessionId: this.sessionId });
    return { frame, turn };
  }

  hasPending(requestId) {
    return this.pending.has(requestId);
  }

  /**
   * `accepted`: the answers are stored and running; the tree gains them and the branch moves
   * to the server's `leafId`. Returns null for a send this store does not know, else
   * `{pending, isNew, current}`: `current` is false when the user has moved to another
   * conversation meanwhile (nothing is shown then), `isNew` when the send created the session.
   */
  accept(f) {
    const p = this.pending.get(f.requestId);
    if (!p) return null;
    this.pending.delete(f.requestId);
    if (p.sessionId !== this.sessionId) return { pending: p, isNew: false, current: false };
    const isNew = !this.sessionId;
    this.sessionId = f.sessionId;
    const userId = f.userMessageId;
    if (!p.parentId && userId) {
      const parent = f.parentId !== undefined ? f.parentId : p.editOf ? this.parentOf(p.editOf) : p.follows;
      this.tree.add({ id: userId, role: "user", parentId: parent, content: p.text, images: p.images || [] });
    }
    for (const m of f.messages) {
      this.tree.add({ id: m.messageId, role: "assistant", parentId: userId || p.parentId, modelId: m.modelId, status: "pending" });
      this.answers.set(m.messageId, newAnswer(m.messageId, m.modelId, p.sentAt));
    }
    if (p.turn) {
      this.sendingTurns = this.sendingTurns.filter((t) => t !== p.turn);
      p.turn.userMessageId = userId;
    }
    const first = f.messages[0] && f.messages[0].messageId;
    this.leaf = f.leafId || first || this.leaf;
    if (p.turn) this.turns = this.turns.filter((t) => t !== p.turn).concat(p.turn); // kept for reuse
    this.rebuild();
    return { pending: p, isNew, current: true };
  }

  parentOf(id) {
    const m = this.tree.get(id);
    return m ? this.tree.parentOf(m) : null;
  }

  /** A refused send (an `error` frame with its requestId): its turn is dropped and it is
   * remembered for Retry. Returns the pending send, or null when unknown. */
  refuse(f) {
    const p = this.pending.get(f.requestId);
    if (!p) return null;
    this.pending.delete(f.requestId);
    if (p.turn) {
      this.sendingTurns = this.sendingTurns.filter((t) => t !== p.turn);
      this.turns = this.turns.filter((t) => t !== p.turn);
    }
    this.lastFailed = { text: p.text, kind: p.kind, parentId: p.parentId, editOf: p.editOf };
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
    if (f.modelId && f.modelId !== a.modelId) {
      // Another provider's model answered (a fallback): the answer names the one that did.
      a.requestedModelId = a.requestedModelId || a.modelId;
      a.modelId = f.modelId;
      const node = this.tree.get(a.id);
      if (node) node.modelId = f.modelId;
    }
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
    const m = this.tree.get(a.id);
    if (m) m.status = a.status;
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

  /** The branch as the first model's column shows it (for a local estimate). */
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

  turnOfUser(userMessageId) {
    return this.turns.find((t) => t.userMessageId === userMessageId) || null;
  }
}

/** What the tree keeps of a stored message (answers' text lives in `answers`). */
function record(m) {
  const r = { id: m.id, role: m.role, parentId: m.parentId || null, modelId: m.modelId || null, status: m.status };
  if (m.role !== "assistant") {
    r.content = m.content || "";
    r.images = m.images || [];
  }
  return r;
}

function subscribeFrame(a) {
  return { type: "subscribe", messageId: a.id, afterSeq: a.stream.seq };
}
