// The JS linter: the pages' ES modules under web/static/js and these tests. Installed from the
// npm registry at pinned versions (`npm ci --prefix tests/js`), run from the repository's root:
// `tests/js/node_modules/.bin/eslint --config tests/js/eslint.config.mjs web/static/js tests/js`
// (the paths below are from there).
// The unit tests themselves need none of it (`node --test tests/js/`).
import js from "@eslint/js";
import globals from "globals";


export default [
  { ignores: ["tests/js/node_modules/**", "web/static/vendor/**"] },
  { files: ["web/static/js/**/*.js", "tests/js/**/*.mjs"], ...js.configs.recommended },
  {
    files: ["web/static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      // Browser APIs only: vendored libraries are read through lib/vendor.js, not as globals.
      globals: { ...globals.browser },
    },
    rules: {
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
