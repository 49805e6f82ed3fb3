// The login / registration form.

import { $ } from "./dom.js";
import { plainMessage } from "../lib/errors.js";

export function setupAuth({ api, onLoggedIn }) {
  let registering = false;
  const setMode = (on) => {
    registering = on;
    $("#name-row").hidden = !on;
    $("#auth-title").textContent = on ? "Create your account" : "Log in";
    $("#auth-submit").textContent = on ? "Create account" : "Log in";
    $("#auth-switch").textContent = on ? "Have an account? Log in" : "New here? Create an account";
    $("#auth-password").autocomplete = on ? "new-password" : "current-password";
    // What is checked is strength (docs/security.md), so the hint says that, not only a length.
    $("#password-hint").hidden = !on;
    if (on) $("#auth-password").setAttribute("aria-describedby", "password-hint");
    else $("#auth-password").removeAttribute("aria-describedby");
    $("#auth-forgot").hidden = on;
  };
  $("#auth-switch").addEventListener("click", () => setMode(!registering));
  $("#auth-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("#auth-error").textContent = "";
    $("#auth-notice").hidden = true;
    const email = $("#auth-email").value.trim();
    const body = { email, password: $("#auth-password").value };
    if (registering) body.name = $("#auth-name").value.trim() || email.split("@")[0];
    $("#auth-submit").disabled = true;
    try {
      const data = await api(`/api/auth/${registering ? "register" : "login"}`, { method: "POST", body });
      $("#auth-form").reset();
      setMode(false);
      await onLoggedIn(data.token, data.user);
    } catch (err) {
      $("#auth-error").textContent = plainMessage(err.message);
    } finally {
      $("#auth-submit").disabled = false;
    }
  });
  return {
    reset: () => {
      $("#auth-form").reset();
      setMode(false);
      $("#auth-error").textContent = "";
      $("#auth-notice").hidden = true;
    },
    /** A word above the form (why the user is here: their account was deleted). */
    notice: (title, text) => {
      const box = $("#auth-notice");
      box.replaceChildren(Object.assign(document.createElement("h2"), { textContent: title }), Object.assign(document.createElement("p"), { textContent: text }));
      box.classList.add("success");
      box.hidden = false;
      box.focus();
    },
    /** Why this tab was signed out (the server's reason), above the form. */
    tell: (text) => {
      $("#auth-notice").classList.remove("success");
      $("#auth-notice").textContent = text;
      $("#auth-notice").hidden = !text;
    },
  };
}
