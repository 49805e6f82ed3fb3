import { test } from "node:test";
import assert from "node:assert/strict";
import { capabilityWords, familyKey, filterModels, groupModels, lockOf, modelLabel, modelName, providerLabel, speedLabel } from "../../web/client/lib/models.js";

// The same model through two providers (and OpenRouter's free variant), and another model.
const CATALOG = [
  { modelId: "deepseek/deepseek-r1:free", name: "DeepSeek: R1 (free)", provider: "openrouter", isFree: true, rates: { prompt: 1000, completion: 1000 }, contextWindow: 163840, capabilities: { images: false, tools: false }, tags: ["text", "reasoning"] },
  { modelId: "openai/gpt-4o", name: "OpenAI: GPT-4o", provider: "openrouter", isFree: false, rates: { prompt: 1300, completion: 5000 }, contextWindow: 128000, capabilities: ["text", "vision"] },
  { modelId: "hf:deepseek-ai/DeepSeek-R1", name: "deepseek-ai/DeepSeek-R1", provider: "huggingface", isFree: false, rates: { prompt: 1100, completion: 2000 }, contextWindow: 64000, capabilities: { tools: true, images: false } },
  { modelId: "deepseek/deepseek-r1", name: "DeepSeek: R1", provider: "openrouter", isFree: false, rates: { prompt: 1200, completion: 3000 }, contextWindow: 163840 },
];
const PLANS = [
  { id: "pro_monthly", name: "Pro", plan: "pro", price: 49900, durationDays: 30, unlocksPaidModels: true },
  { id: "enterprise_monthly", name: "Enterprise", plan: "enterprise", price: 299900, durationDays: 30, unlocksPaidModels: true },
  { id: "pack_small", name: "Token pack", plan: "free", price: 9900, tokens: 50000 },
];
const FREE_USER = { subscription: { plan: "free" } };

test("one model through several providers is one group, its routes free first then cheapest", () => {
  const groups = groupModels(CATALOG);
  assert.deepEqual(groups.map((g) => [g.name, g.routes.map((r) => r.modelId)]), [
    ["DeepSeek R1", ["deepseek/deepseek-r1:free", "hf:deepseek-ai/DeepSeek-R1", "deepseek/deepseek-r1"]],
    ["OpenAI GPT-4o", ["openai/gpt-4o"]],
  ]);
  assert.equal(familyKey(CATALOG[2]), familyKey(CATALOG[0]));
});

test("routes whose ids differ are one model when the catalog names the same weights", () => {
  const openrouter = { modelId: "meta-llama/llama-3.1-405b-instruct", name: "Meta: Llama 3.1 405B Instruct", provider: "openrouter", isFree: false, rates: { prompt: 3000, completion: 3000 }, weights: "meta-llama/meta-llama-3.1-405b-instruct" };
  const free = { modelId: "meta-llama/llama-3.1-405b-instruct:free", name: "Meta: Llama 3.1 405B Instruct (free)", provider: "openrouter", isFree: true, rates: { prompt: 0, completion: 0 } };
  const hf = { modelId: "hf:meta-llama/Meta-Llama-3.1-405B-Instruct", name: "meta-llama/Meta-Llama-3.1-405B-Instruct", provider: "huggingface", isFree: false, rates: { prompt: 2000, completion: 2000 }, weights: "meta-llama/meta-llama-3.1-405b-instruct" };
  const gpt = { modelId: "openai/gpt-4o", name: "OpenAI: GPT-4o", provider: "openrouter", isFree: false, rates: { prompt: 1300, completion: 5000 } };
  // The ids' tails alone tell the OpenRouter routes and Hugging Face's apart...
  assert.notEqual(familyKey(openrouter), familyKey(hf));
  // ...the weights join them, and the free variant (no weights listed) still joins by its id.
  const groups = groupModels([openrouter, gpt, hf, free]);
  assert.deepEqual(groups.map((g) => [g.name, g.routes.map((r) => r.modelId)]), [
    ["Meta Llama 3.1 405B Instruct", [free.modelId, hf.modelId, openrouter.modelId]],
    ["OpenAI GPT-4o", [gpt.modelId]],
  ]);
});

test("names and provider labels as people read them", () => {
  assert.equal(modelName(CATALOG[0]), "DeepSeek R1");
  assert.equal(modelName(CATALOG[2]), "DeepSeek R1");
  assert.deepEqual(CATALOG.map(providerLabel), ["OpenRouter", "OpenRouter", "Hugging Face", "OpenRouter"]);
  assert.equal(providerLabel({ modelId: "local:llama3.1" }), "Local server");
  const byId = new Map(CATALOG.map((m) => [m.modelId, m]));
  assert.equal(modelLabel("hf:deepseek-ai/DeepSeek-R1", byId), "DeepSeek R1 · Hugging Face");
  assert.equal(modelLabel("gone/model", byId), "gone/model · OpenRouter");
});

test("paid routes are locked on the free plan, naming the cheapest plan that unlocks them", () => {
  assert.equal(lockOf(CATALOG[0], FREE_USER, PLANS), null);
  assert.deepEqual(lockOf(CATALOG[2], FREE_USER, PLANS), { plan: "Pro", planId: "pro_monthly" });
  assert.equal(lockOf(CATALOG[2], { subscription: { plan: "pro" } }, PLANS), null);
  assert.deepEqual(lockOf(CATALOG[1], FREE_USER, []), { plan: "a paid plan", planId: null });
});

test("search by name, provider, capability and context length; free only", () => {
  const ids = (ms) => ms.map((m) => m.modelId);
  assert.deepEqual(ids(filterModels(CATALOG, "r1 hugging")), ["hf:deepseek-ai/DeepSeek-R1"]);
  assert.deepEqual(ids(filterModels(CATALOG, "images")), ["openai/gpt-4o"]);
  assert.deepEqual(ids(filterModels(CATALOG, "tools")), ["hf:deepseek-ai/DeepSeek-R1"]);
  assert.deepEqual(ids(filterModels(CATALOG, "reasoning")), ["deepseek/deepseek-r1:free"]);
  assert.deepEqual(ids(filterModels(CATALOG, "150k+")), ["deepseek/deepseek-r1:free", "deepseek/deepseek-r1"]);
  assert.deepEqual(ids(filterModels(CATALOG, "r1", { freeOnly: true })), ["deepseek/deepseek-r1:free"]);
  assert.equal(filterModels(CATALOG, "").length, 4);
  assert.deepEqual(capabilityWords({ capabilities: ["text"], inputModalities: ["text", "image"] }), ["images"]);
});

test("speed labels", () => {
  assert.equal(speedLabel({ ttftMs: 312.4, tokensPerSecond: 41.7 }), "312 ms to first token · 42 tok/s");
  assert.equal(speedLabel(null), "");
});
