// Light/dark: the system's choice until the user picks one (kept on this device).

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

export function setupTheme(button) {
  applyTheme(button);
  button.addEventListener("click", () => {
    localStorage.setItem(KEY, currentTheme() === "dark" ? "light" : "dark");
    applyTheme(button);
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(button));
}
