// A session's stored messages as turns: one user message and its answers, grouped per model.
// Regenerated answers (same parent and model) are alternatives of one group, newest shown.

export function buildTurns(messages) {
  const turns = [];
  const byUserId = new Map();
  for (const m of messages) {
    if (m.role === "user") {
      const turn = { userMessageId: m.id, text: m.content || "", images: m.images || [], groups: [] };
      turns.push(turn);
      byUserId.set(m.id, turn);
    } else if (m.role === "assistant") {
      let turn = byUserId.get(m.parentId);
      if (!turn) {
        turn = { userMessageId: m.parentId || null, text: "", groups: [] };
        turns.push(turn);
        if (m.parentId) byUserId.set(m.parentId, turn);
      }
      addAnswer(turn, m.modelId, m.id);
    }
  }
  return turns;
}

/** Add answer `messageId` of `modelId` to the turn: a new group, or a new (shown) alternative. */
export function addAnswer(turn, modelId, messageId) {
  let group = turn.groups.find((g) => g.modelId === modelId);
  if (!group) {
    group = { modelId, answers: [], shown: 0 };
    turn.groups.push(group);
  }
  if (!group.answers.includes(messageId)) group.answers.push(messageId);
  group.shown = group.answers.length - 1;
  return group;
}

/** The models of the conversation's latest turn: what the chat continues with. */
export function lastModels(turns) {
  for (let i = turns.length - 1; i >= 0; i--) {
    if (turns[i].groups.length) return turns[i].groups.map((g) => g.modelId);
  }
  return [];
}
