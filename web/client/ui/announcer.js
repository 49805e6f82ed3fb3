// Screen-reader announcements (and a visible toast) from one polite live region.

import { $ } from "./dom.js";

let timer = null;

export function announce(text) {
  const region = $("#toast");
  region.textContent = "";
  // A fresh text node in a later task so repeated messages are read again.
  setTimeout(() => {
    region.textContent = text;
    region.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => (region.hidden = true), 5000);
  }, 30);
}
