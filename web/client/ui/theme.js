// Light/dark: the system's choice until the user picks one. The choice is kept on this device
// and, once signed in, in the user's preferences, which every device applies at sign-in.

const KEY = "aipasta.theme";

function systemDark() {
  return window.matchMedia("(prefers-color-scheme: dark)").matches;
}

export function currentTheme() {
  return localStorage.getItem(KEY) || (systemDark() ? "dark" : "light");
}

export function applyTheme(button) {
  const theme = currentTheme();
  document.documentElement.dataset.theme = theme;
  if (button) {
    const next = theme === "dark" ? "light" : "dark";
    button.setAttribute("aria-label", `Switch to ${next} theme`);
    button.title = `Switch to ${next} theme`;
    button.textContent = theme === "dark" ? "☀" : "☾";
  }
}

/** The user's saved preference from their profile: "light" or "dark" wins over this device's;
 * "auto" (never chosen, or "follow the system") leaves this device's choice. */
export function useSavedTheme(theme, button) {
  if (theme === "light" || theme === "dark") localStorage.setItem(KEY, theme);
  applyTheme(button);
}

/** The toggle; `onPick(theme)` is told what the user picked (to save it). */
export function setupTheme(button, onPick = () => {}) {
  applyTheme(button);
  button.addEventListener("click", () => {
    const theme = currentTheme() === "dark" ? "light" : "dark";
    localStorage.setItem(KEY, theme);
    applyTheme(button);
    onPick(theme);
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(button));
}
