/* A stand-in for https://accounts.google.com/gsi/client (tests only): google.accounts.id with
 * initialize({client_id, callback}) and renderButton(parent, options). Its button asks the
 * stand-in server for an ID token signed by the local Google (tests/fakes/google_jwks.py) and
 * hands it to the callback as {credential, select_by}, as Google's button does. */
(function () {
  var origin = new URL(document.currentScript.src).origin;
  var config = null;
  function initialize(options) {
    if (!options || !options.client_id) throw new Error("[GSI_LOGGER]: Missing required parameter 'client_id'.");
    config = options;
  }
  function renderButton(parent) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "gsi-standin-button";
    button.textContent = "Continue with Google";
    button.style.padding = "10px 16px";
    button.style.border = "1px solid #747775";
    button.style.borderRadius = "20px";
    button.style.background = "#fff";
    button.style.color = "#1f1f1f";
    button.addEventListener("click", function () {
      fetch(origin + "/gsi/token?client_id=" + encodeURIComponent(config.client_id))
        .then(function (r) { return r.json(); })
        .then(function (r) { config.callback({ credential: r.credential, select_by: "btn" }); });
    });
    parent.replaceChildren(button);
  }
  window.google = window.google || {};
  window.google.accounts = window.google.accounts || {};
  window.google.accounts.id = { initialize: initialize, renderButton: renderButton, prompt: function () {}, disableAutoSelect: function () {} };
})();
