// The Dockerfile builds the CLI (built only where a Docker daemon answers; said otherwise). The
// Kubernetes base that runs the image is checked in kubernetes.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

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
