// One answer card: header (model, status, alternatives), the rendered markdown, live figures
// (time to first token, tokens/s, tokens, charge) and its actions. Only a dirty card re-renders,
// at most once per animation frame, so a long stream never re-renders the history.

import { h } from "./dom.js";
import { applyMathStyles, renderMarkdown } from "../core/markdown.js";
import { formatMs, liveStats } from "../lib/stats.js";
import { isLive } from "../lib/chat.js";
import { partsOf } from "./names.js";
import { count } from "../lib/words.js";

export { isLive };
// A long answer is re-parsed whole on each paint: past this size, at most every SLOW_MS.
const LONG_TEXT = 20_000;
const SLOW_MS = 250;
const dirty = new Set();
let frame = 0;
// An answer's card: {node, textNode, painted, paintedAt}; the store's answer stays plain data.
const views = new WeakMap();

export function scheduleRender(answer) {
  dirty.add(answer);
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush(now) {
  frame = 0;
  const follow = nearBottom();
  for (const a of dirty) {
    const view = views.get(a);
    const slow = view && isLive(a) && a.stream.text.length > LONG_TEXT && now - (view.paintedAt || 0) < SLOW_MS;
    if (slow) continue;
    paint(a);
    if (view) view.paintedAt = now;
    dirty.delete(a);
  }
  if (dirty.size) frame = requestAnimationFrame(flush);
  if (follow) scrollToBottom();
}

function nearBottom() {
  const box = document.getElementById("messages");
  return box.scrollHeight - box.scrollTop - box.clientHeight < 120;
}

export function scrollToBottom() {
  const box = document.getElementById("messages");
  box.scrollTop = box.scrollHeight;
}

/** Build the card's DOM (once); `paint` fills it. */
export function mount(answer, { compare }) {
  const text = h("div.text.markdown");
  const who = partsOf(answer.modelId);
  const label = `${who.name} (${who.provider})`;
  const node = h("article.answer", { "data-message-id": answer.id, "data-model-id": answer.modelId, "aria-label": `Answer from ${label}` },
    h("header.answer-head", {},
      h("span.model", { text: who.name, title: answer.modelId }),
      h("span.provider", { text: who.provider }),
      h("span.status", { text: "" }),
      h("span.alt-nav", { hidden: true },
        h("button.ghost.small", { type: "button", "data-act": "prev", "aria-label": "Previous answer", text: "‹" }),
        h("span.alt-pos", { text: "" }),
        h("button.ghost.small", { type: "button", "data-act": "next", "aria-label": "Next answer", text: "›" }))),
    text,
    h("p.answer-error", { hidden: true }),
    h("footer.answer-foot", {},
      h("span.stats", {}),
      h("span.actions", {},
        h("button.ghost.small.stop", { type: "button", "data-act": "stop", text: "Stop", "aria-label": `Stop ${label}` }),
        h("button.ghost.small", { type: "button", "data-act": "copy", text: "Copy", "aria-label": `Copy the answer from ${label}` }),
        h("button.ghost.small", { type: "button", "data-act": "regenerate", text: "Regenerate", "aria-label": `Regenerate the answer from ${label}` }),
        compare ? h("button.ghost.small", { type: "button", "data-act": "continue", text: "Continue with this model" }) : null)));
  views.set(answer, { node, textNode: text, painted: null, paintedAt: 0 });
  paint(answer);
  return node;
}

function paint(a) {
  const view = views.get(a);
  if (!view) return;
  const node = view.node;
  node.className = `answer ${a.status}`;
  if (node.dataset.modelId !== a.modelId) {
    // A fallback answered: name the model (and provider) that did.
    const who = partsOf(a.modelId);
    node.dataset.modelId = a.modelId;
    node.setAttribute("aria-label", `Answer from ${who.name} (${who.provider})`);
    const model = node.querySelector(".model");
    model.textContent = who.name;
    model.title = a.requestedModelId ? `${a.modelId}, answering for ${a.requestedModelId}` : a.modelId;
    node.querySelector(".provider").textContent = who.provider;
  }
  node.querySelector(".status").textContent = statusLabel(a);
  if (view.painted !== a.stream.text) {
    view.textNode.innerHTML = renderMarkdown(a.stream.text);
    applyMathStyles(view.textNode);
    view.painted = a.stream.text;
  }
  const live = isLive(a);
  node.querySelector(".stop").hidden = !live;
  for (const act of ["copy", "regenerate", "continue"]) {
    const b = node.querySelector(`[data-act=${act}]`);
    if (b) b.hidden = live;
  }
  const err = node.querySelector(".answer-error");
  err.hidden = !a.error;
  err.textContent = a.error ? a.error.message : "";
  node.querySelector(".stats").textContent = statsLine(a);
}

function statusLabel(a) {
  switch (a.status) {
    case "pending": return "waiting…";
    case "streaming": return "streaming…";
    default: return a.status;
  }
}

function statsLine(a) {
  const live = liveStats({ sentAt: a.sentAt, firstAt: a.firstAt, endAt: a.endAt || (isLive(a) ? performance.now() : null), completionTokens: a.usage && a.usage.completionTokens, text: a.stream.text });
  const ttft = a.ttftMs ?? live.ttftMs;
  const tps = a.tps ?? live.tps;
  const parts = [`TTFT ${formatMs(ttft)}`, `${tps ? tps.toFixed(1) : "–"} tok/s`];
  const total = a.usage && a.usage.totalTokens;
  parts.push(total ? count(total, "token") : `~${count(live.tokens, "token")} out`);
  if (a.charged !== undefined && a.charged !== null && !isLive(a)) parts.push(`cost ${count(a.charged, "token")}`);
  return parts.join(" · ");
}

/** Set which of `count` alternatives is shown (1-based position). */
export function showAltNav(answer, position, count) {
  const nav = views.get(answer).node.querySelector(".alt-nav");
  nav.hidden = count < 2;
  nav.querySelector(".alt-pos").textContent = `${position} / ${count}`;
  nav.querySelector("[data-act=prev]").disabled = position <= 1;
  nav.querySelector("[data-act=next]").disabled = position >= count;
}
