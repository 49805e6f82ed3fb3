// "Confirm your address" where an action needs a confirmed one (buying, API keys, changing the
// address), with a button that mails a new link (POST /api/auth/verify-email/resend).

import { h } from "../ui/dom.js";

/** A notice for an unconfirmed `user` (null when confirmed); `purpose` ends "Confirm … to ". */
export function verifyNotice(ctx, user, purpose) {
  if (!user || user.emailVerified) return null;
  const said = h("span.verify-status", { role: "status" });
  const button = h("button.ghost.small", { type: "button", text: "Send a new link" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    said.textContent = "";
    try {
      const data = await ctx.api("/api/auth/verify-email/resend", { method: "POST" });
      said.textContent = data.emailVerified
        ? " Your address is confirmed already: reload the page."
        : ` A new link is on its way to ${data.email}; it works for 24 hours.`;
    } catch (err) {
      said.textContent = ` ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
  return h("div.notice.verify-notice", { "data-verify": "needed" },
    h("p", {}, h("strong", { text: "Confirm your email address " }),
      `to ${purpose}. We mailed a link to ${user.email} when you signed up; open it, or ask for a new one.`),
    h("p", {}, button, said));
}
