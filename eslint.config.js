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
            message: `${folder}/ must not import ${b}/: imports run common <- smtp <- targets <- smtpscript/monkey/storm, and only bin/ composes tools (DESIGN.md)`,
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
  // Imports run one way (DESIGN.md): common <- smtp <- targets <- smtpscript / monkey / storm,
  // smtpscript <- storm and monkey; only the CLI layer (bin/) composes across tools.
  ...boundaries({
    common: ["smtp", "targets", "smtpscript", "storm", "monkey", "bin", "bench"],
    smtp: ["targets", "smtpscript", "storm", "monkey", "bin", "bench"],
    targets: ["smtpscript", "storm", "monkey", "bin", "bench"],
    smtpscript: ["storm", "monkey", "bin", "bench"],
    storm: ["monkey", "bin", "bench"],
    monkey: ["storm", "bin", "bench"],
  }),
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly" } },
  },
);
