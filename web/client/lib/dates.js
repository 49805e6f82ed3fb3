// Grouping conversations by date for the sidebar (local calendar days).

const DAY = 86_400_000;

function startOfDay(t) {
  const d = new Date(t);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function dateGroup(iso, now = Date.now()) {
  const t = Date.parse(iso || "");
  if (Number.isNaN(t)) return "Older";
  const today = startOfDay(now);
  if (t >= today) return "Today";
  if (t >= today - DAY) return "Yesterday";
  if (t >= today - 7 * DAY) return "Previous 7 days";
  if (t >= today - 30 * DAY) return "Previous 30 days";
  return "Older";
}

/** [{label, sessions}] in display order: pinned first, then by date, each as the list had them. */
export function groupSessions(sessions, now = Date.now()) {
  const order = ["Pinned", "Today", "Yesterday", "Previous 7 days", "Previous 30 days", "Older"];
  const groups = new Map(order.map((label) => [label, []]));
  for (const s of sessions) {
    groups.get(s.pinned ? "Pinned" : dateGroup(s.lastMessageAt || s.createdAt, now)).push(s);
  }
  return order.filter((label) => groups.get(label).length).map((label) => ({ label, sessions: groups.get(label) }));
}

/** A moment as the screens show it, in UTC: "3 Mar 2026, 14:05 UTC". */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) + " UTC";
}
