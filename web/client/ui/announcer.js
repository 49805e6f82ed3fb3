// Screen-reader announcements (and a visible toast) from one polite live region.

import { $ } from "./dom.js";

let timer = null;

/** Tell the user `text`: on screen and to screen readers, or (`quiet`) to screen readers only. */
export function announce(text, { quiet = false } = {}) {
  if (quiet) {
    const live = $("#sr-live");
    live.textContent = "";
    setTimeout(() => (live.textContent = text), 30);
    return;
  }
  const region = $("#toast");
  region.textContent = "";
  // A fresh text node in a later task so repeated messages are read again.
  setTimeout(() => {
    region.textContent = text;
    region.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => (region.hidden = true), 3000);
  }, 30);
}
