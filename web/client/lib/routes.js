// Addresses: `/` is a new chat, `/c/<sessionId>` a conversation, `?leaf=<messageId>` one of its
// branches (the branch through that message).

export function sessionFromPath(pathname) {
  const m = /^\/c\/([A-Za-z0-9_-]{1,100})\/?$/.exec(pathname);
  return m ? m[1] : null;
}

export function pathFor(sessionId, leaf = null) {
  if (!sessionId) return "/";
  const base = `/c/${encodeURIComponent(sessionId)}`;
  return leaf ? `${base}?leaf=${encodeURIComponent(leaf)}` : base;
}

/** The branch an address names (`?leaf=`), or null. */
export function leafFromSearch(search) {
  const leaf = new URLSearchParams(search || "").get("leaf");
  return leaf && /^[A-Za-z0-9_-]{1,100}$/.test(leaf) ? leaf : null;
}
