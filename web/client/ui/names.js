// Model ids as people read them ("DeepSeek R1 · OpenRouter"), wherever a screen shows one: the
// catalog the app loaded at sign-in, or what the id itself says when the catalog lacks it.

import { modelLabel, modelName, providerLabel } from "../lib/models.js";

let catalog = new Map();

export function setCatalog(models) {
  catalog = new Map((models || []).map((m) => [m.modelId, m]));
}

/** "Name · Provider". */
export function labelOf(modelId) {
  return modelId ? modelLabel(modelId, catalog) : "";
}

/** {name, provider} apart (an answer card shows them side by side). */
export function partsOf(modelId) {
  const m = catalog.get(modelId);
  return { name: m ? modelName(m) : modelId, provider: providerLabel(m || { modelId }) };
}
