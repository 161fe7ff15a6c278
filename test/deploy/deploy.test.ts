// What can be checked here of a 20-machine storm (no cluster, no image registry): the Indexed
// Job has what a Job needs and hands each pod its shard, every storm flag it uses exists, and
// the Dockerfile builds the CLI (built only where a Docker daemon answers; said otherwise).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { runCli, SMTPCHAOS } from "../cli/spawn.js";

const docs = YAML.parseAllDocuments(readFileSync("deploy/kubernetes/storm-job.yaml", "utf8")).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any

test("the Kubernetes manifest: an Indexed Job whose completion index is the shard, writing mergeable results", async () => {
  const job = docs.find((d) => d.kind === "Job");
  assert.ok(job !== undefined, "a Job");
  assert.equal(job.apiVersion, "batch/v1");
  assert.ok(typeof job.metadata?.name === "string");
  assert.equal(job.spec.completionMode, "Indexed");
  assert.equal(job.spec.completions, job.spec.parallelism, "every shard runs at once");
  const pod = job.spec.template.spec;
  assert.equal(pod.restartPolicy, "Never", "a Job's pods must not restart (a rerun shard would count twice)");
  const c = pod.containers[0];
  assert.ok(typeof c.image === "string" && c.image.length > 0);
  const env = Object.fromEntries((c.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
  assert.equal(Number(env.SHARDS), job.spec.completions, "SHARDS matches completions");
  const script = (c.args as string[]).join(" ");
  assert.match(script, /--shard "\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)\/\$SHARDS"/);
  assert.match(script, /--start-at "\$START_AT"/);
  assert.match(script, /--json "\/results\/shard-\$JOB_COMPLETION_INDEX\.json"/);
  assert.match(script, /--allow-remote/, "a cluster's target is not loopback: the manifest says so explicitly");
  const mount = (c.volumeMounts as Array<{ name: string; mountPath: string }>).find((m) => m.mountPath === "/results");
  assert.ok(mount !== undefined && (pod.volumes as Array<{ name: string }>).some((v) => v.name === mount.name));
  assert.ok(docs.some((d) => d.kind === "PersistentVolumeClaim" && d.spec.accessModes.includes("ReadWriteMany")));
  // every storm flag the pods use is one storm knows
  const help = (await runCli(SMTPCHAOS, ["storm", "--help"])).stdout;
  for (const flag of script.match(/--[a-z][a-z0-9-]*/g) ?? []) assert.ok(help.includes(flag), `storm --help knows ${flag}`);
  // the shard expression gives 1/N..N/N for indexes 0..N-1
  const shards = Array.from({ length: 3 }, (_, i) => execFileSync("sh", ["-c", 'echo "$((JOB_COMPLETION_INDEX + 1))/$SHARDS"'], { env: { JOB_COMPLETION_INDEX: String(i), SHARDS: "3" } }).toString().trim());
  assert.deepEqual(shards, ["1/3", "2/3", "3/3"]);
});

test("the Dockerfile: Node 20 slim, the built CLI as entry point; built where Docker runs", (t) => {
  const text = readFileSync("deploy/Dockerfile", "utf8");
  const froms = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 1 && froms.every((f) => /^node:20(-[a-z]+)*-slim\b/.test(f ?? "")), `FROM ${froms.join(", ")}`);
  assert.match(text, /RUN npm ci/);
  assert.match(text, /npm run build/);
  assert.match(text, /COPY --from=build \/src\/dist \.\/dist/);
  assert.match(text, /ENTRYPOINT \["node", "\/app\/dist\/bin\/smtpchaos\.js"\]/);
  const daemon = spawnSync("docker", ["info"], { timeout: 10_000 });
  if (daemon.status !== 0) {
    t.diagnostic("docker build NOT run: no Docker daemon answers on this machine (the README says so)");
    return;
  }
  const build = spawnSync("docker", ["build", "-f", "deploy/Dockerfile", "-t", "smtpchaos:test", "."], { timeout: 600_000 });
  assert.equal(build.status, 0, build.stderr.toString().slice(-2000));
  const run = spawnSync("docker", ["run", "--rm", "smtpchaos:test", "storm", "--help"], { timeout: 60_000 });
  assert.match(run.stdout.toString(), /--shard I\/N/);
});
