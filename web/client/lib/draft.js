// The unsent message of a tab whose session the server ended (signed out everywhere, password
// changed elsewhere): kept in this tab's sessionStorage and given back when the same user signs
// in again here. Another user signing in on the tab never sees it.

const KEY = "aipasta-kept-draft";
const KEEP_MS = 24 * 3600 * 1000;

export function keepDraft(storage, userId, text, path, now = Date.now()) {
  if (!userId || !text || !text.trim()) return false;
  storage.setItem(KEY, JSON.stringify({ userId, text, path, at: now }));
  return true;
}

/** The kept draft of `userId` (once), or null; a draft of someone else is dropped. */
export function takeDraft(storage, userId, now = Date.now()) {
  const raw = storage.getItem(KEY);
  if (!raw) return null;
  storage.removeItem(KEY);
  let draft;
  try {
    draft = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!draft || draft.userId !== userId || typeof draft.text !== "string" || now - draft.at > KEEP_MS) return null;
  return { text: draft.text, path: /^\/c\/[A-Za-z0-9_-]{1,100}$/.test(draft.path || "") ? draft.path : "/" };
}
