// Around the conversation: the phone drawer and the welcome screen of a new chat.

import { $, fmtInt, h } from "./dom.js";
import { count } from "../lib/words.js";

export function openDrawer() {
  document.body.classList.add("drawer-open");
  $("#menu").setAttribute("aria-expanded", "true");
  $("#scrim").hidden = false;
  $("#search").focus();
}

/** Close the drawer; false when it was not open. */
export function closeDrawer() {
  if (!document.body.classList.contains("drawer-open")) return false;
  document.body.classList.remove("drawer-open");
  $("#menu").setAttribute("aria-expanded", "false");
  $("#scrim").hidden = true;
  return true;
}

export function setupDrawer() {
  $("#menu").addEventListener("click", () => (document.body.classList.contains("drawer-open") ? closeDrawer() : openDrawer()));
  $("#scrim").addEventListener("click", closeDrawer);
}

const EXAMPLES = [
  "Explain how a hash map works, with a small Python example",
  "Compare three note-taking methods in a table",
  "Show the quadratic formula in LaTeX and derive it",
  "Plan a 3-day trip to Kyoto as a checklist",
];

/** The welcome of a new chat: the user's plan in one line and example prompts
 * (`onExample(text)` when one is picked). */
export function renderWelcome(user, onExample) {
  const limits = (user && user.subscription && user.subscription.limits) || {};
  const plan = (user && user.subscription && user.subscription.plan) || "free";
  const facts = [
    `${fmtInt(user ? user.tokens.balance : 0)} tokens in your wallet`,
    limits.requestsPerDay ? `${count(limits.requestsPerDay, "request")} a day` : "unlimited requests a day",
    plan === "free" ? "free models included; paid models need the pro plan" : "paid models included",
  ].filter(Boolean);
  $("#welcome").replaceChildren(
    h("h1", { text: `What shall we cook up${user && user.name ? `, ${user.name.split(" ")[0]}` : ""}?` }),
    h("p.plan-limits", {}, h("strong", { text: `Your ${plan} plan: ` }), facts.join(" · ")),
    h("div.examples", { role: "group", "aria-label": "Example prompts" },
      EXAMPLES.map((text) => h("button.example", { type: "button", "data-prompt": text, text, onclick: () => onExample(text) }))),
  );
}
