// Buying: create-order -> Razorpay Checkout (its script loaded from the configured URL) ->
// verify-payment. Resolves with how it ended; never throws. The server's snapshot in
// verify-payment's answer reaches the header through the API client (newest walletVersion wins),
// so a webhook that credited first is neither counted twice nor shown stale.

const scripts = new Map();

export function loadScript(url) {
  if (!scripts.has(url)) {
    scripts.set(url, new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = url;
      s.async = true;
      s.onload = () => resolve();
      s.onerror = () => {
        scripts.delete(url);
        s.remove();
        reject(new Error("Razorpay Checkout could not be loaded. Check your connection and retry."));
      };
      document.head.append(s);
    }));
  }
  return scripts.get(url);
}

/** -> {kind: "paid", data} | {kind: "failed", reason} | {kind: "dismissed"} | {kind: "error", message} */
export async function buy(plan, { api, config, onFailedAttempt }) {
  let order;
  try {
    const cfg = await config();
    const url = cfg.razorpay && cfg.razorpay.checkoutUrl;
    if (!url) return { kind: "error", message: "Payments are not available on this server." };
    order = await api(`/api/plans/${encodeURIComponent(plan.id)}/create-order`, { method: "POST" });
    await loadScript(url);
    if (typeof window.Razorpay !== "function") throw new Error("Razorpay Checkout did not start.");
  } catch (err) {
    return { kind: "error", message: err.message };
  }
  return new Promise((resolve) => {
    let verifying = false;
    let failure = null;
    const checkout = new window.Razorpay({
      key: order.keyId,
      amount: order.amount,
      currency: order.currency,
      order_id: order.orderId,
      name: "AI Pasta",
      description: plan.name,
      prefill: order.prefill || {},
      notes: { planId: plan.id },
      theme: { color: "#b8441a" },
      handler: async (response) => {
        verifying = true;
        try {
          const data = await api(`/api/plans/${encodeURIComponent(plan.id)}/verify-payment`, {
            method: "POST",
            body: {
              razorpay_order_id: response.razorpay_order_id,
              razorpay_payment_id: response.razorpay_payment_id,
              razorpay_signature: response.razorpay_signature,
            },
          });
          resolve({ kind: "paid", data });
        } catch (err) {
          resolve({ kind: "error", message: `${err.message} If you were charged, the payment is credited as soon as Razorpay confirms it.` });
        }
      },
      modal: {
        ondismiss: () => {
          if (!verifying) resolve(failure ? { kind: "failed", reason: failure } : { kind: "dismissed" });
        },
      },
    });
    checkout.on("payment.failed", (r) => {
      const e = (r && r.error) || {};
      failure = e.description || e.reason || "declined";
      if (onFailedAttempt) onFailedAttempt(failure);
    });
    checkout.open();
  });
}
