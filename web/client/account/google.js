// "Sign in with Google": Google Identity Services' script (from GOOGLE_GIS_URL, told by
// /api/config) renders its button when the server has GOOGLE_CLIENT_ID; the ID token it hands
// back goes to POST /api/auth/google. Nothing shows when Google is not configured.

import { $ } from "../ui/dom.js";
import { loadScript } from "../wallet/checkout.js";

export async function setupGoogle({ api, config, onLoggedIn }) {
  const box = $("#google-signin");
  if (!box) return;
  const cfg = await config();
  if (!cfg.google || !cfg.google.clientId) return;
  try {
    await loadScript(cfg.google.scriptUrl);
  } catch {
    return; // Google unreachable: email and password still work
  }
  const gis = window.google && window.google.accounts && window.google.accounts.id;
  if (!gis) return;
  gis.initialize({
    client_id: cfg.google.clientId,
    callback: async (response) => {
      $("#auth-error").textContent = "";
      try {
        const data = await api("/api/auth/google", { method: "POST", body: { idToken: response.credential } });
        await onLoggedIn(data.token, data.user);
      } catch (err) {
        $("#auth-error").textContent = err.message;
      }
    },
  });
  box.hidden = false;
  gis.renderButton(box.querySelector(".google-button"), { type: "standard", theme: "outline", size: "large", text: "continue_with", width: 300 });
}
