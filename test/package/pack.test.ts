// The published package (issue #24 item 7): what `npm pack` puts in the tarball (no tests, no
// benches, no source maps of sources it does not ship; the license, the bins, the library and
// the suites, plans and target files the tools read), and what a user gets from installing it:
// `import` works, `require` works where Node.js can require() ES modules and says how to import
// elsewhere, the bins run, and TypeScript checks a user's code against the declarations with
// @types/node coming from the package itself, down to the lowest @types/node its range allows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { accessSync, constants, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import { installPacked, ROOT, run } from "./scratch.js";
import type { PackedFile } from "./scratch.js";

interface Manifest {
  bin: Record<string, string>;
  main: string;
  types: string;
  exports: { ".": Record<string, string> };
  files: string[];
  dependencies: Record<string, string>;
}
const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Manifest;
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

/** The data files the tools read at run time, as they are in the checkout. */
function shippedData(): string[] {
  const files = (dir: string, keep: (name: string) => boolean): string[] =>
    readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
      .filter(keep)
      .map((p) => posix.join(dir, p));
  return [
    ...files("suites", (p) => p.endsWith(".smtp") || p.endsWith(".yaml")),
    ...files("monkey/plans", (p) => p.endsWith(".yaml")),
    ...files("storm/examples", (p) => p.endsWith(".yaml")),
    ...files("smtpscript/examples", (p) => p.endsWith(".smtp")),
    ...files("targets/files", () => true),
  ];
}

/** Relative specifiers a shipped module loads: static and dynamic imports, workers and child scripts by URL. */
function relativeLoads(source: string): string[] {
  const found = [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bnew URL\(\s*|\brequire\(\s*)["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1] as string);
  return found.filter((s) => /\.(c?js|json)$/.test(s));
}

function assertContents(files: PackedFile[]): void {
  const paths = new Set(files.map((f) => f.path));
  const strays = [...paths].filter((p) => p.startsWith("dist/test/") || p.startsWith("dist/bench/") || p.endsWith(".map"));
  assert.deepEqual(strays, [], "no tests, benches or source maps in the tarball");
  for (const p of ["LICENSE", "README.md", "package.json"]) assert.ok(paths.has(p), `${p} is packed`);
  assert.match(readFileSync(join(ROOT, "LICENSE"), "utf8"), /^MIT License\n\nCopyright \(c\) \d{4} the smtpchaos authors\n/);
  const entries = [manifest.main, manifest.types, ...Object.values(manifest.exports["."]), ...Object.values(manifest.bin)];
  for (const e of entries) assert.ok(paths.has(posix.normalize(e)), `${e} (package.json) is packed`);
  for (const p of shippedData()) assert.ok(paths.has(p), `${p} is packed`);
  const helper = files.find((f) => f.path === "targets/files/sendmail-maildir");
  assert.equal((helper?.mode ?? 0) & 0o111, 0o111, "sendmail's delivery agent stays executable");
  // nothing shipped loads a file that is not: excluding dist/test must not cut a runtime import
  for (const f of files.filter((f) => /^dist\/.*\.c?js$/.test(f.path))) {
    for (const spec of relativeLoads(readFileSync(join(ROOT, f.path), "utf8"))) {
      const target = posix.join(posix.dirname(f.path), spec);
      assert.ok(paths.has(target), `${f.path} loads ${spec}, which is not packed`);
    }
  }
}

test("npm pack: no tests, benches or maps; LICENSE, bins, library entries and the shipped suites, plans and target files", { timeout: 60_000 }, async () => {
  const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  const [packed] = JSON.parse(stdout) as { files: PackedFile[] }[];
  assert.ok(packed !== undefined);
  assertContents(packed.files);
  // the check itself fails on what it must catch
  assert.throws(() => assertContents([...packed.files, { path: "dist/test/api/library.test.js", mode: 0o644 }]), /no tests/);
  assert.throws(() => assertContents(packed.files.filter((f) => f.path !== "suites/rfc5321/session.smtp")), /session\.smtp is packed/);
  assert.throws(() => assertContents(packed.files.filter((f) => f.path !== "dist/storm/worker.js")), /loads \.\/worker\.js/);
});

test("installed from the tarball: import, require (or its clear error), the bins, and TypeScript with the package's own @types/node", { timeout: 120_000 }, async (t) => {
  const { dir } = await installPacked(t, {});
  const pkg = join(dir, "node_modules/smtpchaos");

  // import, and require() of the same module instance where Node.js can require ES modules
  const both = "const r = require('smtpchaos'); import('smtpchaos').then((m) => console.log(typeof r.runScript, r.startTarget === m.startTarget))";
  assert.equal((await run(process.execPath, ["-e", both], { cwd: dir })).stdout.trim(), "function true");
  const refused = await run(process.execPath, ["--no-experimental-require-module", "-e", "require('smtpchaos')"], { cwd: dir }).then(
    () => assert.fail("require() without require(esm) must throw"),
    (err: { stderr: string }) => err.stderr,
  );
  assert.match(refused, /smtpchaos is ESM-only .*await import\("smtpchaos"\)/);
  assert.match(refused, /code: 'ERR_REQUIRE_ESM'/);

  // the bins: linked, executable, and finding the shipped suites inside the package
  for (const [name, file] of Object.entries(manifest.bin)) {
    const linked = realpathSync(join(dir, "node_modules/.bin", name));
    assert.equal(linked, realpathSync(join(pkg, file)));
    accessSync(linked, constants.X_OK);
    assert.match(readFileSync(linked, "utf8"), /^#!\/usr\/bin\/env node\n/);
  }
  const list = await run(join(dir, "node_modules/.bin/smtpchaos"), ["suite", "list"], { cwd: dir });
  assert.match(list.stdout, /^rfc5321\s+session\.smtp$/m);
  assert.match((await run(join(dir, "node_modules/.bin/smtpscript"), ["--help"], { cwd: dir })).stdout, /usage: smtpscript/);

  // TypeScript: the user installed no @types/node and lists no `types`; an ES module checks
  // clean, a CommonJS one is told at type-check time to import (as Node.js 20.18 would be at
  // run time; TypeScript's --module nodenext allows it, as Node.js 20.19+ does)
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "node16", target: "es2022", strict: true, noEmit: true, types: [] }, files: ["esm.mts", "cjs.cts"] }));
  writeFileSync(
    join(dir, "esm.mts"),
    'import { startTarget, runScript, allPassed } from "smtpchaos";\nconst mta = await startTarget("embedded");\nconst ok: boolean = allPassed(await runScript({ source: "test-case { }" }, mta));\nconsole.log(ok, mta.endpoint.port);\nawait mta.stop();\n',
  );
  writeFileSync(join(dir, "cjs.cts"), 'import { startTarget } from "smtpchaos";\nexport const start = startTarget;\n');
  const typeErrors = async (): Promise<string[]> => {
    const r = await run(process.execPath, [TSC, "-p", dir], { cwd: dir }).then(
      (ok) => ok.stdout,
      (err: { stdout: string }) => err.stdout,
    );
    return r.split("\n").filter((l) => l.includes("error TS"));
  };
  const expected = [/^cjs\.cts\(1,\d+\): error TS1479: .*dynamic 'import\("smtpchaos"\)'/];
  const check = async (what: string): Promise<void> => {
    const errors = await typeErrors();
    assert.equal(errors.length, expected.length, `${what}:\n${errors.join("\n")}`);
    errors.forEach((e, i) => assert.match(e, expected[i] as RegExp, what));
  };
  const typesNode = (): string => (JSON.parse(readFileSync(join(dir, "node_modules/@types/node/package.json"), "utf8")) as { version: string }).version;
  await check(`with @types/node ${typesNode()} (installed as the package's dependency)`);

  // the lowest @types/node the dependency's range allows
  const floor = /^>=(\d+)$/.exec(manifest.dependencies["@types/node"] ?? "")?.[1];
  assert.ok(floor !== undefined, `@types/node's range is ">=MAJOR" (${manifest.dependencies["@types/node"]})`);
  await run("npm", ["install", "--no-save", "--prefer-offline", "--no-audit", "--no-fund", `@types/node@${floor}`], { cwd: dir });
  assert.equal(typesNode().split(".")[0], floor);
  await check(`with @types/node ${typesNode()}`);
});
