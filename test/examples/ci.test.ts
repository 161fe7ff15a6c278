// The CI recipes in examples/ci/ (issue #24 item 6), checked without GitHub or GitLab: each file
// is valid for its platform (action-validator: GitHub's workflow schema; gitlab-ci-local:
// GitLab's own CI schema, bundled; both from scripts/setup-ci-tools.sh, a missing one fails in
// CI); every smtpchaos command in them is run by bash, with the recipe's variables, against a
// closed loopback port, so the real CLI reads every flag and value and stops only at the
// unreachable server; the three tools run, storm has thresholds, nothing masks a failure, and
// every report a command writes is kept as an artifact.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { SMTPCHAOS } from "../cli/spawn.js";
import { freePort } from "../../targets/process/free-port.js";
import { requireTool, toolAvailability } from "../tools.js";

const GITHUB = "examples/ci/github-actions.yml";
const GITLAB = "examples/ci/gitlab-ci.yml";
const PREFIX = process.env.SMTPCHAOS_CI_TOOLS ?? "/opt/smtpchaos/ci-tools";
const ACTION_VALIDATOR = join(PREFIX, "node_modules/.bin/action-validator");
const GITLAB_CI_LOCAL = join(PREFIX, "node_modules/.bin/gitlab-ci-local");
const validators = toolAvailability(
  "action-validator and gitlab-ci-local",
  [ACTION_VALIDATOR, GITLAB_CI_LOCAL].filter((p) => !existsSync(p)).map((p) => `${p} missing`).join(", ") || null,
  "npm run setup:ci-tools",
);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

/** One recipe as the tests read it: its shell scripts, each with the variables it runs with. */
interface Recipe {
  file: string;
  scripts: { script: string; env: Record<string, string> }[];
}

function github(): Recipe & { doc: Obj } {
  const doc = YAML.parse(readFileSync(GITHUB, "utf8")) as Obj;
  const scripts = Object.values(doc.jobs as Obj).flatMap((job: Obj) =>
    (job.steps as Obj[]).filter((s) => typeof s.run === "string").map((s) => ({ script: s.run as string, env: { ...doc.env, ...job.env, ...s.env } })),
  );
  return { file: GITHUB, doc, scripts };
}

function gitlab(): Recipe & { doc: Obj } {
  const doc = YAML.parse(readFileSync(GITLAB, "utf8")) as Obj;
  const jobs = Object.entries(doc).filter(([name, job]) => !name.startsWith(".") && typeof job === "object" && job !== null);
  const scripts = jobs.flatMap(([, job]: [string, Obj]) => {
    const base = typeof job.extends === "string" ? (doc[job.extends] as Obj) : {};
    const env = { ...doc.variables, ...base.variables, ...job.variables };
    return [...(base.before_script ?? []), ...(job.before_script ?? []), ...(job.script ?? [])].map((script: string) => ({ script, env }));
  });
  return { file: GITLAB, doc, scripts };
}

/** The smtpchaos command lines of a script: continuation lines joined, one logical line each. */
function commands(script: string): string[] {
  return script
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^smtpchaos\s/.test(l));
}

/** Every smtpchaos command of a recipe with the variables it runs with. */
function recipeCommands(r: Recipe): { line: string; env: Record<string, string> }[] {
  return r.scripts.flatMap(({ script, env }) => commands(script).map((line) => ({ line, env })));
}

interface Ran {
  code: number | null;
  stderr: string;
}

/** Runs one command line through bash as CI would, smtpchaos being this checkout's CLI. */
function runLine(line: string, env: Record<string, string>, cwd: string): Ran {
  const cli = resolve(SMTPCHAOS);
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", `set -u; smtpchaos() { "${process.execPath}" "${cli}" "$@"; }\n${line}`], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status, stderr: r.stderr };
}

/** Accepted: the CLI read every flag and value, and stopped only because nothing listens there. */
function acceptedAll(r: Ran): boolean {
  return r.code === 2 && /server unreachable|unreachable: connection refused|startup probe failed: .*cannot connect/.test(r.stderr);
}

/** Runs every command of the recipe against a closed port; the words after smtpchaos that name each tool. */
async function runRecipe(r: Recipe, scratch: string): Promise<string[]> {
  const port = await freePort();
  const maildir = join(scratch, "Maildir");
  for (const sub of ["new", "cur", "tmp"]) mkdirSync(join(maildir, sub), { recursive: true });
  mkdirSync(join(scratch, "smtpchaos-reports"), { recursive: true });
  const tools: string[] = [];
  for (const { line, env } of recipeCommands(r)) {
    assert.doesNotMatch(line, /\$\{\{/, "no workflow expressions inside commands: variables, as CI sets them");
    const ran = runLine(line, { ...env, MTA_HOST: "127.0.0.1", MTA_PORT: String(port), MTA_MAILDIR: maildir }, scratch);
    assert.ok(acceptedAll(ran), `${r.file}: ${line}\nexit ${ran.code}: ${ran.stderr}`);
    tools.push(/^smtpchaos (suite run|monkey run|storm)\b/.exec(line)?.[1] ?? line);
  }
  return tools;
}

/** The files a command writes its reports to (--reporter and --out KIND=FILE). */
function reportFiles(line: string): { kind: string; file: string }[] {
  return [...line.matchAll(/--(?:reporter|out)[ =]"?(junit|html|json|tap)=([^\s"]+)/g)].map((m) => ({ kind: m[1] as string, file: m[2] as string }));
}

test("the GitHub Actions workflow is valid for action-validator, and a broken copy is not", { timeout: 60_000 }, (t) => {
  if (validators.skip !== false) return t.skip(validators.skip);
  requireTool("action-validator and gitlab-ci-local", validators.why);
  const ok = spawnSync(ACTION_VALIDATOR, [GITHUB], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-gha-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "broken.yml"), readFileSync(GITHUB, "utf8").replace("runs-on:", "run-on:"));
  const broken = spawnSync(ACTION_VALIDATOR, [join(dir, "broken.yml")], { encoding: "utf8" });
  assert.notEqual(broken.status, 0);
  assert.match(broken.stdout + broken.stderr, /runs-on/);
});

test("the GitLab CI jobs are valid against GitLab's CI schema (gitlab-ci-local), and a broken copy is not", { timeout: 60_000 }, (t) => {
  if (validators.skip !== false) return t.skip(validators.skip);
  requireTool("action-validator and gitlab-ci-local", validators.why);
  const check = (text: string): { status: number | null; out: string } => {
    // gitlab-ci-local reads .gitlab-ci.yml from its working directory and leaves state there
    const dir = mkdtempSync(join(tmpdir(), "smtpchaos-glci-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, ".gitlab-ci.yml"), text);
    const r = spawnSync(GITLAB_CI_LOCAL, ["--list"], { cwd: dir, encoding: "utf8" });
    return { status: r.status, out: r.stdout + r.stderr };
  };
  const text = readFileSync(GITLAB, "utf8");
  const ok = check(text);
  assert.equal(ok.status, 0, ok.out);
  assert.match(ok.out, /json schema validated/);
  for (const job of ["smtpchaos-suites", "smtpchaos-monkey", "smtpchaos-storm"]) assert.match(ok.out, new RegExp(`^${job}\\s+test\\s`, "m"));
  const broken = check(text.replace("when: always", "when: sometimes"));
  assert.notEqual(broken.status, 0);
  assert.match(broken.out, /Invalid \.gitlab-ci\.yml configuration[\s\S]*artifacts\.when/);
});

test("every smtpchaos command in the recipes is accepted by the CLI (all flags and values), and the check catches a bad one", { timeout: 120_000 }, async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), "smtpchaos-recipes-"));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  for (const r of [github(), gitlab()]) {
    const tools = await runRecipe(r, scratch);
    assert.deepEqual([...tools].sort(), ["monkey run", "storm", "suite run"], `${r.file}: the suites, one monkey run and one storm`);
  }
  // a misspelt flag and a bad threshold are refused as usage errors, not taken for a run
  const [storm] = recipeCommands(github()).filter((c) => c.line.startsWith("smtpchaos storm"));
  assert.ok(storm !== undefined);
  const port = String(await freePort());
  const env = { ...storm.env, MTA_HOST: "127.0.0.1", MTA_PORT: port };
  const misspelt = runLine(`${storm.line} --sesions 5`, env, scratch);
  assert.equal(acceptedAll(misspelt), false, misspelt.stderr);
  assert.equal(misspelt.code, 2);
  const badThreshold = runLine(storm.line.replace("p99(dot)<1s", "p99(dot)<soon"), env, scratch);
  assert.equal(acceptedAll(badThreshold), false, badThreshold.stderr);
});

test("the recipes fail the job on findings and thresholds, and keep every JUnit and HTML report", () => {
  const gh = github();
  const gl = gitlab();
  for (const r of [gh, gl]) {
    const lines = recipeCommands(r).map((c) => c.line);
    for (const line of lines) {
      assert.doesNotMatch(line, /\|\|\s*true|;\s*true\s*$/, `${r.file}: nothing masks a failing exit code: ${line}`);
      assert.match(line, /--allow-remote/, `${r.file}: the MTA is a service container, not on loopback: ${line}`);
      assert.ok(reportFiles(line).some((o) => o.kind === "junit"), `${r.file}: a JUnit report: ${line}`);
    }
    const storm = lines.find((l) => l.startsWith("smtpchaos storm")) ?? "";
    assert.ok((storm.match(/--threshold /g) ?? []).length >= 2, `${r.file}: storm has thresholds`);
    for (const tool of ["smtpchaos storm", "smtpchaos monkey run"]) {
      const line = lines.find((l) => l.startsWith(tool)) ?? "";
      assert.ok(reportFiles(line).some((o) => o.kind === "html"), `${r.file}: ${tool} writes an HTML report`);
    }
  }
  const written = (r: Recipe): string[] => recipeCommands(r).flatMap((c) => reportFiles(c.line).map((o) => o.file));

  // GitHub: the tools' steps run after one of them failed (the job still fails), and the upload
  // runs whatever happened before it and takes every report
  const job = Object.values(gh.doc.jobs as Obj)[0] as Obj;
  assert.equal(job["continue-on-error"], undefined);
  const steps = job.steps as Obj[];
  for (const s of steps.filter((s) => typeof s.run === "string" && commands(s.run as string).length > 0)) {
    assert.match(String(s.if), /!cancelled\(\)/, `step "${s.name}" runs after a failed one`);
    assert.equal(s["continue-on-error"], undefined, `step "${s.name}" fails the job`);
  }
  const upload = steps.find((s) => String(s.uses).startsWith("actions/upload-artifact@"));
  assert.ok(upload !== undefined, "reports uploaded");
  assert.match(String(upload.if), /!cancelled\(\)|always\(\)/);
  for (const f of written(gh)) assert.ok(f.startsWith(String(upload.with.path)), `${f} is under the uploaded ${upload.with.path}`);

  // GitLab: artifacts kept on failure, JUnit reports for merge requests
  const base = gl.doc[".smtpchaos"] as Obj;
  assert.equal(base.artifacts.when, "always");
  const junitGlob = new RegExp(`^${String(base.artifacts.reports.junit).replace(/[.]/g, "\\.").replace(/\*/g, "[^/]*")}$`);
  for (const job of Object.entries(gl.doc).filter(([n]) => !n.startsWith(".")).map(([, j]) => j as Obj)) assert.equal(job.allow_failure, undefined);
  for (const f of written(gl)) {
    assert.ok((base.artifacts.paths as string[]).some((p) => f.startsWith(p)), `${f} is kept as an artifact`);
    if (f.endsWith(".xml")) assert.match(f, junitGlob, `${f} is a JUnit report GitLab reads`);
  }
});
