import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** One no-restricted-imports block per folder: the folders it must not import from. */
function boundaries(forbidden) {
  return Object.entries(forbidden).map(([folder, banned]) => ({
    files: [`${folder}/**/*.ts`],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: banned.map((b) => ({
            regex: `^(\\.\\./)+${b}/`,
            message: `${folder}/ must not import ${b}/: imports run common <- smtp <- targets <- smtpscript/monkey/storm, and only api/ and bin/ compose tools (ARCHITECTURE.md)`,
          })),
        },
      ],
    },
  }));
}

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "**/*.generated.js", "**/*.generated.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
    },
  },
  // Imports run one way (ARCHITECTURE.md): common <- smtp <- targets <- smtpscript / monkey / storm,
  // smtpscript <- storm and monkey; only the CLI layer (bin/) composes across tools.
  ...boundaries({
    common: ["smtp", "targets", "smtpscript", "storm", "monkey", "api", "bin", "bench"],
    smtp: ["targets", "smtpscript", "storm", "monkey", "api", "bin", "bench"],
    targets: ["smtpscript", "storm", "monkey", "api", "bin", "bench"],
    smtpscript: ["storm", "monkey", "api", "bin", "bench"],
    storm: ["monkey", "api", "bin", "bench"],
    monkey: ["storm", "api", "bin", "bench"],
  }),
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly" } },
  },
);
