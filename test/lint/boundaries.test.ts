// The import directions of ARCHITECTURE.md are enforced by lint: an import across a boundary fails
// `npm run lint`, one along it passes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

async function problems(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [r] = await eslint.lintText(code, { filePath: `${ROOT}${file}` });
  return (r?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

test("lint refuses imports that cross the boundaries, type imports and re-exports included", async () => {
  const crossing: Array<[string, string, RegExp]> = [
    ["targets/opensmtpd/x.ts", 'import { Injector } from "../../monkey/injector.js";\nexport const a = Injector;\n', /targets\/ must not import monkey\//],
    ["targets/x.ts", 'import type { ScriptFaults } from "../smtpscript/runner.js";\nexport type A = ScriptFaults;\n', /targets\/ must not import smtpscript\//],
    ["smtp/x.ts", 'export { EmbeddedTarget } from "../targets/embedded/target.js";\n', /smtp\/ must not import targets\//],
    ["smtpscript/x.ts", 'import { remoteScriptFaults } from "../monkey/control-client.js";\nexport const a = remoteScriptFaults;\n', /smtpscript\/ must not import monkey\//],
    ["monkey/real/x.ts", 'import { runStorm } from "../../storm/scheduler.js";\nexport const a = runStorm;\n', /monkey\/ must not import storm\//],
    ["storm/x.ts", 'import { EXIT } from "../bin/smtpchaos.js";\nexport const a = EXIT;\n', /storm\/ must not import bin\//],
    ["common/x.ts", 'import { SmtpSession } from "../smtp/session.js";\nexport const a = SmtpSession;\n', /common\/ must not import smtp\//],
  ];
  for (const [file, code, why] of crossing) {
    const found = await problems(file, code);
    assert.equal(found.length, 1, `${file}: ${code}`);
    assert.match(found[0] as string, why);
  }
  const along: Array<[string, string]> = [
    ["monkey/x.ts", 'import { EmbeddedTarget } from "../targets/embedded/target.js";\nexport const a = EmbeddedTarget;\n'],
    ["storm/x.ts", 'import { loadProgram } from "../smtpscript/parse.js";\nexport const a = loadProgram;\n'],
    ["targets/x.ts", 'import { SmtpSession } from "../smtp/session.js";\nexport const a = SmtpSession;\n'],
    ["bin/x.ts", 'import { createFaultableTarget } from "../monkey/targets.js";\nexport const a = createFaultableTarget;\n'],
  ];
  for (const [file, code] of along) assert.deepEqual(await problems(file, code), [], `${file} may import that`);
});
