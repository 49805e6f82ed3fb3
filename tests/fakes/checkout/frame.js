/* The stand-in's payment frame: pays or declines through the local Razorpay, tells the page. */
(function () {
  var q = new URLSearchParams(location.search);
  var amount = Number(q.get("amount")) / 100;
  var money = amount.toLocaleString("en-IN", { style: "currency", currency: q.get("currency") || "INR" });
  document.getElementById("title").textContent = q.get("name") || "Checkout";
  document.getElementById("desc").textContent = q.get("description");
  document.getElementById("amount").textContent = money;
  document.getElementById("who").textContent = q.get("email");
  document.getElementById("pay").textContent = "Pay " + money;
  function tell(event, response) {
    parent.postMessage({ rzpStandIn: true, event: event, response: response }, "*");
  }
  function post(path) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: q.get("key"), order_id: q.get("order_id") }),
    }).then(function (r) { return r.json(); });
  }
  document.getElementById("pay").addEventListener("click", function () {
    post("/v1/checkout/pay").then(function (r) {
      if (r.error) document.getElementById("error").textContent = r.error.description;
      else tell("success", r);
    });
  });
  document.getElementById("decline").addEventListener("click", function () {
    post("/v1/checkout/decline").then(function (r) {
      document.getElementById("error").textContent = r.error.description + " Try again or close.";
      tell("failed", r);
    });
  });
  document.getElementById("close").addEventListener("click", function () { tell("dismiss", null); });
  document.getElementById("pay").focus();
  document.documentElement.dataset.ready = "true"; // the buttons answer from here on
})();
