// The JS linter (`make lint`): eslint, pinned in package.json / package-lock.json at the top of
// the repository (`npm ci`), run from here: `npx --no-install eslint web/static/js tests/js`.
// The pages' ES modules in the browser, their unit tests under node.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/**", "web/static/vendor/**"] },
  { files: ["web/static/js/**/*.js", "tests/js/**/*.mjs"], ...js.configs.recommended },
  {
    files: ["web/static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      // Browser APIs only: the vendored libraries are read through lib/vendor.js, not as globals.
      globals: { ...globals.browser },
    },
    rules: {
      // Event handlers and callbacks receive arguments they need not use; a caught error that
      // is not read is a deliberate "ignore this failure".
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      eqeqeq: ["error", "smart"],
      "prefer-const": "error",
      "no-var": "error",
      // The UI is Chinese: its texts may hold the ideographic space (U+3000).
      "no-irregular-whitespace": ["error", { skipStrings: true, skipTemplates: true }],
    },
  },
  {
    files: ["tests/js/**/*.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
  },
];
