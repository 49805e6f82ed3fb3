// The printable receipt of one payment (GET /api/user/payments/<id>/receipt), the same facts
// as the receipt mail. Needs the signed-in token this browser keeps.

import { h } from "../ui/dom.js";
import { fmtPrice } from "../lib/money.js";
import { head } from "./common.js";

const TOKEN_KEY = "aipasta.token";

function dateText(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString("en-GB", { dateStyle: "long", timeStyle: "short", timeZone: "UTC" }) + " UTC";
}

export async function receiptPage(card) {
  document.querySelector("#links").classList.add("receipt-page");
  const orderId = decodeURIComponent(location.pathname.split("/")[2] || "");
  const token = localStorage.getItem(TOKEN_KEY);
  head(card, "Receipt");
  if (!token) {
    card.append(h("p.notice.error", { role: "alert" }, "Log in to see your receipts. ", h("a", { href: "/", text: "Log in" })));
    return;
  }
  let res;
  try {
    res = await fetch(`/api/user/payments/${encodeURIComponent(orderId)}/receipt`, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
  } catch {
    card.append(h("p.notice.error", { role: "alert", text: "The server cannot be reached. Check your connection and retry." }));
    return;
  }
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const signIn = res.status === 401 ? h("a", { href: "/", text: " Log in again" }) : null;
    card.append(h("p.notice.error", { role: "alert" }, json.message || `HTTP ${res.status}`, signIn));
    return;
  }
  card.append(render(json.data.receipt));
}

function render(r) {
  const money = (paise) => fmtPrice(paise, r.currency);
  const row = (label, value, cls) => h(`tr${cls ? `.${cls}` : ""}`, {}, h("th", { scope: "row", text: label }), h("td", { text: value }));
  const refunds = r.refunds.length
    ? h("section.receipt-refunds", { "aria-labelledby": "refunds-title" },
      h("h2", { id: "refunds-title", text: "Refunds" }),
      h("ul", {}, r.refunds.map((f) => h("li", { text: `${money(f.amount)} on ${dateText(f.at)} (${f.id}); ${Number(f.tokens).toLocaleString("en-US")} tokens taken back` }))))
    : null;
  return h("article.receipt", { "aria-label": `Receipt ${r.number}` },
    h("div.receipt-actions", {},
      h("button.primary", { type: "button", text: "Print or save as PDF", onclick: () => window.print() }),
      h("a", { href: "/wallet", text: "Back to the wallet" })),
    h("div.receipt-parties", {},
      h("div", {}, h("h2", { text: "Paid to" }), h("p", { text: r.seller.name }), r.seller.gstin ? h("p", { text: `GSTIN ${r.seller.gstin}` }) : null),
      h("div", {}, h("h2", { text: "Paid by" }), h("p", { text: r.customer.name }), h("p", { text: r.customer.email }))),
    h("table.receipt-lines", {},
      h("caption.sr-only", { text: "What was paid" }),
      h("tbody", {},
        row("Receipt", r.number),
        row("Date", dateText(r.paidAt)),
        row("Item", `${r.item.name} (${r.item.kindText})`),
        r.item.durationDays ? row("Plan", `${r.item.plan} for ${r.item.durationDays} days`) : null,
        row("Tokens added", Number(r.tokens).toLocaleString("en-US")),
        row("Amount paid", money(r.amount), "total"),
        r.gst ? row(`GST included (${r.gst.percentText} %)`, money(r.gst.included)) : null,
        r.gst ? row("Taxable value", money(r.gst.taxable)) : null,
        row("Payment id", r.paymentId),
        row("Order id", r.razorpayOrderId),
        r.refundedAmount ? row("Refunded", money(r.refundedAmount)) : null)),
    refunds);
}
