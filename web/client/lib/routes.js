// Addresses: `/` is a new chat, `/c/<sessionId>` a conversation.

export function sessionFromPath(pathname) {
  const m = /^\/c\/([A-Za-z0-9_-]{1,100})\/?$/.exec(pathname);
  return m ? m[1] : null;
}

export function pathFor(sessionId) {
  return sessionId ? `/c/${encodeURIComponent(sessionId)}` : "/";
}
