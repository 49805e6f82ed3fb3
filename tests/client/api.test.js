import { test } from "node:test";
import assert from "node:assert/strict";
import { createApi } from "../../web/client/core/api.js";

const answer = (status, body) => async () => ({ status, json: async () => body });

test("only a 401 for the token the tab still uses ends the session; a wrong password does not", async () => {
  let token = "t1";
  const ended = [];
  const api = createApi({ getToken: () => token, onSnapshot: () => {}, onUnauthorized: (e) => ended.push(e.details.reason) });
  const original = globalThis.fetch;
  try {
    globalThis.fetch = answer(400, { status: "error", code: "WRONG_PASSWORD", message: "The current password is wrong.", details: { field: "currentPassword" } });
    await assert.rejects(api("/api/user/password", { method: "PUT", body: {} }), (e) => e.code === "WRONG_PASSWORD" && e.status === 400);
    globalThis.fetch = answer(403, { status: "error", code: "FORBIDDEN", message: "Sign in again", details: { reason: "FRESH_SIGN_IN_REQUIRED" } });
    await assert.rejects(api("/api/user/password"));
    assert.deepEqual(ended, []);
    globalThis.fetch = async () => {
      token = "t2"; // a new sign-in in this tab while the old request was out
      return { status: 401, json: async () => ({ status: "error", code: "UNAUTHORIZED", message: "x", details: { reason: "LOGGED_OUT" } }) };
    };
    await assert.rejects(api("/api/auth/me"));
    assert.deepEqual(ended, []);
    globalThis.fetch = answer(401, { status: "error", code: "UNAUTHORIZED", message: "You were signed out", details: { reason: "SIGNED_OUT_EVERYWHERE" } });
    await assert.rejects(api("/api/auth/me"), (e) => e.status === 401);
    assert.deepEqual(ended, ["SIGNED_OUT_EVERYWHERE"]);
  } finally {
    globalThis.fetch = original;
  }
});
