// The app: wires the API, the socket and the components, and owns the conversation state.
// Everything user-specific lives in `state` and is dropped whole on logout.

import { createApi } from "./core/api.js";
import { Socket } from "./core/socket.js";
import { pickSnapshot } from "./lib/snapshot.js";
import { applyFrame, newStream } from "./lib/stream.js";
import { addAnswer, buildTurns, lastModels } from "./lib/turns.js";
import { pathFor, sessionFromPath } from "./lib/routes.js";
import { adviceFor, fittingMaxTokens } from "./lib/errors.js";
import { estimateSend } from "./lib/models.js";
import { fileName, toJSON, toMarkdown } from "./lib/exporter.js";
import { $, copyText, download, fmtInt, h } from "./ui/dom.js";
import { announce } from "./ui/announcer.js";
import { askDialog, confirmDialog } from "./ui/dialog.js";
import { setupAuth } from "./ui/auth.js";
import { setupTheme } from "./ui/theme.js";
import { Sidebar } from "./ui/sidebar.js";
import { Picker } from "./ui/picker.js";
import { Conversation } from "./ui/conversation.js";
import { Attachments } from "./ui/attach.js";
import { isLive, scheduleRender, scrollToBottom } from "./ui/answer.js";
import { Screens } from "./screens/index.js";
import { planForError } from "./lib/money.js";
import { setupGoogle } from "./account/google.js";
import { keepDraft, takeDraft } from "./lib/draft.js";

const TOKEN_KEY = "aipasta.token";
const LOW_BALANCE = 1000;

function freshState() {
  return {
    token: null,
    user: null,
    models: [],
    limits: { maxModels: 5, maxTokensPerRequest: 4000, maxMessageChars: 32000 },
    defaults: [],
    sessionId: null,
    session: null,
    turns: [],
    answers: new Map(),
    pending: new Map(),
    estimateApi: true,
    estimate: null,
    openGen: 0,
  };
}

let state = freshState();

const api = createApi({
  getToken: () => state.token,
  // Only the signed-in user's own snapshots: an admin's answers carry other users' (`data.user`).
  onSnapshot: (snap) => (!state.user || !snap || snap.id === state.user.id) && showUser(snap),
  onUnauthorized: (err) => sessionOver(err),
});

const socket = new Socket({
  onFrame,
  onOpen: resubscribe,
  onState: (up) => {
    $("#conn").classList.toggle("up", up);
    $("#conn").setAttribute("aria-label", up ? "Connected" : "Reconnecting");
    $("#conn").title = up ? "Connected" : "Reconnecting…";
  },
  onUnauthorized: () => sessionOver(null),
});

let sidebar;
let picker;
let conversation;
let auth;
let screens;
let attachments;

// -- start, login, logout ------------------------------------------------------------------------

export function boot() {
  setupTheme($("#theme"));
  auth = setupAuth({ api, onLoggedIn: (token, user) => start(token, user) });
  sidebar = new Sidebar({ api, onOpen: (id) => navigate(id), onAction: sessionAction });
  attachments = new Attachments({
    input: $("#attach-input"), button: $("#attach"), list: $("#attachments"), announce,
    onChange: () => picker && refreshEstimate(),
  });
  picker = new Picker({
    onChange: () => refreshEstimate(),
    onShown: () => attachments.setAllowed(picker.takesImages()),
  });
  conversation = new Conversation({ answers: state.answers, onAnswerAction: answerAction, onEdit: userAction });
  setupComposer();
  setupChrome();
  screens = new Screens({ api, getUser: () => state.user, go, announce, logout, setToken: (t) => {
    state.token = t;
    localStorage.setItem(TOKEN_KEY, t);
    socket.close();
    socket.connect(t);
  } });
  setupGoogle({ api, config: () => screens.config(), onLoggedIn: (token, user) => start(token, user) });
  window.addEventListener("popstate", () => state.token && route());
  window.addEventListener("storage", onStorage);
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) start(token).catch(() => state.token && logout(false)); // a 401 signed out already, saying why
  else showAuth();
}

async function start(token, user) {
  state.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  const me = user || (await api("/api/auth/me")).user;
  showUser(me);
  $("#auth-view").hidden = true;
  $("#app").hidden = false;
  socket.connect(token);
  const [models, limits, profile] = await Promise.all([
    api("/api/models", { query: { limit: 500 } }).catch(() => ({ models: [] })),
    api("/api/chat/limits").catch(() => ({})),
    api("/api/user/profile").catch(() => ({})),
  ]);
  if (state.token !== token) return; // logged out meanwhile
  if (limits.limits) state.limits = limits.limits;
  state.estimateApi = Boolean(state.limits.estimate);
  state.models = models.models || [];
  $("#max-tokens").max = String(state.limits.maxTokensPerRequest);
  picker.setModels(state.models, state.limits.maxModels);
  const prefs = (profile.user && profile.user.preferences) || {};
  if (prefs.maxTokens) $("#max-tokens").value = String(Math.min(prefs.maxTokens, state.limits.maxTokensPerRequest));
  state.temperature = Number.isFinite(prefs.temperature) ? prefs.temperature : null;
  state.defaults = (prefs.defaultModels || []).filter((id) => state.models.some((m) => m.modelId === id));
  if (!state.defaults.length) {
    const def = await api("/api/models/default").catch(() => null);
    if (def && def.model) state.defaults = [def.model.modelId];
  }
  renderWelcome();
  const draft = takeDraft(sessionStorage, me.id);
  if (draft && location.pathname === "/") history.replaceState(null, "", draft.path);
  await Promise.all([sidebar.refresh().catch(() => {}), route()]);
  if (draft && state.token === token) {
    $("#prompt").value = draft.text;
    autosize($("#prompt"));
    announce("Your unsent message is back in the message box.");
  }
}

/** The server ended this session (signed out everywhere, password changed or reset elsewhere,
 * logged out in another tab, expired): say why on the login screen and keep the unsent message
 * for when the same user signs in here again. `err` is the 401 (or the socket's error frame);
 * null when the socket closed 4401 without one, then the API is asked why. */
async function sessionOver(err) {
  const token = state.token;
  if (!token) return;
  if (!err) {
    try {
      await api("/api/auth/me");
      socket.connect(token); // the session is fine after all
      return;
    } catch (e) {
      if (state.token !== token) return; // the API's 401 signed out with its reason
      err = e;
    }
  }
  const kept = state.user && keepDraft(sessionStorage, state.user.id, $("#prompt").value, location.pathname);
  logout(false);
  const why = (err && err.message) || "Your session ended. Please log in again.";
  auth.tell(kept ? `${why} Your unsent message is kept: it comes back when you log in.` : why);
}

/** Another tab of this browser changed the shared token: logged out there (ask the API why
 * this one ended), or a new token for the same user (a password change there): use it. */
async function onStorage(e) {
  if (e.key !== TOKEN_KEY || !state.token || e.newValue === state.token) return;
  if (!e.newValue) return sessionOver(null);
  const res = await fetch("/api/auth/me", { headers: { Authorization: `Bearer ${e.newValue}` } }).catch(() => null);
  const json = res && res.ok ? await res.json().catch(() => null) : null;
  if (json && state.user && json.data.user.id === state.user.id) {
    state.token = e.newValue;
    socket.connect(e.newValue);
  }
}

function showAuth() {
  $("#app").hidden = true;
  $("#auth-view").hidden = false;
  $("#auth-email").focus();
}

/** Forget everything of this user: the token, the socket, the conversation, the models, the
 * form, the sidebar, cached estimates. The next user on this tab starts from nothing. */
async function logout(tellServer = true) {
  const token = state.token;
  socket.close();
  if (tellServer && token) {
    fetch("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
  }
  for (const key of Object.keys(localStorage)) if (key.startsWith("aipasta.") && key !== "aipasta.theme") localStorage.removeItem(key);
  state = freshState();
  conversation.answers = state.answers;
  conversation.clear();
  sidebar.reset();
  screens.reset();
  picker.setModels([], 5);
  picker.setSelected([], { quiet: true });
  $("#composer").reset();
  $("#max-tokens").value = "1024";
  clearSendError();
  for (const id of ["#wallet", "#plan", "#who", "#estimate", "#low-balance"]) $(id).textContent = "";
  $("#welcome").hidden = false;
  if (location.pathname !== "/") history.replaceState(null, "", "/");
  document.title = "AI Pasta";
  auth.reset();
  showAuth();
}

function showUser(snap) {
  const next = pickSnapshot(state.user, snap);
  if (!next || next === state.user) return;
  state.user = next;
  const t = next.tokens;
  const low = t.balance < LOW_BALANCE;
  $("#wallet").textContent = `${fmtInt(t.balance)} tokens`;
  $("#wallet").classList.toggle("low", low);
  $("#wallet").title = t.reserved ? `${fmtInt(t.reserved)} held for answers in progress` : "Your balance";
  $("#plan").textContent = next.subscription ? next.subscription.plan : "";
  $("#who").textContent = next.name || next.email;
  checkBalance();
  screens.userChanged(next);
}

// -- routes and sessions -------------------------------------------------------------------------

function navigate(sessionId) {
  if (sessionId !== state.sessionId || location.pathname !== pathFor(sessionId)) {
    history.pushState(null, "", pathFor(sessionId));
  }
  closeDrawer();
  return route();
}

/** Go to an address of the app (a chat or a screen: /wallet, /account, /admin). */
function go(path) {
  if (location.pathname + location.search !== path) history.pushState(null, "", path);
  closeDrawer();
  return route();
}

function route() {
  if (screens.show(location.pathname)) return Promise.resolve();
  if (!$("#screen").hidden) screens.hide();
  const id = sessionFromPath(location.pathname);
  return id ? openSession(id) : newChat();
}

/** Answers of other conversations are dropped (reopening one rebuilds it from the server). */
function forgetAnswers() {
  state.answers.clear();
  updateStopAll();
}

function newChat() {
  state.openGen += 1;
  forgetAnswers();
  state.sessionId = null;
  state.session = null;
  state.turns = [];
  conversation.clear();
  picker.setSelected(state.defaults, { quiet: true });
  sidebar.setActive(null);
  document.title = "AI Pasta";
  $("#welcome").hidden = false;
  refreshEstimate();
}

async function loadAllMessages(sessionId) {
  const messages = [];
  let session = null;
  for (let page = 1; page < 100; page++) {
    const data = await api(`/api/chat/sessions/${encodeURIComponent(sessionId)}`, { query: { page, limit: 200 } });
    session = data.session;
    messages.push(...(data.messages || []));
    if (!data.pagination || page >= data.pagination.totalPages) break;
  }
  return { session, messages };
}

async function openSession(sessionId) {
  const gen = ++state.openGen;
  forgetAnswers();
  state.sessionId = sessionId;
  sidebar.setActive(sessionId);
  $("#welcome").hidden = true;
  conversation.clear();
  let data;
  try {
    data = await loadAllMessages(sessionId);
  } catch (err) {
    if (gen !== state.openGen) return;
    history.replaceState(null, "", "/");
    newChat();
    showSendError({ code: err.code, message: err.code === "NOT_FOUND" ? "That conversation does not exist (or is not yours)." : err.message });
    return;
  }
  if (gen !== state.openGen) return;
  state.session = data.session;
  document.title = `${data.session.title || "Chat"} · AI Pasta`;
  for (const m of data.messages) if (m.role === "assistant") state.answers.set(m.id, answerFromMessage(m));
  state.turns = buildTurns(data.messages);
  conversation.renderAll(state.turns);
  const models = lastModels(state.turns);
  picker.setSelected(models.length ? models : state.defaults, { quiet: true });
  refreshEstimate();
  requestAnimationFrame(scrollToBottom);
  for (const a of state.answers.values()) if (isLive(a)) socket.send({ type: "subscribe", messageId: a.id, afterSeq: a.stream.seq });
}

function answerFromMessage(m) {
  const live = m.status === "pending" || m.status === "streaming";
  // A live answer replays from its first chunk (the buffer keeps them all): no gap, no duplicate.
  const stream = live ? newStream(0, "") : { ...newStream(m.lastSeq || 0, m.content || ""), final: m.status };
  return {
    id: m.id,
    modelId: m.modelId,
    status: m.status,
    stream,
    usage: m.usage,
    charged: live ? undefined : m.charged,
    ttftMs: m.ttftMs ?? null,
    tps: m.tokensPerSecond ?? null,
    error: m.error && m.error.message ? m.error : null,
  };
}

function newAnswer(id, modelId, sentAt) {
  return { id, modelId, status: "pending", stream: newStream(), sentAt, firstAt: null, endAt: null, ttftMs: null, tps: null };
}

async function sessionAction(act, sessionId) {
  const s = sidebar.find(sessionId) || (state.session && state.session.sessionId === sessionId ? state.session : { sessionId, title: "" });
  try {
    if (act === "rename") {
      const title = await askDialog("Rename conversation", "Title", s.title || "");
      if (!title) return;
      await api(`/api/chat/sessions/${encodeURIComponent(sessionId)}`, { method: "PATCH", body: { title } });
      announce("Renamed");
      if (sessionId === state.sessionId) document.title = `${title} · AI Pasta`;
    } else if (act === "pin") {
      await api(`/api/chat/sessions/${encodeURIComponent(sessionId)}`, { method: "PATCH", body: { pinned: !s.pinned } });
      announce(s.pinned ? "Unpinned" : "Pinned");
    } else if (act === "delete") {
      const ok = await confirmDialog("Delete this conversation?", `“${s.title || "New chat"}” and all its messages will be deleted. This cannot be undone.`);
      if (!ok) return;
      await api(`/api/chat/sessions/${encodeURIComponent(sessionId)}`, { method: "DELETE" });
      announce("Conversation deleted");
      if (sessionId === state.sessionId) await navigate(null);
    } else if (act === "export-md" || act === "export-json") {
      const { session, messages } = await loadAllMessages(sessionId);
      if (act === "export-md") download(fileName(session, "md"), toMarkdown(session, messages), "text/markdown");
      else download(fileName(session, "json"), toJSON(session, messages), "application/json");
      return;
    }
    await sidebar.refresh();
    if (sidebar.query) sidebar.runSearch();
  } catch (err) {
    announce(err.message);
  }
}

// -- sending -------------------------------------------------------------------------------------

function setupComposer() {
  const prompt = $("#prompt");
  $("#composer").addEventListener("submit", (e) => {
    e.preventDefault();
    submitComposer();
  });
  prompt.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitComposer();
    }
  });
  let timer = null;
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(refreshEstimate, 300);
  };
  prompt.addEventListener("input", () => {
    later();
    autosize(prompt);
  });
  $("#max-tokens").addEventListener("input", later);
  $("#stop-all").addEventListener("click", stopAll);
  $("#send-error").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (b) runAction(b.dataset.action);
  });
  $("#low-balance").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (b) runAction(b.dataset.action, state.balanceAdvice);
  });
}

function autosize(area) {
  area.style.height = "auto";
  area.style.height = `${Math.min(area.scrollHeight, window.innerHeight * 0.4)}px`;
}

function maxTokens() {
  const n = Number($("#max-tokens").value);
  return Number.isInteger(n) && n > 0 ? n : 1024;
}

function submitComposer() {
  const text = $("#prompt").value.trim();
  clearSendError();
  if (!text) return;
  if (!picker.selected.length) {
    showSendError({ code: "VALIDATION_ERROR", message: "Pick at least one model.", details: { field: "models" } });
    return;
  }
  sendTurn(text, { kind: "compose" });
}

/** Send a new user turn (or a regenerate when `parentId`); the UI changes only on `accepted`. */
function sendTurn(text, { kind, parentId = null, models = picker.selected, editor = null }) {
  const requestId = newRequestId();
  const frame = { type: "chat.send", requestId, message: text, models: [...models], options: { maxTokens: maxTokens() } };
  const images = kind === "compose" ? [...attachments.urls] : [];
  if (images.length) frame.images = images;
  if (Number.isFinite(state.temperature)) frame.options.temperature = state.temperature;
  if (state.sessionId) frame.sessionId = state.sessionId;
  if (parentId) frame.parentId = parentId;
  let turn = null;
  if (!parentId) {
    turn = { userMessageId: null, text, images, groups: [] };
    state.turns.push(turn);
    $("#welcome").hidden = true;
    conversation.appendTurn(turn);
    turn.node.classList.add("sending");
    scrollToBottom();
  }
  state.pending.set(requestId, { kind, text, turn, parentId, sentAt: performance.now(), editor, sessionId: state.sessionId });
  $("#send").disabled = true;
  socket.send(frame);
}

function onAccepted(f) {
  const p = state.pending.get(f.requestId);
  if (!p) return;
  state.pending.delete(f.requestId);
  $("#send").disabled = false;
  if (p.sessionId !== state.sessionId) return; // the user moved on; the sidebar shows it
  const isNew = !state.sessionId;
  state.sessionId = f.sessionId;
  if (p.kind === "compose" && $("#prompt").value.trim() === p.text) {
    $("#prompt").value = "";
    autosize($("#prompt"));
    attachments.clear();
  }
  if (p.editor) p.editor();
  let turn = p.turn;
  if (p.parentId) turn = state.turns.find((t) => t.userMessageId === p.parentId);
  if (!turn) return;
  turn.userMessageId = f.userMessageId || turn.userMessageId;
  turn.node.classList.remove("sending");
  for (const m of f.messages) {
    state.answers.set(m.messageId, newAnswer(m.messageId, m.modelId, p.sentAt));
    addAnswer(turn, m.modelId, m.messageId);
  }
  conversation.renderGroups(turn);
  updateStopAll();
  if (isNew) {
    history.pushState(null, "", pathFor(f.sessionId));
    sidebar.setActive(f.sessionId);
  }
  sidebar.refresh().catch(() => {});
  refreshEstimate();
}

function onRefused(f) {
  const p = state.pending.get(f.requestId);
  if (!p) return;
  state.pending.delete(f.requestId);
  $("#send").disabled = false;
  if (p.turn) {
    p.turn.node.remove();
    state.turns = state.turns.filter((t) => t !== p.turn);
    if (!state.turns.length) $("#welcome").hidden = false;
  }
  state.lastFailed = { text: p.text, kind: p.kind, parentId: p.parentId };
  showSendError(f);
  if (p.kind === "compose") $("#prompt").focus();
}

function showSendError(err) {
  const advice = adviceFor(err);
  state.lastError = err;
  const labels = { upgrade: "See plans", lowerMaxTokens: "Lower max tokens", pickModel: "Pick another model", retry: "Retry" };
  const box = $("#send-error");
  box.replaceChildren(
    h("span.error-text", { text: advice.message }),
    ...advice.actions.map((a) => h("button.ghost.small", { type: "button", "data-action": a, text: labels[a] })),
  );
  box.hidden = false;
}

function clearSendError() {
  $("#send-error").replaceChildren();
  $("#send-error").hidden = true;
}

/** The action a refusal (or the low-balance notice, `from`) offered. */
async function runAction(action, from = state.lastError) {
  const err = from || {};
  if (action === "pickModel") {
    clearSendError();
    picker.focus();
  } else if (action === "lowerMaxTokens") {
    const fit = fittingMaxTokens(err.details || {}, maxTokens(), picker.selected.length || 1);
    const fallback = Math.max(1, Math.floor(maxTokens() / 2));
    $("#max-tokens").value = String(fit || fallback);
    clearSendError();
    refreshEstimate();
    $("#max-tokens").focus();
    announce(`Max tokens set to ${$("#max-tokens").value}`);
  } else if (action === "retry") {
    clearSendError();
    const last = state.lastFailed;
    if (last && last.parentId) sendTurn(last.text, { kind: "regenerate", parentId: last.parentId });
    else submitComposer();
  } else if (action === "upgrade") {
    const plans = await api("/api/plans").then((d) => d.plans || []).catch(() => []);
    const plan = planForError(err, plans, state.user);
    go(plan ? `/wallet?plan=${encodeURIComponent(plan.id)}` : "/wallet");
  }
}

// -- the estimate and the balance ----------------------------------------------------------------

function historyTurns() {
  const turns = [];
  for (const t of state.turns) {
    if (t.text) turns.push({ role: "user", content: t.text });
    const g = t.groups[0];
    const a = g && state.answers.get(g.answers[g.shown]);
    if (a) turns.push({ role: "assistant", content: a.stream.text });
  }
  return turns;
}

async function refreshEstimate() {
  if (!state.token) return;
  const text = $("#prompt").value.trim();
  const models = picker.selected.map((id) => state.models.find((m) => m.modelId === id)).filter(Boolean);
  if (!models.length) {
    state.estimate = null;
    $("#estimate").textContent = "";
    checkBalance();
    return;
  }
  let estimate = null;
  // Over the size limit the send is refused anyway (413, said when sent); estimate locally.
  if (state.estimateApi && text && text.length <= state.limits.maxMessageChars) {
    const body = { message: text, models: models.map((m) => m.modelId), options: { maxTokens: maxTokens() } };
    if (state.sessionId) body.sessionId = state.sessionId;
    if (attachments.urls.length) body.images = attachments.urls;
    try {
      estimate = await api("/api/chat/estimate", { method: "POST", body });
    } catch (err) {
      if (err.status === 404 || err.status === 405) state.estimateApi = false;
    }
  }
  if (!estimate || !Number.isFinite(estimate.total)) {
    estimate = estimateSend(models, [...historyTurns(), { role: "user", content: text }], maxTokens());
  }
  state.estimate = estimate;
  $("#estimate").textContent = `Up to ${fmtInt(estimate.total)} tokens`;
  $("#estimate").title = "What this send holds from your balance; unused tokens come back when the answer ends.";
  checkBalance();
}

/** Say so before a send would fail for want of tokens. */
function checkBalance() {
  const box = $("#low-balance");
  const u = state.user;
  if (!u || !state.estimate) {
    box.replaceChildren();
    return;
  }
  const balance = u.tokens.balance;
  if (balance < state.estimate.total) {
    const text = `Your balance (${fmtInt(balance)} tokens) is below what this send holds (${fmtInt(state.estimate.total)}).`;
    if (box.dataset.text !== text) {
      box.dataset.text = text;
      box.replaceChildren(h("span", { text }),
        h("button.ghost.small", { type: "button", "data-action": "lowerMaxTokens", text: "Lower max tokens" }),
        h("button.ghost.small", { type: "button", "data-action": "upgrade", text: "See plans" }));
      state.balanceAdvice = { code: "INSUFFICIENT_TOKENS", details: { required: state.estimate.total, available: balance } };
    }
  } else {
    box.dataset.text = "";
    box.replaceChildren();
  }
}

// -- frames --------------------------------------------------------------------------------------

function onFrame(f) {
  if (f.user) showUser(f.user);
  switch (f.type) {
    case "accepted":
      onAccepted(f);
      return;
    case "error":
      if (f.requestId && state.pending.has(f.requestId)) onRefused(f);
      else if (f.messageId) onStreamFrame(f);
      else if (f.code === "UNAUTHORIZED") sessionOver(f);
      return;
    case "chunk":
    case "done":
    case "cancelled":
      onStreamFrame(f);
      return;
    default:
  }
}

function onStreamFrame(f) {
  const a = state.answers.get(f.messageId);
  if (!a) return;
  const before = a.stream;
  a.stream = applyFrame(before, f);
  if (a.stream === before) return;
  if (a.stream.gap) {
    socket.send({ type: "subscribe", messageId: a.id, afterSeq: a.stream.seq });
    return;
  }
  const now = performance.now();
  if (f.type === "chunk") {
    if (!a.firstAt) a.firstAt = now;
    a.status = "streaming";
  } else {
    a.status = a.stream.final;
    a.endAt = now;
    if (f.usage) a.usage = f.usage;
    if (f.charged !== undefined) a.charged = f.charged;
    if (f.type === "error") a.error = { message: f.message, code: f.code };
    updateStopAll();
    if (f.type === "done") announce(`${a.modelId} finished`, { quiet: true });
    if (f.type === "done" && !a.sentAt) fillServerStats(a); // resumed: this tab did not time it
  }
  scheduleRender(a);
}

/** The server's own time to first token and tokens/s for an answer this tab did not send. */
function fillServerStats(a) {
  api(`/api/chat/messages/${encodeURIComponent(a.id)}`)
    .then((d) => {
      a.ttftMs = d.message.ttftMs ?? null;
      a.tps = d.message.tokensPerSecond ?? null;
      scheduleRender(a);
    })
    .catch(() => {});
}

/** After a (re)connect: pick up every live answer where it stands. */
function resubscribe() {
  for (const a of state.answers.values()) {
    if (isLive(a)) socket.send({ type: "subscribe", messageId: a.id, afterSeq: a.stream.seq });
  }
}

function liveAnswers() {
  return [...state.answers.values()].filter(isLive);
}

function stopAll() {
  for (const a of liveAnswers()) socket.send({ type: "cancel", messageId: a.id });
}

function updateStopAll() {
  const n = liveAnswers().length;
  $("#stop-all").hidden = n === 0;
  $("#stop-all").textContent = n > 1 ? `Stop all (${n})` : "Stop";
}

// -- actions on answers and user messages --------------------------------------------------------

function turnOfAnswer(id) {
  return state.turns.find((t) => t.groups.some((g) => g.answers.includes(id)));
}

function answerAction(act, id, button) {
  if (act === "copy-code") {
    const code = button.closest(".code-block").querySelector("code");
    copyText(code.textContent, button);
    return;
  }
  const a = state.answers.get(id);
  if (!a) return;
  const turn = turnOfAnswer(id);
  const group = turn && turn.groups.find((g) => g.answers.includes(id));
  if (act === "stop") socket.send({ type: "cancel", messageId: id });
  else if (act === "copy") copyText(a.stream.text, button);
  else if (act === "regenerate" && turn && turn.userMessageId) {
    clearSendError();
    sendTurn(turn.text, { kind: "regenerate", parentId: turn.userMessageId, models: [a.modelId] });
  } else if (act === "continue") {
    picker.setSelected([a.modelId]);
    announce(`Continuing with ${a.modelId}`);
    $("#prompt").focus();
  } else if ((act === "prev" || act === "next") && group) {
    group.shown = Math.max(0, Math.min(group.answers.length - 1, group.shown + (act === "next" ? 1 : -1)));
    conversation.renderGroups(turn);
    const card = turn.node.querySelector(`.answer[data-group="${CSS.escape(group.modelId)}"] [data-act=${act}]`);
    if (card && !card.disabled) card.focus();
  }
}

function userAction(act, turnNode, button) {
  const turn = state.turns.find((t) => t.node === turnNode);
  if (!turn) return;
  if (act === "copy-user") {
    copyText(turn.text, button);
    return;
  }
  conversation.edit(turnNode, turn.text, (text) => {
    if (!text) return "Write something first.";
    if (!picker.selected.length) return "Pick at least one model.";
    return new Promise((resolve) => {
      sendTurn(text, { kind: "edit", editor: () => resolve(true) });
      // A refusal shows in the composer's error area; the editor keeps its text.
      setTimeout(() => resolve(false), 15_000);
    });
  });
}

// -- chrome: drawer, keys, welcome ---------------------------------------------------------------

function setupChrome() {
  $("#logout").addEventListener("click", () => logout(true));
  $("#new-chat").addEventListener("click", () => {
    navigate(null);
    $("#prompt").focus();
  });
  $("#menu").addEventListener("click", () => (document.body.classList.contains("drawer-open") ? closeDrawer() : openDrawer()));
  $("#scrim").addEventListener("click", closeDrawer);
  $("#welcome").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-prompt]");
    if (!b) return;
    $("#prompt").value = b.dataset.prompt;
    autosize($("#prompt"));
    $("#prompt").focus();
    refreshEstimate();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || e.defaultPrevented || $("#dialog").open) return;
    if (document.body.classList.contains("drawer-open")) {
      closeDrawer();
      return;
    }
    if (liveAnswers().length) {
      e.preventDefault();
      stopAll();
      announce("Stopping");
    }
  });
}

function openDrawer() {
  document.body.classList.add("drawer-open");
  $("#menu").setAttribute("aria-expanded", "true");
  $("#scrim").hidden = false;
  $("#search").focus();
}

function closeDrawer() {
  if (!document.body.classList.contains("drawer-open")) return;
  document.body.classList.remove("drawer-open");
  $("#menu").setAttribute("aria-expanded", "false");
  $("#scrim").hidden = true;
}

const EXAMPLES = [
  "Explain how a hash map works, with a small Python example",
  "Compare three note-taking methods in a table",
  "Show the quadratic formula in LaTeX and derive it",
  "Plan a 3-day trip to Kyoto as a checklist",
];

function renderWelcome() {
  const u = state.user;
  const limits = (u && u.subscription && u.subscription.limits) || {};
  const plan = (u && u.subscription && u.subscription.plan) || "free";
  const facts = [
    `${fmtInt(u ? u.tokens.balance : 0)} tokens in your wallet`,
    limits.requestsPerDay ? `${fmtInt(limits.requestsPerDay)} requests a day` : "unlimited requests a day",
    limits.tokensPerMonth ? `${fmtInt(limits.tokensPerMonth)} tokens a month` : null,
    plan === "free" ? "free models included; paid models need the pro plan" : "paid models included",
  ].filter(Boolean);
  $("#welcome").replaceChildren(
    h("h1", { text: `What shall we cook up${u && u.name ? `, ${u.name.split(" ")[0]}` : ""}?` }),
    h("p.plan-limits", {}, h("strong", { text: `Your ${plan} plan: ` }), facts.join(" · ")),
    h("div.examples", { role: "group", "aria-label": "Example prompts" },
      EXAMPLES.map((text) => h("button.example", { type: "button", "data-prompt": text, text }))),
  );
}

/** A send's requestId is its idempotency key for 24 h (docs/websocket.md): unique per send, not
 * per page load (a counter would repeat after a reload). getRandomValues works on plain http too. */
function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `r-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
