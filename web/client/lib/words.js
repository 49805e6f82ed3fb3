// Counted words: "1 request", "2 requests", "1,000 tokens". Pure.

const IRREGULAR = { reply: "replies", entry: "entries", key: "keys" };

/** `n` and the word in the right number, the number written with thousands separators. */
export function count(n, word, plural = IRREGULAR[word] || `${word}s`) {
  const value = Number(n || 0);
  return `${value.toLocaleString("en-US")} ${Math.abs(value) === 1 ? word : plural}`;
}
