// The audit log in words: "admin@x granted 5,000 tokens to Ann (ann@x)". Pure
// (tests/client/audit.test.js).

import { count } from "./words.js";

const int = (n) => Number(n || 0).toLocaleString("en-US");
const KIND_NAMES = { message: "a message", session: "a conversation", attempt: "a blocked attempt" };

function actorOf(e) {
  if (!e.admin) return "Someone";
  if (e.admin.id === "cli") return "A server command";
  return e.admin.email || `user ${e.admin.id}`;
}

function targetOf(e) {
  const t = e.target || {};
  if (t.type === "user") {
    if (t.email) return t.name ? `${t.name} (${t.email})` : t.email;
    return `user ${t.id}`;
  }
  if (t.type === "term") return `the term “${t.id}”`;
  return KIND_NAMES[t.type] ? `${KIND_NAMES[t.type]} (${t.id})` : `${t.type} ${t.id}`;
}

/** One sentence: who did what to whom. */
export function describeAudit(e) {
  const who = actorOf(e);
  const whom = targetOf(e);
  const after = e.after || {};
  const before = e.before || {};
  const [kind, verb] = String(e.action || "").split(".");
  switch (e.action) {
    case "tokens.grant":
      return `${who} granted ${count(after.amount, "token")} to ${whom}`;
    case "tokens.deduct":
      return `${who} took ${count(after.amount, "token")} from ${whom}`;
    case "tokens.reset":
      return `${who} topped up the free tokens of ${whom} by ${int(after.amount)}`;
    case "user.role":
      return `${who} changed the role of ${whom} from ${before.role || "?"} to ${after.role || "?"}`;
    case "user.activate":
      return `${who} reactivated ${whom}`;
    case "user.deactivate":
      return `${who} deactivated ${whom}`;
    case "user.ban":
      return `${who} banned ${whom}`;
    case "term.add":
      return `${who} blocked ${whom}`;
    case "term.remove":
      return `${who} unblocked ${whom}`;
    case "apikey.create":
      return `${who} created an API key${after.name ? ` “${after.name}”` : ""}`;
    case "apikey.revoke":
      return `${who} revoked an API key${before.name ? ` “${before.name}”` : ""}`;
    default:
      break;
  }
  const verbs = { flag: "flagged", dismiss: "dismissed the flag on", hide: "hid", unhide: "unhid", remove: "removed the content of" };
  if (KIND_NAMES[kind] && verbs[verb]) return `${who} ${verbs[verb]} ${whom}`;
  return `${who} did ${e.action} on ${whom}`;
}

/** The reason given, if any (grants, deductions, deactivations, bans). */
export function auditReason(e) {
  const after = e.after || {};
  return after.reason || after.deactivatedReason || (after.moderation && after.moderation.reason) || "";
}

const LABELS = { balance: "balance", freeTokens: "free tokens", purchasedTokens: "purchased tokens", reserved: "held", role: "role", isActive: "active" };

/** What changed, in words: "balance 10,000 → 15,000; purchased tokens 0 → 5,000". */
export function auditChanges(e) {
  const before = e.before || {};
  const after = e.after || {};
  const show = (v) => (typeof v === "number" ? int(v) : typeof v === "boolean" ? (v ? "yes" : "no") : String(v ?? "—"));
  return Object.keys(LABELS)
    .filter((k) => k in after && (!(k in before) || before[k] !== after[k]))
    .map((k) => (k in before ? `${LABELS[k]} ${show(before[k])} → ${show(after[k])}` : `${LABELS[k]} ${show(after[k])}`))
    .join("; ");
}
