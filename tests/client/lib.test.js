import { test } from "node:test";
import assert from "node:assert/strict";
import { dateGroup, groupSessions } from "../../web/client/lib/dates.js";
import { estimateSend, filterModels, formatContext, priceLabel } from "../../web/client/lib/models.js";
import { adviceFor, fittingMaxTokens } from "../../web/client/lib/errors.js";
import { leafFromSearch, pathFor, sessionFromPath } from "../../web/client/lib/routes.js";
import { fileName, toJSON, toMarkdown } from "../../web/client/lib/exporter.js";
import { liveStats } from "../../web/client/lib/stats.js";

const NOW = new Date(2026, 10, 29, 15, 0).getTime();
const at = (daysAgo, hours = 12) => new Date(2026, 10, 29 - daysAgo, hours).toISOString();

test("date groups by local calendar day", () => {
  assert.equal(dateGroup(at(0, 1), NOW), "Today");
  assert.equal(dateGroup(at(1, 23), NOW), "Yesterday");
  assert.equal(dateGroup(at(5), NOW), "Previous 7 days");
  assert.equal(dateGroup(at(20), NOW), "Previous 30 days");
  assert.equal(dateGroup(at(90), NOW), "Older");
  assert.equal(dateGroup(undefined, NOW), "Older");
});

test("pinned sessions form their own first group", () => {
  const groups = groupSessions(
    [
      { sessionId: "a", lastMessageAt: at(0) },
      { sessionId: "b", lastMessageAt: at(40), pinned: true },
      { sessionId: "c", lastMessageAt: at(1) },
    ],
    NOW,
  );
  assert.deepEqual(
    groups.map((g) => [g.label, g.sessions.map((s) => s.sessionId)]),
    [["Pinned", ["b"]], ["Today", ["a"]], ["Yesterday", ["c"]]],
  );
});

const MODELS = [
  { modelId: "openai/gpt-4o", name: "Gpt 4O", provider: "openrouter", isFree: false, pricing: { input: 0.005, output: 0.015 }, contextWindow: 128000 },
  { modelId: "openai/gpt-4o:free", name: "Gpt 4O", provider: "huggingface", isFree: true, pricing: { input: 0, output: 0 }, contextWindow: 8192 },
];

test("model search matches every word over id, name and provider", () => {
  assert.equal(filterModels(MODELS, "gpt hugging").length, 1);
  assert.equal(filterModels(MODELS, "  ").length, 2);
  assert.equal(filterModels(MODELS, "nothing-like-this").length, 0);
});

test("price and context labels", () => {
  assert.equal(priceLabel(MODELS[1]), "free");
  assert.equal(priceLabel(MODELS[0]), "$0.005 / $0.015 per 1K in/out");
  assert.equal(priceLabel({ ...MODELS[0], rates: { prompt: 2, completion: 6 } }), "2 / 6 tokens per 1K in/out");
  assert.equal(formatContext(128000), "128K ctx");
  assert.equal(formatContext(1_048_576), "1M ctx");
});

test("the fallback estimate is the server's hold: prompt + max tokens per model", () => {
  const est = estimateSend(MODELS, [{ role: "user", content: "x".repeat(40) }], 512);
  assert.deepEqual(est.models.map((m) => m.hold), [16 + 512, 16 + 512]);
  assert.equal(est.total, 2 * 528);
  const small = estimateSend([{ modelId: "m", contextWindow: 100 }], [{ content: "" }], 512);
  assert.equal(small.total, 6 + 50); // max tokens capped at half the context window
});

test("advice names the action at hand for each refusal", () => {
  assert.deepEqual(adviceFor({ code: "INSUFFICIENT_TOKENS", details: { required: 1200, available: 300 } }).actions, ["lowerMaxTokens", "upgrade"]);
  assert.deepEqual(adviceFor({ code: "PAYWALL", message: "m" }).actions, ["upgrade", "pickModel"]);
  assert.deepEqual(adviceFor({ code: "PROVIDER_UNAVAILABLE" }).actions, ["retry", "pickModel"]);
  assert.deepEqual(adviceFor({ code: "VALIDATION_ERROR", details: { field: "options.maxTokens" } }).actions, ["lowerMaxTokens"]);
  assert.match(adviceFor({ code: "INSUFFICIENT_TOKENS", details: { required: 1200, available: 300 } }).message, /1,200.*300/);
});

test("a fitting max tokens leaves the prompt its room", () => {
  assert.equal(fittingMaxTokens({ required: 1100, available: 600 }, 1024), 524);
  assert.equal(fittingMaxTokens({ required: 1100, available: 50 }, 1024), null);
});

test("routes round-trip and reject junk", () => {
  assert.equal(sessionFromPath(pathFor("chat_1_ab")), "chat_1_ab");
  assert.equal(sessionFromPath("/"), null);
  assert.equal(sessionFromPath("/c/../x"), null);
  assert.equal(pathFor(null), "/");
  assert.equal(pathFor("chat_1", "abc"), "/c/chat_1?leaf=abc");
  assert.equal(leafFromSearch("?leaf=abc"), "abc");
  assert.equal(leafFromSearch("?leaf=a%2Fb"), null);
  assert.equal(leafFromSearch(""), null);
});

test("export as Markdown and JSON", () => {
  const session = { sessionId: "s", title: "My: chat!" };
  const messages = [
    { id: "u", role: "user", content: "Q?" },
    { id: "a", role: "assistant", modelId: "m", status: "done", content: "**A**" },
  ];
  assert.equal(toMarkdown(session, messages), "# My: chat!\n\n## You\n\nQ?\n\n## m\n\n**A**\n");
  assert.equal(JSON.parse(toJSON(session, messages)).messages[1].content, "**A**");
  assert.equal(JSON.parse(toJSON(session, messages, "a")).leafId, "a");
  assert.equal(fileName(session, "md"), "My-chat.md");
});

test("live stats: time to first token and tokens per second", () => {
  const s = liveStats({ sentAt: 1000, firstAt: 1250, endAt: 3250, completionTokens: 100 });
  assert.equal(s.ttftMs, 250);
  assert.equal(s.tps, 50);
  assert.equal(liveStats({ sentAt: 1, text: "abcdefgh" }).tokens, 2);
});

test("counted words and plain refusals", async () => {
  const { count } = await import("../../web/client/lib/words.js");
  const { plainMessage, adviceFor } = await import("../../web/client/lib/errors.js");
  assert.equal(count(1, "request"), "1 request");
  assert.equal(count(1000, "request"), "1,000 requests");
  assert.equal(count(0, "token"), "0 tokens");
  assert.equal(count(2, "entry"), "2 entries");
  assert.equal(plainMessage("options.maxTokens: must be between 1 and 4000"), "Max tokens must be between 1 and 4,000.");
  assert.equal(plainMessage("A sentence already."), "A sentence already.");
  assert.equal(adviceFor({ code: "VALIDATION_ERROR", message: "message: must not be empty", details: { field: "message" } }).message, "Your message must not be empty.");
});
