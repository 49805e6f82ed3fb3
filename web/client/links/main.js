// The pages a mail links to (forgot / reset password, confirm an address, confirm a new
// address) and the printable receipt: web/static/links.html, bundled as dist/links.js. They
// work signed in or not; a link's one-time token is read from the address's `#token=` part
// and removed from the address bar at once.
import "../styles/app.css";
import "../styles/screens.css";
import "../styles/links.css";
import { applyTheme } from "../ui/theme.js";
import { pageFor, takeToken } from "./pages.js";

function start() {
  applyTheme(null);
  const token = takeToken(location, history);
  const card = document.querySelector("#links-card");
  pageFor(location.pathname)(card, { token });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
