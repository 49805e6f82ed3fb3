// The REST API: JSON in and out, the bearer token, errors as ApiError. Every user snapshot in a
// response goes to `onSnapshot` (the store keeps the newest by walletVersion).

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || (status === 0 ? "NETWORK" : "ERROR");
    this.details = body.details || {};
  }
}

export function createApi({ getToken, onSnapshot, onUnauthorized }) {
  return async function api(path, { method = "GET", body, query } = {}) {
    const token = getToken();
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    const url = query ? `${path}?${new URLSearchParams(query)}` : path;
    let res;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, { message: "The server cannot be reached. Check your connection and retry." });
    }
    const json = await res.json().catch(() => ({ status: "error", message: `HTTP ${res.status}` }));
    const current = token && token === getToken();
    if (current) onSnapshot(json.user || (json.data && json.data.user));
    // 401 means "this session is over" and nothing else (docs/client.md): a wrong password is
    // 400, a stale sign-in 403. An answer for a token this tab no longer uses changes nothing.
    if (res.status === 401 && current) onUnauthorized(new ApiError(401, json));
    if (json.status !== "success") throw new ApiError(res.status, json);
    return json.data || {};
  };
}
