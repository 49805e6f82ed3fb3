// Per-answer live figures for the compare view: time to first token and tokens per second.

export function liveStats({ sentAt, firstAt, endAt, completionTokens, text }) {
  const ttftMs = sentAt && firstAt ? firstAt - sentAt : null;
  const tokens = completionTokens || Math.ceil((text || "").length / 4);
  const secs = firstAt && endAt ? (endAt - firstAt) / 1000 : null;
  const tps = secs && secs > 0 && tokens ? tokens / secs : null;
  return { ttftMs, tps, tokens };
}

export function formatMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
