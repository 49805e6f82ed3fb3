// One function per page; each fills the card. Answers are the REST API's (docs/account.md).

import { h } from "../ui/dom.js";
import { head, post } from "./common.js";
import { receiptPage } from "./receipt.js";

const TOKEN_KEY = "aipasta.token";

/** The one-time token from `#token=…`, removed from the address (history, screenshots). */
export function takeToken(loc, hist) {
  const token = new URLSearchParams(loc.hash.replace(/^#/, "")).get("token");
  if (loc.hash) hist.replaceState(null, "", loc.pathname + loc.search);
  return token;
}

export function pageFor(pathname) {
  if (pathname === "/forgot-password") return forgotPage;
  if (pathname === "/reset-password") return resetPage;
  if (pathname === "/verify-email") return verifyPage;
  if (pathname === "/confirm-email") return confirmEmailPage;
  if (pathname.startsWith("/receipt/")) return receiptPage;
  return (card) => card.replaceChildren(h("p", {}, h("a", { href: "/", text: "Go to AI Pasta" })));
}

function notice(kind, text, ...extra) {
  return h(`p.notice.${kind}`, { role: kind === "error" ? "alert" : "status" }, text, ...extra);
}

const backToLogin = () => h("p", {}, h("a", { href: "/", text: "Back to log in" }));
const newLinkFor = (where) => h("a", { href: where, text: "Ask for a new link" });

function field(label, input, hint) {
  input.id = `f-${input.name}`;
  const hintNode = hint ? h("span.muted.hint", { id: `${input.id}-hint`, text: hint }) : null;
  if (hintNode) input.setAttribute("aria-describedby", hintNode.id);
  return h("label", { for: input.id }, label, input, hintNode);
}

function forgotPage(card) {
  head(card, "Forgot your password?", "Enter your account's email address. We mail you a link to choose a new password; it works once, for 30 minutes.");
  const email = h("input", { name: "email", type: "email", autocomplete: "email", required: true, maxlength: "254" });
  const error = h("p.error", { role: "alert" });
  const submit = h("button.primary.wide", { type: "submit", text: "Send the link" });
  const form = h("form", { novalidate: true }, field("Email", email), submit, error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    if (!email.value.trim() || !email.checkValidity()) {
      error.textContent = "Enter the email address you signed up with.";
      return email.focus();
    }
    submit.disabled = true;
    const res = await post("/api/auth/forgot-password", { email: email.value.trim() });
    submit.disabled = false;
    if (!res.ok) {
      error.textContent = res.message;
      return;
    }
    form.replaceWith(notice("success", `If an account uses ${email.value.trim()}, a link to reset its password is on its way. Check your spam folder if it does not arrive in a few minutes.`));
  });
  card.append(form, backToLogin());
  email.focus();
}

function resetPage(card, { token }) {
  head(card, "Choose a new password", "Every device signed in to your account is signed out; this one is signed in with the new password.");
  if (!token) {
    card.append(notice("error", "This link is incomplete: open the whole link from the mail. ", newLinkFor("/forgot-password")), backToLogin());
    return;
  }
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", minlength: "8", maxlength: "128", required: true });
  const show = h("input", { name: "show", type: "checkbox" });
  show.addEventListener("change", () => (password.type = show.checked ? "text" : "password"));
  const error = h("p.error", { id: "reset-error", role: "alert" });
  const submit = h("button.primary.wide", { type: "submit", text: "Set the new password" });
  const form = h("form", { novalidate: true },
    field("New password", password, "At least 8 characters and hard to guess: a few unrelated words work well."),
    h("label.check", { for: "f-show" }, show, " Show the password"),
    submit, error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    if (password.value.length < 8) {
      error.textContent = "The password needs at least 8 characters.";
      return password.focus();
    }
    submit.disabled = true;
    const res = await post("/api/auth/reset-password", { token, password: password.value });
    submit.disabled = false;
    if (res.ok) {
      localStorage.setItem(TOKEN_KEY, res.data.token);
      form.replaceWith(notice("success", "Your password is set and you are signed in. Opening AI Pasta…"));
      setTimeout(() => location.assign("/"), 600);
      return;
    }
    if (res.code === "INVALID_LINK") {
      form.replaceWith(notice("error", `${res.message} `, newLinkFor("/forgot-password")));
      return;
    }
    error.textContent = res.message;
    password.setAttribute("aria-invalid", "true");
    password.focus();
  });
  card.append(form, backToLogin());
  password.focus();
}

/** A page whose link is confirmed with one button (not on load: a mail scanner that opens
 * links must not use them up). */
function confirmPage(card, token, { title, lead, button, path, done }) {
  head(card, title, lead);
  if (!token) {
    card.append(notice("error", "This link is incomplete: open the whole link from the mail."), backToLogin());
    return;
  }
  const go = h("button.primary.wide", { type: "button", text: button });
  const out = h("div", { "aria-live": "polite" });
  go.addEventListener("click", async () => {
    go.disabled = true;
    const res = await post(path, { token });
    if (res.ok) {
      go.remove();
      out.replaceChildren(notice("success", done(res.data)), h("p", {}, h("a", { href: localStorage.getItem(TOKEN_KEY) ? "/account" : "/", text: "Continue to AI Pasta" })));
    } else {
      go.disabled = false;
      out.replaceChildren(notice("error", res.message));
      if (res.code === "INVALID_LINK") go.remove();
    }
  });
  card.append(go, out);
  go.focus();
}

function verifyPage(card, { token }) {
  confirmPage(card, token, {
    title: "Confirm your email address",
    lead: "Confirming your address lets you buy tokens and plans, create API keys and change your address.",
    button: "Confirm my address",
    path: "/api/auth/verify-email",
    done: (d) => `${d.email} is confirmed. Thank you!`,
  });
}

function confirmEmailPage(card, { token }) {
  confirmPage(card, token, {
    title: "Confirm your new address",
    lead: "Your account moves to the address this mail was sent to; we tell your old address.",
    button: "Confirm my new address",
    path: "/api/auth/confirm-email",
    done: (d) => `Your account's address is now ${d.email}.`,
  });
}
