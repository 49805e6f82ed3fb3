// The model catalog as people read it, and the cost estimate. Pure (tests/client/*.test.js).
//
// One model is often offered through several providers (OpenRouter's `deepseek/deepseek-r1:free`
// and `deepseek/deepseek-r1`, Hugging Face's `hf:deepseek-ai/DeepSeek-R1`): each is a *route*
// with its own price, speed and plan. `groupModels` puts the routes of one model together under
// one name; the provider is shown beside every route.

const PROVIDER_LABELS = { openrouter: "OpenRouter", huggingface: "Hugging Face", openai: "Local server" };

/** The provider's slug: the model's, or what its id says (`hf:` Hugging Face, `local:` a local
 * OpenAI-compatible server, else OpenRouter). */
export function providerOf(model) {
  if (model.provider) return model.provider;
  const id = model.modelId || "";
  if (id.startsWith("hf:")) return "huggingface";
  if (id.startsWith("local:")) return "openai";
  return "openrouter";
}

/** The provider as people call it ("Hugging Face"). */
export function providerLabel(model) {
  const slug = providerOf(model);
  return PROVIDER_LABELS[slug] || slug;
}

export function displayName(model) {
  return model.name || model.modelId;
}

/** The model's name without the route's own words: "DeepSeek: R1 (free)" -> "DeepSeek R1". */
export function modelName(model) {
  const name = displayName(model).replace(/\s*\((free|paid)\)\s*$/i, "").replace(/^([^:/]+):\s+/, "$1 ");
  if (!name.includes("/")) return name;
  return name.split("/").pop().split(":")[0].replace(/[-_]+/g, " ");
}

/** What names one model across providers: the last part of its id, without a `:variant`,
 * lowercased, letters and digits only (`DeepSeek-R1`, `deepseek-r1:free` -> `deepseekr1`). */
export function familyKey(model) {
  const id = (model.modelId || "").replace(/^(hf|local):/, "");
  return id.split("/").pop().split(":")[0].toLowerCase().replace(/[^a-z0-9]+/g, "");
}

/** "Model name · Provider" for a model id, from the catalog (`byId`) when it knows it. */
export function modelLabel(modelId, byId = new Map()) {
  const m = byId.get(modelId) || { modelId };
  return `${byId.has(modelId) ? modelName(m) : modelId} · ${providerLabel(m)}`;
}

/** Capabilities as words ("images", "tools", "reasoning", ...): what the model takes
 * (`capabilities {images, tools, jsonSchema, ...}`, or an older list like `["text", "vision"]`)
 * and its `tags` ("code", "reasoning"). */
export function capabilityWords(model) {
  const caps = model.capabilities || [];
  const raw = Array.isArray(caps) ? caps : Object.keys(caps).filter((k) => caps[k]);
  const words = new Set([...raw, ...(model.tags || [])].map((c) => String(c).toLowerCase()));
  if (words.has("jsonschema")) words.add("json");
  for (const m of model.inputModalities || []) if (m === "image") words.add("images");
  if (words.has("vision") || words.has("image")) words.add("images");
  if (words.has("function_calling") || words.has("functions")) words.add("tools");
  words.delete("text");
  return [...words];
}

/** Models matching every word of `query` (case-insensitive) in their name, id, provider or
 * capabilities; a word like `100k` or `100k+` asks for at least that context window.
 * `freeOnly` keeps free models. */
export function filterModels(models, query, { freeOnly = false } = {}) {
  const words = (query || "").toLowerCase().split(/\s+/).filter(Boolean);
  return models.filter((m) => {
    if (freeOnly && !m.isFree) return false;
    const hay = `${m.modelId} ${m.name || ""} ${providerOf(m)} ${providerLabel(m)} ${capabilityWords(m).join(" ")} ${formatContext(m.contextWindow)}`.toLowerCase();
    return words.every((w) => {
      const ctx = /^(\d+(?:\.\d+)?)([km])\+?$/.exec(w);
      if (ctx && /\+$/.test(w)) return (m.contextWindow || 0) >= Number(ctx[1]) * (ctx[2] === "k" ? 1000 : 1_000_000);
      return hay.includes(w);
    });
  });
}

/**
 * The routes of each model together, in the catalog's order (a group sits where its first
 * route was): `[{key, name, routes: [model]}]`, routes free first, then by price. The name is
 * the plainest of the routes' names (one that is not an id). Two routes are one model when
 * their ids name the same model (`familyKey`) or the catalog says they run the same weights
 * (`weights`, the Hugging Face repo): OpenRouter's `meta-llama/llama-3.1-405b-instruct` and
 * Hugging Face's `hf:meta-llama/Meta-Llama-3.1-405B-Instruct` differ in name, not in weights.
 */
export function groupModels(models) {
  const parent = new Map();
  const root = (k) => {
    while (parent.get(k) !== k) k = parent.get(k);
    return k;
  };
  const keysOf = (m) => [`id:${familyKey(m)}`, ...(m.weights ? [`weights:${String(m.weights).toLowerCase()}`] : [])];
  for (const m of models) {
    const keys = keysOf(m);
    for (const k of keys) if (!parent.has(k)) parent.set(k, k);
    for (const k of keys.slice(1)) {
      const [a, b] = [root(keys[0]), root(k)];
      if (a !== b) parent.set(b, a);
    }
  }
  const groups = new Map();
  for (const m of models) {
    const key = root(keysOf(m)[0]);
    if (!groups.has(key)) groups.set(key, { key, name: "", routes: [] });
    groups.get(key).routes.push(m);
  }
  for (const g of groups.values()) {
    g.routes.sort((a, b) => Number(b.isFree) - Number(a.isFree) || rateOf(a) - rateOf(b));
    const named = g.routes.find((r) => r.name && !r.name.includes("/")) || g.routes[0];
    g.name = modelName(named);
  }
  return [...groups.values()];
}

function rateOf(m) {
  if (m.rates && Number.isFinite(m.rates.completion)) return m.rates.prompt + m.rates.completion;
  const p = m.pricing || {};
  return (p.input || 0) + (p.output || 0);
}

/** Whether the user's plan lacks this model: null when it may use it, else `{plan}` — the
 * cheapest plan on sale that unlocks paid models (its name), or "a paid plan". */
export function lockOf(model, user, plans = []) {
  const current = (user && user.subscription && user.subscription.plan) || "free";
  if (model.isFree || current !== "free") return null;
  const unlocking = (plans || []).filter((p) => p.isActive !== false && p.unlocksPaidModels && p.plan !== "free" && p.durationDays);
  const cheapest = unlocking.reduce((a, p) => (!a || p.price < a.price ? p : a), null);
  return { plan: cheapest ? cheapest.name : "a paid plan", planId: cheapest ? cheapest.id : null };
}

/** A model's measured speed as a short label ("310 ms · 42 tok/s"), or "". */
export function speedLabel(speed) {
  if (!speed) return "";
  const parts = [];
  if (Number.isFinite(speed.ttftMs)) parts.push(`${Math.round(speed.ttftMs)} ms to first token`);
  if (Number.isFinite(speed.tokensPerSecond)) parts.push(`${speed.tokensPerSecond.toFixed(0)} tok/s`);
  return parts.join(" · ");
}

export function formatContext(tokens) {
  if (!tokens) return "";
  if (tokens >= 1_000_000) return `${+(tokens / 1_000_000).toFixed(1)}M ctx`;
  if (tokens >= 1000) return `${Math.round(tokens / 1000)}K ctx`;
  return `${tokens} ctx`;
}

/** What the user pays, per 1K tokens: wallet tokens when the model has `rates`, else the
 * provider's price in dollars. */
export function priceLabel(model) {
  if (model.rates && Number.isFinite(model.rates.prompt)) {
    return `${fmt(model.rates.prompt)} / ${fmt(model.rates.completion)} tokens per 1K in/out`;
  }
  if (model.isFree) return "free";
  const p = model.pricing || {};
  return `$${fmt(p.input || 0)} / $${fmt(p.output || 0)} per 1K in/out`;
}

function fmt(n) {
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: 4 });
}

/** The server's own prompt estimate (common/chat/tokens.py): chars/4 rounded up, + 4 per
 * turn, + 2. */
export function estimatePromptTokens(turns) {
  return turns.reduce((sum, t) => sum + Math.ceil((t.content || "").length / 4) + 4, 2);
}

/**
 * The hold one send places per model: prompt estimate + max tokens (capped at half the context
 * window), converted at the model's rates when it has them. Used when the server has no
 * estimate API.
 */
export function estimateSend(models, turns, maxTokens) {
  const prompt = estimatePromptTokens(turns);
  const perModel = models.map((m) => {
    const room = Math.min(maxTokens, Math.max(1, Math.floor((m.contextWindow || 4096) / 2)));
    let hold = prompt + room;
    if (m.rates && Number.isFinite(m.rates.prompt)) {
      hold = Math.ceil((prompt * m.rates.prompt + room * m.rates.completion) / 1000);
    }
    return { modelId: m.modelId, hold };
  });
  return { models: perModel, total: perModel.reduce((s, m) => s + m.hold, 0) };
}
