// The app: wires the API, the socket, the conversation store (lib/chat.js) and the components.
// What belongs to the signed-in user lives in `app` and the store, and is dropped whole on logout.

import { createApi } from "./core/api.js";
import { Socket } from "./core/socket.js";
import { ChatStore } from "./lib/chat.js";
import { pickSnapshot } from "./lib/snapshot.js";
import { leafFromSearch, pathFor, sessionFromPath } from "./lib/routes.js";
import { fittingMaxTokens } from "./lib/errors.js";
import { fileName, toJSON, toMarkdown } from "./lib/exporter.js";
import { planForError } from "./lib/money.js";
import { $, copyText, download, fmtInt } from "./ui/dom.js";
import { announce } from "./ui/announcer.js";
import { askDialog, confirmDialog } from "./ui/dialog.js";
import { setupAuth } from "./ui/auth.js";
import { setupTheme, useSavedTheme } from "./ui/theme.js";
import { Sidebar } from "./ui/sidebar.js";
import { Picker } from "./ui/picker.js";
import { Conversation } from "./ui/conversation.js";
import { Composer } from "./ui/composer.js";
import { Attachments } from "./ui/attach.js";
import { closeDrawer, renderWelcome, setupDrawer } from "./ui/chrome.js";
import { scheduleRender, scrollToBottom } from "./ui/answer.js";
import { setCatalog } from "./ui/names.js";
import { Screens } from "./screens/index.js";
import { setupGoogle } from "./account/google.js";
import { showLanding } from "./ui/landing.js";
import { keepDraft, takeDraft } from "./lib/draft.js";
import { count } from "./lib/words.js";

const TOKEN_KEY = "aipasta.token";
const LOW_BALANCE = 1000;
const DEFAULT_LIMITS = { maxModels: 5, maxTokensPerRequest: 4000, maxMessageChars: 32000 };

/** The signed-in user's session with the app (the conversation itself is in `store`). */
function freshApp() {
  return { token: null, user: null, models: [], limits: { ...DEFAULT_LIMITS }, defaults: [], temperature: null };
}

const app = freshApp();
const store = new ChatStore();

const api = createApi({
  getToken: () => app.token,
  // Only the signed-in user's own snapshots: an admin's answers carry other users' (`data.user`).
  onSnapshot: (snap) => (!app.user || !snap || snap.id === app.user.id) && showUser(snap),
  onUnauthorized: (err) => sessionOver(err),
});

const socket = new Socket({
  onFrame,
  onOpen: () => store.resubscribeFrames().forEach((f) => socket.send(f)),
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
let composer;
let attachments;
let auth;
let screens;

// -- start, login, logout ------------------------------------------------------------------------

export function boot() {
  setupTheme($("#theme"), (theme) => {
    if (app.token) api("/api/user/profile", { method: "PUT", body: { preferences: { theme } } }).catch(() => {});
  });
  auth = setupAuth({ api, onLoggedIn: (token, user) => start(token, user) });
  sidebar = new Sidebar({ api, onOpen: (id, leaf) => navigate(id, leaf), onAction: sessionAction });
  attachments = new Attachments({
    input: $("#attach-input"), button: $("#attach"), list: $("#attachments"), announce,
    onChange: () => composer && composer.refreshEstimate(),
  });
  picker = new Picker({
    onChange: () => composer.refreshEstimate(),
    onShown: () => attachments.setAllowed(picker.takesImages()),
  });
  conversation = new Conversation({ answers: store.answers, onAnswerAction: answerAction, onEdit: userAction });
  composer = new Composer({ api, store, picker, attachments, app, onSubmit: (text) => sendTurn(text, { kind: "compose" }), onAction: runAction, onStopAll: stopAll });
  setupChrome();
  screens = new Screens({ api, getUser: () => app.user, go, announce, logout, setToken: (t) => {
    app.token = t;
    localStorage.setItem(TOKEN_KEY, t);
    socket.close();
    socket.connect(t);
  } });
  setupGoogle({ api, config: () => screens.config(), onLoggedIn: (token, user) => start(token, user) });
  window.addEventListener("popstate", () => app.token && route());
  window.addEventListener("storage", onStorage);
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) start(token).catch(() => app.token && logout(false)); // a 401 signed out already, saying why
  else showAuth();
}

async function start(token, user) {
  app.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  const me = user || (await api("/api/auth/me")).user;
  showUser(me);
  $("#auth-view").hidden = true;
  $("#app").hidden = false;
  socket.connect(token);
  const [models, limits, profile, plans, speeds] = await Promise.all([
    api("/api/models", { query: { limit: 500 } }).catch(() => ({ models: [] })),
    api("/api/chat/limits").catch(() => ({})),
    api("/api/user/profile").catch(() => ({})),
    api("/api/plans").catch(() => ({})),
    api("/api/models/speeds").catch(() => ({})),
  ]);
  if (app.token !== token) return; // logged out meanwhile
  if (limits.limits) app.limits = limits.limits;
  composer.estimateApi = Boolean(app.limits.estimate);
  app.models = models.models || [];
  $("#max-tokens").max = String(app.limits.maxTokensPerRequest);
  picker.setModels(app.models, app.limits.maxModels);
  picker.setContext({ user: app.user, plans: plans.plans || [], speeds: speeds.speeds || {} });
  setCatalog(app.models);
  const prefs = (profile.user && profile.user.preferences) || {};
  if (prefs.theme) useSavedTheme(prefs.theme, $("#theme")); // the same on every device
  if (prefs.maxTokens) composer.setMaxTokens(Math.min(prefs.maxTokens, app.limits.maxTokensPerRequest));
  app.temperature = Number.isFinite(prefs.temperature) ? prefs.temperature : null;
  app.defaults = (prefs.defaultModels || []).filter((id) => app.models.some((m) => m.modelId === id));
  if (!app.defaults.length) {
    const def = await api("/api/models/default").catch(() => null);
    if (def && def.model) app.defaults = [def.model.modelId];
  }
  showWelcome();
  const draft = takeDraft(sessionStorage, me.id);
  if (draft && location.pathname === "/") history.replaceState(null, "", draft.path);
  await Promise.all([sidebar.refresh().catch(() => {}), route()]);
  if (draft && app.token === token) {
    composer.setText(draft.text);
    announce("Your unsent message is back in the message box.");
  }
}

/** The server ended this session (signed out everywhere, password changed or reset elsewhere,
 * logged out in another tab, expired): say why on the login screen and keep the unsent message
 * for when the same user signs in here again. `err` is the 401 (or the socket's error frame);
 * null when the socket closed 4401 without one, then the API is asked why. */
async function sessionOver(err) {
  const token = app.token;
  if (!token) return;
  if (!err) {
    try {
      await api("/api/auth/me");
      socket.connect(token); // the session is fine after all
      return;
    } catch (e) {
      if (app.token !== token) return; // the API's 401 signed out with its reason
      err = e;
    }
  }
  const kept = app.user && keepDraft(sessionStorage, app.user.id, $("#prompt").value, location.pathname);
  logout(false);
  const why = (err && err.message) || "Your session ended. Please log in again.";
  auth.tell(kept ? `${why} Your unsent message is kept: it comes back when you log in.` : why);
}

/** Another tab of this browser changed the shared token: logged out there (ask the API why
 * this one ended), or a new token for the same user (a password change there): use it. */
async function onStorage(e) {
  if (e.key !== TOKEN_KEY || !app.token || e.newValue === app.token) return;
  if (!e.newValue) return sessionOver(null);
  const res = await fetch("/api/auth/me", { headers: { Authorization: `Bearer ${e.newValue}` } }).catch(() => null);
  const json = res && res.ok ? await res.json().catch(() => null) : null;
  if (json && app.user && json.data.user.id === app.user.id) {
    app.token = e.newValue;
    socket.connect(e.newValue);
  }
}

function showAuth() {
  $("#app").hidden = true;
  $("#auth-view").hidden = false;
  $("#auth-email").focus();
  showLanding(() => screens.config());
}

/** Forget everything of this user: the token, the socket, the conversation, the models, the
 * form, the sidebar, cached estimates. The next user on this tab starts from nothing.
 * `farewell` ({title, text}) is said on the sign-in page (an account just deleted). */
async function logout(tellServer = true, farewell = null) {
  const token = app.token;
  socket.close();
  if (tellServer && token) {
    fetch("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
  }
  for (const key of Object.keys(localStorage)) if (key.startsWith("aipasta.") && key !== "aipasta.theme") localStorage.removeItem(key);
  Object.assign(app, freshApp());
  store.clear();
  conversation.clear();
  sidebar.reset();
  screens.reset();
  picker.setModels([], 5);
  picker.setContext({ user: null, plans: [], speeds: {} });
  picker.setSelected([], { quiet: true });
  composer.reset();
  for (const id of ["#wallet", "#plan", "#who"]) $(id).textContent = "";
  $("#welcome").hidden = false;
  if (location.pathname !== "/") history.replaceState(null, "", "/");
  document.title = "AI Pasta";
  auth.reset();
  showAuth();
  if (farewell) {
    document.title = `${farewell.title} · AI Pasta`;
    auth.notice(farewell.title, farewell.text);
  }
}

function showUser(snap) {
  const next = pickSnapshot(app.user, snap);
  if (!next || next === app.user) return;
  app.user = next;
  const t = next.tokens;
  $("#wallet").textContent = count(t.balance, "token");
  $("#wallet").classList.toggle("low", t.balance < LOW_BALANCE);
  $("#wallet").title = t.reserved ? `${fmtInt(t.reserved)} held for answers in progress` : "Your balance";
  $("#plan").textContent = next.subscription ? next.subscription.plan : "";
  $("#who").textContent = next.name || next.email;
  picker.setContext({ user: next });
  composer.checkBalance();
  screens.userChanged(next);
}

function showWelcome() {
  renderWelcome(app.user, (text) => {
    composer.setText(text);
    composer.focus();
    composer.refreshEstimate();
  });
}

// -- routes and sessions -------------------------------------------------------------------------

function navigate(sessionId, leaf = null) {
  const path = pathFor(sessionId, leaf);
  if (sessionId !== store.sessionId || location.pathname + location.search !== path) history.pushState(null, "", path);
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
  return id ? openSession(id, leafFromSearch(location.search)) : newChat();
}

/** A new chat keeps the models chosen (a comparison stays one); the first one of a visit
 * starts from the user's default. */
function newChat() {
  store.startNew();
  composer.showLive(0);
  conversation.clear();
  picker.setSelected(picker.selected.length ? picker.selected : app.defaults, { quiet: true });
  sidebar.setActive(null);
  document.title = "AI Pasta";
  $("#welcome").hidden = false;
  composer.refreshEstimate();
}

/** Every message of a session (`query`: `{branch: "current"}` or `{leafId}` for one branch). */
async function loadAllMessages(sessionId, query = {}) {
  const messages = [];
  let session = null;
  for (let page = 1; page < 100; page++) {
    const data = await api(`/api/chat/sessions/${encodeURIComponent(sessionId)}`, { query: { ...query, page, limit: 200 } });
    session = data.session;
    messages.push(...(data.messages || []));
    if (!data.pagination || page >= data.pagination.totalPages) break;
  }
  return { session, messages };
}

async function openSession(sessionId, leaf = null) {
  const gen = store.beginOpen(sessionId);
  composer.showLive(0);
  sidebar.setActive(sessionId);
  $("#welcome").hidden = true;
  conversation.clear();
  let data;
  try {
    data = await loadAllMessages(sessionId);
  } catch (err) {
    if (!store.isCurrent(gen)) return;
    history.replaceState(null, "", "/");
    newChat();
    composer.showError({ code: err.code, message: err.code === "NOT_FOUND" ? "That conversation does not exist (or is not yours)." : err.message });
    return;
  }
  if (!store.isCurrent(gen)) return;
  const resume = store.load(data.session, data.messages, leaf);
  document.title = `${data.session.title || "Chat"} · AI Pasta`;
  conversation.renderAll(store.turns);
  if (leaf && leaf !== store.leaf) history.replaceState(null, "", pathFor(sessionId, store.leaf));
  if (store.leaf && store.leaf !== data.session.currentLeafId) rememberBranch(store.leaf);
  const models = store.models();
  picker.setSelected(models.length ? models : app.defaults, { quiet: true });
  composer.showLive(store.live().length);
  composer.refreshEstimate();
  requestAnimationFrame(scrollToBottom);
  for (const f of resume) socket.send(f);
}

async function sessionAction(act, sessionId) {
  const open = store.session && store.session.sessionId === sessionId ? store.session : null;
  const s = sidebar.find(sessionId) || open || { sessionId, title: "" };
  const path = `/api/chat/sessions/${encodeURIComponent(sessionId)}`;
  try {
    if (act === "rename") {
      const title = await askDialog("Rename conversation", "Title", s.title || "");
      if (!title) return;
      await api(path, { method: "PATCH", body: { title } });
      announce("Renamed");
      if (sessionId === store.sessionId) document.title = `${title} · AI Pasta`;
    } else if (act === "pin") {
      await api(path, { method: "PATCH", body: { pinned: !s.pinned } });
      announce(s.pinned ? "Unpinned" : "Pinned");
    } else if (act === "delete") {
      const ok = await confirmDialog("Delete this conversation?", `“${s.title || "New chat"}” and all its messages will be deleted. This cannot be undone.`);
      if (!ok) return;
      await api(path, { method: "DELETE" });
      announce("Conversation deleted");
      if (sessionId === store.sessionId) await navigate(null);
    } else if (act === "export-md" || act === "export-json") {
      // The branch shown: this tab's for the open conversation, else the one the session shows.
      const query = sessionId === store.sessionId && store.leaf ? { leafId: store.leaf } : { branch: "current" };
      const { session, messages } = await loadAllMessages(sessionId, query);
      const leafId = query.leafId || session.currentLeafId;
      if (act === "export-md") download(fileName(session, "md"), toMarkdown(session, messages), "text/markdown");
      else download(fileName(session, "json"), toJSON(session, messages, leafId), "application/json");
      return;
    }
    await sidebar.refresh();
    if (sidebar.query) sidebar.runSearch();
  } catch (err) {
    announce(err.message);
  }
}

// -- sending -------------------------------------------------------------------------------------

/** Send a new user turn (a regenerate with `parentId`, an edit with `editOf`); the
 * conversation changes on `accepted` (a new turn shows at once, marked as sending). */
function sendTurn(text, { kind, parentId = null, editOf = null, models = picker.selected, editor = null, images = null }) {
  const options = { maxTokens: composer.maxTokens() };
  if (Number.isFinite(app.temperature)) options.temperature = app.temperature;
  const { frame, turn } = store.send({
    requestId: newRequestId(), text, kind, models, options, images: images || (kind === "compose" ? [...attachments.urls] : []), parentId, editOf, sentAt: performance.now(), extra: { editor },
  });
  if (turn) {
    $("#welcome").hidden = true;
    conversation.appendTurn(turn);
    scrollToBottom();
  }
  composer.setBusy(true);
  socket.send(frame);
}

function onAccepted(f) {
  const result = store.accept(f);
  if (!result) return;
  composer.setBusy(false);
  if (!result.current) return; // the user moved on; the sidebar shows it
  const { pending, isNew } = result;
  if (pending.kind === "compose" && composer.sent(pending.text)) attachments.clear();
  if (pending.editor) pending.editor();
  conversation.sync(store.turns);
  composer.showLive(store.live().length);
  if (isNew) {
    history.pushState(null, "", pathFor(f.sessionId));
    sidebar.setActive(f.sessionId);
  } else if (location.search) {
    history.replaceState(null, "", pathFor(f.sessionId)); // the session shows this branch now
  }
  sidebar.refresh().catch(() => {});
  composer.refreshEstimate();
}

function onRefused(f) {
  const pending = store.refuse(f);
  if (!pending) return;
  composer.setBusy(false);
  if (pending.turn) {
    conversation.removeTurn(pending.turn);
    if (!store.turns.length) $("#welcome").hidden = false;
  }
  composer.showError(f);
  if (pending.kind === "compose") composer.focus();
}

/** The action a refusal (or the low-balance notice) offered; `err` is what it was about. */
async function runAction(action, err) {
  if (action === "pickModel") {
    composer.clearError();
    picker.focus();
  } else if (action === "lowerMaxTokens") {
    const current = composer.maxTokens();
    const fit = fittingMaxTokens(err.details || {}, current, picker.selected.length || 1);
    composer.setMaxTokens(fit || Math.max(1, Math.floor(current / 2)));
    composer.clearError();
    composer.refreshEstimate();
    $("#max-tokens").focus();
    announce(`Max tokens set to ${composer.maxTokens()}`);
  } else if (action === "retry") {
    composer.clearError();
    const last = store.lastFailed;
    if (last && last.parentId) sendTurn(last.text, { kind: "regenerate", parentId: last.parentId });
    else if (last && last.editOf) sendTurn(last.text, { kind: "edit", editOf: last.editOf });
    else composer.submit();
  } else if (action === "upgrade") {
    const plans = await api("/api/plans").then((d) => d.plans || []).catch(() => []);
    const plan = planForError(err, plans, app.user);
    go(plan ? `/wallet?plan=${encodeURIComponent(plan.id)}` : "/wallet");
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
      if (f.requestId && store.hasPending(f.requestId)) onRefused(f);
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
  const change = store.apply(f, performance.now());
  if (!change) return;
  const a = change.answer;
  if (change.resubscribe) {
    socket.send(change.resubscribe);
    return;
  }
  if (change.ended) {
    composer.showLive(store.live().length);
    if (f.type === "done") announce(`${picker.label(a.modelId)} finished`, { quiet: true });
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

function stopAll() {
  for (const a of store.live()) socket.send({ type: "cancel", messageId: a.id });
}

// -- actions on answers and user messages --------------------------------------------------------

function answerAction(act, id, button) {
  if (act === "copy-code") {
    copyText(button.closest(".code-block").querySelector("code").textContent, button);
    return;
  }
  const a = store.answers.get(id);
  if (!a) return;
  const turn = store.turnOfAnswer(id);
  if (act === "stop") socket.send({ type: "cancel", messageId: id });
  else if (act === "copy") copyText(a.stream.text, button);
  else if (act === "regenerate" && turn && turn.userMessageId) {
    composer.clearError();
    sendTurn(turn.text, { kind: "regenerate", parentId: turn.userMessageId, models: [a.modelId] });
  } else if (act === "continue") {
    showBranch(store.showBranch(id));
    picker.setSelected([a.modelId]);
    announce(`Continuing with ${picker.label(a.modelId)}`);
    composer.focus();
  } else if (act === "prev" || act === "next") {
    const moved = store.shiftAlternative(id, act === "next" ? 1 : -1);
    if (!moved) return;
    if (moved.leaf) showBranch(moved.leaf);
    else conversation.sync(store.turns);
    const turn = store.turnOfUser(moved.turn.userMessageId) || moved.turn;
    const node = conversation.nodeOf(turn);
    const card = node && node.querySelector(`.answer[data-group="${CSS.escape(moved.group.modelId)}"] [data-act=${act}]`);
    if (card && !card.disabled) card.focus();
  }
}

/** The store shows another branch (`leaf`): draw it, keep it in the address and on the
 * session (every device, and a reload, show it). */
function showBranch(leaf) {
  if (!leaf) return;
  conversation.sync(store.turns);
  history.replaceState(null, "", pathFor(store.sessionId, leaf));
  rememberBranch(leaf);
  composer.refreshEstimate();
}

function rememberBranch(leaf) {
  const path = `/api/chat/sessions/${encodeURIComponent(store.sessionId)}`;
  api(path, { method: "PATCH", body: { currentLeafId: leaf } }).catch(() => {});
}

function userAction(act, turnNode, button) {
  const turn = conversation.turnOf(turnNode);
  if (!turn) return;
  if (act === "copy-user") {
    copyText(turn.text, button);
    return;
  }
  if (act === "edit-prev" || act === "edit-next") {
    const leaf = store.shiftEdit(turn.userMessageId, act === "edit-next" ? 1 : -1);
    showBranch(leaf);
    const node = leaf && conversation.nodeOf(store.turns.find((t) => (t.siblings || []).includes(turn.userMessageId)));
    const again = node && node.querySelector(`[data-act=${act}]`);
    if (again && !again.disabled) again.focus();
    return;
  }
  conversation.edit(turnNode, turn.text, (text) => {
    if (!text) return "Write something first.";
    if (!picker.selected.length) return "Pick at least one model.";
    if (!turn.userMessageId) return "Wait until this message is sent.";
    return new Promise((resolve) => {
      // An edit keeps the message's images: only its text changes.
      sendTurn(text, { kind: "edit", editOf: turn.userMessageId, images: turn.images || [], editor: () => resolve(true) });
      // A refusal shows in the composer's error area; the editor keeps its text.
      setTimeout(() => resolve(false), 15_000);
    });
  });
}

// -- chrome: drawer, keys ------------------------------------------------------------------------

function setupChrome() {
  setupDrawer();
  $("#logout").addEventListener("click", () => logout(true));
  $("#new-chat").addEventListener("click", () => {
    navigate(null);
    composer.focus();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || e.defaultPrevented || $("#dialog").open) return;
    if (closeDrawer()) return;
    if (store.live().length) {
      e.preventDefault();
      stopAll();
      announce("Stopping");
    }
  });
}

/** A send's requestId is its idempotency key for 24 h (docs/websocket.md): unique per send, not
 * per page load (a counter would repeat after a reload). getRandomValues works on plain http too. */
function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `r-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
