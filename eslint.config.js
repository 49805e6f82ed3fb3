import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", "web/static/", ".venv/"] },
  js.configs.recommended,
  {
    files: ["web/client/**/*.js", "web/client/**/*.mjs"],
    languageOptions: { ecmaVersion: 2023, sourceType: "module", globals: { ...globals.browser } },
    rules: { "no-unused-vars": ["error", { args: "none" }], eqeqeq: "error", "no-var": "error", "prefer-const": "error" },
  },
  {
    files: ["web/client/build.mjs", "tests/client/**/*.js"],
    languageOptions: { ecmaVersion: 2023, sourceType: "module", globals: { ...globals.node } },
  },
];
