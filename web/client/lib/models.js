// The model catalog as the picker and the cost estimate need it. Pure.

export function providerOf(model) {
  return model.provider || (model.modelId.includes("/") ? model.modelId.split("/")[0] : "");
}

export function displayName(model) {
  return model.name || model.modelId;
}

/** Models whose id, name or provider contain every word of `query` (case-insensitive). */
export function filterModels(models, query) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return models;
  return models.filter((m) => {
    const hay = `${m.modelId} ${m.name || ""} ${providerOf(m)}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
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
