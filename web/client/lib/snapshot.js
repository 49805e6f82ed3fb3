// Which user snapshot to show: frames and responses arrive out of order (a REST answer can land
// after a newer websocket frame). Keep the highest `walletVersion`; without versions, the newest
// by arrival. A snapshot of another user (after logout and login) always replaces the old one.

export function pickSnapshot(current, incoming) {
  if (!incoming || !incoming.tokens) return current;
  if (!current || current.id !== incoming.id) return incoming;
  const have = current.walletVersion;
  const got = incoming.walletVersion;
  if (Number.isFinite(have) && Number.isFinite(got)) return got >= have ? incoming : current;
  if (Number.isFinite(have) && !Number.isFinite(got)) return current;
  return incoming;
}
