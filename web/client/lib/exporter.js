// A conversation's branch as Markdown or JSON, from the session and the branch's messages
// (`GET /api/chat/sessions/<id>?leafId=…`: the path and the other columns of a comparison).

export function toMarkdown(session, messages) {
  const lines = [`# ${session.title || "Chat"}`, ""];
  for (const m of messages) {
    if (m.role === "user") lines.push("## You", "", m.content || "", "");
    else if (m.role === "assistant") {
      const note = m.status && m.status !== "done" ? ` (${m.status})` : "";
      lines.push(`## ${m.modelId}${note}`, "", m.content || "", "");
    }
  }
  return lines.join("\n");
}

/** The branch as JSON: the session, the leaf it ends at, its messages (oldest first). */
export function toJSON(session, messages, leafId = null) {
  const keep = (m) => ({
    id: m.id,
    role: m.role,
    modelId: m.modelId || undefined,
    parentId: m.parentId || undefined,
    status: m.status,
    content: m.content,
    usage: m.usage,
    createdAt: m.createdAt,
  });
  return JSON.stringify({ session, leafId: leafId || undefined, messages: messages.map(keep) }, null, 2);
}

export function fileName(session, ext) {
  const base = (session.title || "chat").replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);
  return `${base || "chat"}.${ext}`;
}
