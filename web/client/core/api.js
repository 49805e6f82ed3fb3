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
    if (token && token === getToken()) onSnapshot(json.user || (json.data && json.data.user));
    if (res.status === 401 && token) onUnauthorized();
    if (json.status !== "success") throw new ApiError(res.status, json);
    return json.data || {};
  };
}
