// What a refused send tells the user, and the action at hand. Pure: code + details -> advice.

// The names people know the send's fields by.
const FIELDS = {
  "options.maxTokens": "Max tokens",
  "options.temperature": "Temperature",
  "options.topP": "Top P",
  message: "Your message",
  models: "Models",
  modelId: "The model",
  password: "The password",
  newPassword: "The new password",
  email: "The email",
  name: "The name",
};

/** "options.maxTokens: must be between 1 and 4000" -> "Max tokens must be between 1 and 4,000." */
export function plainMessage(message) {
  const m = /^([A-Za-z][\w.]*): (.+)$/s.exec(message || "");
  if (!m) return message;
  const label = FIELDS[m[1]] || "This";
  const rest = m[2].replace(/\d{4,}/g, (n) => Number(n).toLocaleString("en-US")).replace(/\.?$/, ".");
  return `${label} ${rest}`;
}

export function adviceFor(error) {
  const code = error.code || "";
  const details = error.details || {};
  const field = details.field || "";
  const message = plainMessage(error.message || "Something went wrong.");
  switch (code) {
    case "INSUFFICIENT_TOKENS":
      return {
        message: `Not enough tokens: this send needs ${num(details.required)}, you have ${num(details.available)}.`,
        actions: ["lowerMaxTokens", "upgrade"],
      };
    case "CONTENT_BLOCKED":
      // Retrying the same text can never pass: say which term, and what to do instead.
      return {
        message: details.term
          ? `Not sent: your message contains “${details.term}”, a term this service does not pass to models. Rephrase it without that term and send again.`
          : "Not sent: your message contains a term this service does not pass to models. Rephrase it and send again.",
        actions: [],
      };
    case "PAYWALL":
      return { message, actions: ["upgrade", "pickModel"] };
    case "DAILY_LIMIT":
      return { message, actions: ["upgrade"] };
    case "VALIDATION_ERROR":
      if (field.startsWith("options.maxTokens")) return { message, actions: ["lowerMaxTokens"] };
      if (field.startsWith("model")) return { message, actions: ["pickModel"] };
      return { message, actions: [] };
    case "PROVIDER_ERROR":
    case "PROVIDER_UNAVAILABLE":
      return { message, actions: ["retry", "pickModel"] };
    case "RATE_LIMITED":
    case "SERVICE_UNAVAILABLE":
    case "NETWORK":
      return { message, actions: ["retry"] };
    default:
      return { message, actions: ["retry"] };
  }
}

/** The largest max tokens that fits the balance, given the send's needs (null if none fits). */
export function fittingMaxTokens(details, currentMax, models = 1) {
  const required = Number(details.required);
  const available = Number(details.available);
  if (!Number.isFinite(required) || !Number.isFinite(available)) return null;
  const perModelPrompt = Math.max(0, required / models - currentMax);
  const fit = Math.floor(available / models - perModelPrompt);
  return fit >= 1 ? Math.min(fit, currentMax - 1) : null;
}

function num(n) {
  return Number.isFinite(Number(n)) ? Number(n).toLocaleString("en-US") : "?";
}
