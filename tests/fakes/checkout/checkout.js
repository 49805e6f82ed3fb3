/* A stand-in for https://checkout.razorpay.com/v1/checkout.js (tests only).
 * window.Razorpay(options): open() shows a full-page frame from this script's origin;
 * on("payment.failed", fn); options.handler(response) on success; options.modal.ondismiss()
 * when the frame is closed without paying. */
(function () {
  var script = document.currentScript;
  var origin = new URL(script.src).origin;

  function Razorpay(options) {
    if (!(this instanceof Razorpay)) return new Razorpay(options);
    if (!options || !options.key) throw new Error("Razorpay: the key is required");
    this.options = options;
    this.listeners = {};
  }

  Razorpay.prototype.on = function (event, fn) {
    (this.listeners[event] = this.listeners[event] || []).push(fn);
  };

  Razorpay.prototype.open = function () {
    var self = this;
    var o = self.options;
    var q = new URLSearchParams({
      key: o.key,
      order_id: o.order_id || "",
      amount: String(o.amount || ""),
      currency: o.currency || "INR",
      name: o.name || "",
      description: o.description || "",
      email: (o.prefill && o.prefill.email) || "",
    });
    fetch(origin + "/v1/checkout/opened", { method: "POST", body: JSON.stringify(Object.fromEntries(q)) }).catch(function () {});
    var frame = document.createElement("iframe");
    frame.className = "razorpay-checkout-frame";
    frame.title = "Razorpay Checkout";
    frame.src = origin + "/v1/checkout/frame?" + q;
    var s = frame.style;
    s.position = "fixed";
    s.inset = "0";
    s.width = "100%";
    s.height = "100%";
    s.border = "0";
    s.zIndex = "2147483647";
    s.background = "transparent";
    function close() {
      window.removeEventListener("message", onMessage);
      frame.remove();
    }
    function onMessage(e) {
      if (e.origin !== origin || e.source !== frame.contentWindow || !e.data || e.data.rzpStandIn !== true) return;
      var d = e.data;
      if (d.event === "success") {
        close();
        if (typeof o.handler === "function") o.handler(d.response);
      } else if (d.event === "failed") {
        (self.listeners["payment.failed"] || []).forEach(function (fn) { fn(d.response); });
      } else if (d.event === "dismiss") {
        close();
        if (o.modal && typeof o.modal.ondismiss === "function") o.modal.ondismiss();
      }
    }
    window.addEventListener("message", onMessage);
    document.body.appendChild(frame);
    self.close = close;
  };

  window.Razorpay = Razorpay;
})();
