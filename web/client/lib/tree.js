// A conversation as a tree (docs/chat.md, "Conversation trees"), the same rules as the server's
// common/conversations/tree.py. Every message has a parent: an answer's is the user message it
// answers, a user message's the message it follows (null for the first). Edits are sibling user
// messages; regenerations are sibling answers of one model; answers of different models to one
// user message are the columns of a comparison. A branch is the path from the root to a leaf.
// Pure (tests/client/tree.test.js).

export class Tree {
  /** `messages`: {id, role, parentId, modelId?, content?, status?}, oldest first. */
  constructor(messages = []) {
    this.byId = new Map();
    this.order = new Map();
    this.kids = new Map();
    this.list = [];
    for (const m of messages) this.add(m);
  }

  /** Add a message newer than every other (a new send's). */
  add(m) {
    if (this.byId.has(m.id)) return;
    this.byId.set(m.id, m);
    this.order.set(m.id, this.list.length);
    this.list.push(m);
    const parent = this.parentOf(m);
    if (!this.kids.has(parent)) this.kids.set(parent, []);
    this.kids.get(parent).push(m);
  }

  get(id) {
    return this.byId.get(id) || null;
  }

  /** A parent that is not in the tree makes a message a root (null). */
  parentOf(m) {
    return m.parentId && this.byId.has(m.parentId) ? m.parentId : null;
  }

  children(id) {
    return this.kids.get(id) || [];
  }

  newest() {
    return this.list.length ? this.list[this.list.length - 1] : null;
  }

  /** Root → leaf; an unknown leaf is the newest message. */
  path(leafId) {
    let node = this.byId.get(leafId) || this.newest();
    const out = [];
    const seen = new Set();
    while (node && !seen.has(node.id)) {
      seen.add(node.id);
      out.push(node);
      node = this.byId.get(this.parentOf(node));
    }
    return out.reverse();
  }

  /** The branch through `id`: the newest message of its subtree (itself when it has none). */
  leafBelow(id) {
    if (!this.byId.has(id)) return this.newest() ? this.newest().id : null;
    let best = id;
    const stack = [id];
    while (stack.length) {
      for (const kid of this.children(stack.pop())) {
        if (this.order.get(kid.id) > this.order.get(best)) best = kid.id;
        stack.push(kid.id);
      }
    }
    return best;
  }

  /** Alternatives of `m`, itself included, oldest first: edits of a user message, or one
   * model's answers to its user message. */
  siblings(m) {
    const same = this.children(this.parentOf(m));
    if (m.role === "assistant") return same.filter((s) => s.role === "assistant" && s.modelId === m.modelId);
    return same.filter((s) => s.role !== "assistant");
  }
}

/**
 * The turns a client shows for `leafId`: per user message on the path, its edits (`siblings`,
 * `position`) and its answers grouped per model in the order they first answered. A group's
 * shown answer is the path's when the path goes through it (`onPath`), else `override` (a
 * Map "userId modelId" -> answer id, view-only) or the newest. `reuse` (a Map userMessageId ->
 * turn) keeps turn objects across rebuilds, so their views survive.
 */
export function buildTurns(tree, leafId, { override = new Map(), reuse = new Map() } = {}) {
  const path = tree.path(leafId);
  const turns = [];
  for (let i = 0; i < path.length; i++) {
    const m = path[i];
    if (m.role === "assistant") {
      if (i === 0) turns.push(turnFor(tree, null, m, null, reuse, override)); // an orphan answer
      continue;
    }
    turns.push(turnFor(tree, m, null, path[i + 1] || null, reuse, override));
  }
  return turns;
}

function turnFor(tree, user, orphan, next, reuse, override) {
  const key = user ? user.id : `orphan:${orphan.id}`;
  const turn = reuse.get(key) || { userMessageId: user ? user.id : null, text: "", groups: [] };
  turn.userMessageId = user ? user.id : null;
  turn.text = user ? user.content || "" : "";
  turn.images = user ? user.images || [] : [];
  turn.sending = false;
  const siblings = user ? tree.siblings(user).map((s) => s.id) : [];
  turn.siblings = siblings;
  turn.position = user ? siblings.indexOf(user.id) : 0;
  const answers = user ? tree.children(user.id).filter((k) => k.role === "assistant") : [orphan];
  const groups = [];
  for (const a of answers) {
    let g = groups.find((x) => x.modelId === a.modelId);
    if (!g) {
      g = { modelId: a.modelId, answers: [], shown: 0, onPath: false };
      groups.push(g);
    }
    g.answers.push(a.id);
  }
  for (const g of groups) {
    const onPath = next && g.answers.includes(next.id);
    const chosen = onPath ? next.id : override.get(`${turn.userMessageId} ${g.modelId}`);
    g.onPath = Boolean(onPath);
    g.shown = g.answers.includes(chosen) ? g.answers.indexOf(chosen) : g.answers.length - 1;
  }
  turn.groups = groups;
  return turn;
}

/** The models of the conversation's latest turn: what the chat continues with. */
export function lastModels(turns) {
  for (let i = turns.length - 1; i >= 0; i--) {
    if (turns[i].groups.length) return turns[i].groups.map((g) => g.modelId);
  }
  return [];
}

/** The messages a turn list shows (each turn's user message and shown answers), in order: what
 * an export of the branch holds. `messageOf(id)` gives a message's current record. */
export function shownMessages(turns, messageOf) {
  const out = [];
  for (const t of turns) {
    if (t.userMessageId) out.push(messageOf(t.userMessageId));
    for (const g of t.groups) out.push(messageOf(g.answers[g.shown]));
  }
  return out.filter(Boolean);
}
