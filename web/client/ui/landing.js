// The public page before sign-in: what AI Pasta is, the free allowance and the plans on sale,
// read from the public `GET /api/config` and `GET /api/plans`.

import { $, h } from "./dom.js";
import { fmtPrice, isPack, planFacts } from "../lib/money.js";
import { count } from "../lib/words.js";

let shown = false;

export async function showLanding(config) {
  if (shown) return;
  shown = true;
  const [cfg, plans] = await Promise.all([
    config().catch(() => ({})),
    fetch("/api/plans").then((r) => r.json()).then((j) => (j.data && j.data.plans) || []).catch(() => []),
  ]);
  const free = cfg.free;
  if (free) {
    $("#landing-free").textContent = `A new account gets ${count(free.tokens, "free token")} and ${count(free.requestsPerDay, "request")} a day on free models. No card needed; tokens never expire.`;
  }
  const items = plans.filter((p) => p.isActive !== false).map((p) => h("li", {},
    h("strong", { text: p.name }),
    h("span.price", { text: fmtPrice(p.price, p.currency) }),
    h("span.facts", { text: ` · ${planFacts(p).filter((f) => !f.startsWith("≈")).join(" · ")}${isPack(p) ? " · a token pack" : ""}` })));
  $("#landing-plans").replaceChildren(...(items.length ? items : [h("li", { text: "Plans are shown once the service has them set up." })]));
}
