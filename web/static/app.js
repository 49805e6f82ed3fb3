// AI Pasta browser client: REST for accounts, models and history; /ws for streaming chat.
// Speaks the protocol in DESIGN.md. All user and model text is rendered with textContent.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

const state = {
  token: localStorage.getItem("aipasta.token"),
  user: null,
  sessionId: null,
  models: [],
  selected: JSON.parse(localStorage.getItem("aipasta.models") || "[]"),
  answers: new Map(), // messageId -> {node, text, seq, status}
  pending: new Map(), // requestId -> turn node
  ws: null,
  wsReady: false,
  outbox: [],
  requestSeq: 0,
  registering: false,
};

// -- REST --------------------------------------------------------------------------------------

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const res = await fetch(path, { ...options, headers: { ...headers, ...(options.headers || {}) } });
  const body = await res.json().catch(() => ({ status: "error", message: `HTTP ${res.status}` }));
  const snapshot = body.user || (body.data && body.data.user);
  if (snapshot) showUser(snapshot);
  if (res.status === 401 && state.token) logout();
  if (body.status !== "success") {
    const err = new Error(body.message || `HTTP ${res.status}`);
    err.code = body.code;
    err.details = body.details;
    throw err;
  }
  return body.data;
}

// -- accounts ----------------------------------------------------------------------------------

function showAuth() {
  $("#app-view").hidden = true;
  $("#auth-view").hidden = false;
}

function setRegistering(on) {
  state.registering = on;
  $("#name-row").hidden = !on;
  $("#auth-submit").textContent = on ? "Create account" : "Log in";
  $("#auth-switch").textContent = on ? "Have an account? Log in" : "New here? Create an account";
}

async function submitAuth(event) {
  event.preventDefault();
  $("#auth-error").textContent = "";
  const body = { email: $("#auth-email").value, password: $("#auth-password").value };
  if (state.registering) body.name = $("#auth-name").value || body.email.split("@")[0];
  try {
    const data = await api(`/api/auth/${state.registering ? "register" : "login"}`, {
      method: "POST",
      body: JSON.stringify(body),
    });
    state.token = data.token;
    localStorage.setItem("aipasta.token", data.token);
    await start(data.user);
  } catch (err) {
    $("#auth-error").textContent = err.message;
  }
}

function logout() {
  if (state.token) fetch("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${state.token}` } });
  state.token = null;
  localStorage.removeItem("aipasta.token");
  if (state.ws) state.ws.close();
  showAuth();
}

function showUser(user) {
  if (!user || !user.tokens) return;
  // Snapshots arrive out of order (several streams, REST and the socket): keep the newest wallet.
  const shown = state.user;
  if (shown && shown.id === user.id && (user.walletVersion || 0) < (shown.walletVersion || 0)) return;
  state.user = user;
  const t = user.tokens;
  $("#wallet").textContent = `${t.balance.toLocaleString()} tokens` + (t.reserved ? ` (${t.reserved.toLocaleString()} held)` : "");
  $("#plan").textContent = user.subscription ? user.subscription.plan : "";
  $("#who").textContent = user.name || user.email;
}

// -- models ------------------------------------------------------------------------------------

async function loadModels() {
  const data = await api("/api/models?limit=500");
  state.models = data.models;
  if (!state.selected.length) {
    const def = await api("/api/models/default").catch(() => null);
    const first = def && def.model && def.model.modelId;
    if (first) state.selected = [first];
  }
  renderChips();
  if ($("#model-search").value) renderModelList(); // someone typed while the list was loading
}

function renderChips() {
  const chips = $("#model-chips");
  chips.replaceChildren();
  for (const id of state.selected) {
    const chip = el("span", "chip", `${id} ×`);
    chip.title = "Remove";
    chip.onclick = () => { state.selected = state.selected.filter((m) => m !== id); saveSelection(); };
    chips.append(chip);
  }
}

function saveSelection() {
  localStorage.setItem("aipasta.models", JSON.stringify(state.selected));
  renderChips();
}

function renderModelList() {
  const q = $("#model-search").value.toLowerCase();
  const list = $("#model-list");
  list.replaceChildren();
  const hits = state.models.filter((m) => !q || m.modelId.toLowerCase().includes(q) || (m.name || "").toLowerCase().includes(q));
  for (const m of hits.slice(0, 50)) {
    const li = el("li");
    const label = m.typicalCost ? `≈ ${m.typicalCost.toLocaleString()} tokens/answer` : "";
    const price = el("span", m.isFree ? "free" : "muted", m.isFree ? `free · ${label}` : label);
    if (m.rates) price.title = `${m.rates.prompt} tokens per 1K in, ${m.rates.completion} per 1K out`;
    li.append(el("span", "", m.name || m.modelId), price);
    li.onmousedown = (e) => {
      e.preventDefault();
      if (!state.selected.includes(m.modelId) && state.selected.length < 4) state.selected.push(m.modelId);
      saveSelection();
      $("#model-search").value = "";
      list.hidden = true;
    };
    list.append(li);
  }
  list.hidden = hits.length === 0;
}

// -- sessions ----------------------------------------------------------------------------------

async function loadSessions() {
  const data = await api("/api/chat/sessions?limit=50");
  const list = $("#sessions");
  list.replaceChildren();
  for (const s of data.sessions || []) {
    const li = el("li", s.sessionId === state.sessionId ? "active" : "", s.title || "New chat");
    li.onclick = () => openSession(s.sessionId);
    list.append(li);
  }
}

async function openSession(sessionId) {
  state.sessionId = sessionId;
  state.answers.clear();
  $("#messages").replaceChildren();
  const data = await api(`/api/chat/sessions/${encodeURIComponent(sessionId)}?limit=200`);
  const turns = new Map();
  for (const m of data.messages || []) {
    if (m.role === "user") {
      turns.set(m.id, addTurn(m.content));
    } else if (m.role === "assistant") {
      const turn = turns.get(m.parentId) || addTurn("");
      const a = addAnswer(turn, m.id, m.modelId);
      a.text = m.content || "";
      finishAnswer(a, m.status, m);
      if (m.status === "pending" || m.status === "streaming") {
        a.text = "";
        setStatus(a, "streaming");
        send({ type: "subscribe", messageId: m.id, afterSeq: 0 });
      }
    }
  }
  loadSessions();
}

function newChat() {
  state.sessionId = null;
  state.answers.clear();
  $("#messages").replaceChildren();
  loadSessions();
}

// -- the conversation view ---------------------------------------------------------------------

function addTurn(text) {
  const turn = el("div", "turn");
  if (text) turn.append(el("div", "user-msg", text));
  turn.append(el("div", "answers"));
  $("#messages").append(turn);
  turn.scrollIntoView({ block: "end" });
  return turn;
}

function addAnswer(turn, messageId, modelId) {
  const node = el("div", "answer streaming");
  const head = el("div", "head");
  head.append(el("span", "model", modelId), el("span", "status", "waiting…"));
  const text = el("div", "text");
  const foot = el("div", "foot");
  const cancel = el("button", "link cancel", "Stop");
  cancel.onclick = () => send({ type: "cancel", messageId });
  foot.append(el("span", "cost", ""), cancel);
  node.append(head, text, foot);
  node.dataset.messageId = messageId;
  turn.querySelector(".answers").append(node);
  const answer = { node, text: "", seq: 0, status: "pending", messageId };
  state.answers.set(messageId, answer);
  return answer;
}

function setStatus(a, status) {
  a.status = status;
  a.node.className = `answer ${status}`;
  a.node.querySelector(".status").textContent = status === "streaming" ? "streaming…" : status;
  a.node.querySelector(".cancel").hidden = !(status === "streaming" || status === "pending");
}

function finishAnswer(a, status, info = {}) {
  setStatus(a, status);
  a.node.querySelector(".text").textContent = a.text;
  const parts = [];
  const r = info.receipt;
  if (r) {
    const split = r.fromPurchased ? ` (${r.fromFree} free + ${r.fromPurchased} purchased)` : "";
    parts.push(`${r.charged} tokens${split}`);
    const est = r.estimated ? " (estimated)" : "";
    parts.push(`${r.promptTokens} in × ${r.rates.prompt}/1K + ${r.completionTokens} out × ${r.rates.completion}/1K${est}`);
  } else if (info.charged !== undefined) {
    parts.push(`${info.charged} tokens`);
  }
  if (info.error && info.error.message) parts.push(info.error.message);
  a.node.querySelector(".cost").textContent = parts.join(" · ");
}

// -- the websocket -----------------------------------------------------------------------------

function connect() {
  if (!state.token) return;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(state.token)}`);
  state.ws = ws;
  ws.onopen = () => {
    state.wsReady = true;
    $("#conn").classList.add("up");
    // Resume every stream still running where we left it.
    for (const a of state.answers.values()) {
      if (a.status === "streaming" || a.status === "pending") send({ type: "subscribe", messageId: a.messageId, afterSeq: a.seq });
    }
    while (state.outbox.length) ws.send(JSON.stringify(state.outbox.shift()));
  };
  ws.onmessage = (event) => onFrame(JSON.parse(event.data));
  ws.onclose = (event) => {
    state.wsReady = false;
    $("#conn").classList.remove("up");
    if (event.code === 4401) return logout();
    // 4503: this server is restarting; reconnect now (spread out) and resume every stream.
    if (state.token) setTimeout(connect, event.code === 4503 ? Math.random() * 500 : 1000);
  };
}

function send(frame) {
  if (state.wsReady) state.ws.send(JSON.stringify(frame));
  else state.outbox.push(frame);
}

function onFrame(f) {
  if (f.user) showUser(f.user);
  const a = f.messageId ? state.answers.get(f.messageId) : null;
  switch (f.type) {
    case "accepted": {
      state.sessionId = f.sessionId;
      const turn = state.pending.get(f.requestId);
      state.pending.delete(f.requestId);
      for (const m of f.messages) addAnswer(turn, m.messageId, m.modelId);
      loadSessions();
      break;
    }
    case "chunk":
      if (!a || f.seq <= a.seq) break; // a replayed chunk we already have
      a.seq = f.seq;
      a.text += f.delta;
      if (a.status !== "streaming") setStatus(a, "streaming");
      a.node.querySelector(".text").textContent = a.text;
      a.node.scrollIntoView({ block: "end" });
      break;
    case "done":
      if (!a) break;
      a.text = f.content;
      a.seq = f.seq;
      finishAnswer(a, "done", f);
      break;
    case "cancelled":
      if (a) finishAnswer(a, "cancelled", f);
      break;
    case "error":
      if (a) {
        finishAnswer(a, f.code === "STREAM_INTERRUPTED" ? "interrupted" : "failed", { error: f });
      } else if (f.requestId && state.pending.has(f.requestId)) {
        state.pending.get(f.requestId).remove();
        state.pending.delete(f.requestId);
        $("#send-error").textContent = f.message;
      }
      break;
  }
}

function sendMessage(event) {
  event.preventDefault();
  $("#send-error").textContent = "";
  const message = $("#prompt").value.trim();
  if (!message) return;
  if (!state.selected.length) {
    $("#send-error").textContent = "Pick at least one model.";
    return;
  }
  // The server treats a requestId as an idempotency key for 24 h: unique per send, not per page.
  const requestId = `r-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}-${++state.requestSeq}`;
  state.pending.set(requestId, addTurn(message));
  const frame = {
    type: "chat.send",
    requestId,
    message,
    models: state.selected,
    options: { maxTokens: Number($("#max-tokens").value) || 512 },
  };
  if (state.sessionId) frame.sessionId = state.sessionId;
  send(frame);
  $("#prompt").value = "";
}

// -- start -------------------------------------------------------------------------------------

async function start(user) {
  $("#auth-view").hidden = true;
  $("#app-view").hidden = false;
  showUser(user || (await api("/api/auth/me")).user);
  connect();
  await Promise.all([loadModels().catch((e) => { $("#send-error").textContent = e.message; }), loadSessions()]);
}

document.addEventListener("DOMContentLoaded", () => {
  $("#auth-form").onsubmit = submitAuth;
  $("#auth-switch").onclick = (e) => { e.preventDefault(); setRegistering(!state.registering); };
  $("#logout").onclick = logout;
  $("#new-chat").onclick = newChat;
  $("#composer").onsubmit = sendMessage;
  $("#prompt").onkeydown = (e) => { if (e.key === "Enter" && !e.shiftKey) sendMessage(e); };
  $("#model-search").oninput = renderModelList;
  $("#model-search").onfocus = renderModelList;
  $("#model-search").onblur = () => { $("#model-list").hidden = true; };
  if (state.token) start().catch(() => showAuth());
  else showAuth();
});
