// `monkey serve` has every layer `monkey run` has: a fault proxy in front of the target (net.*)
// and a next hop it relays to (nexthop.*), next to the target's own points, all through one
// control API.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ControlClient } from "../../monkey/control-client.js";
import { attempt } from "./real-helpers.js";
import { waitFor } from "../targets/helpers.js";

const CLI = fileURLToPath(new URL("../../bin/smtpchaos.js", import.meta.url));

test("monkey serve --target embedded: net.* faults through its proxy, nexthop.* on the mail it relays", async (t) => {
  const child = spawn(process.execPath, [CLI, "monkey", "serve", "--target", "embedded", "--seed", "5"], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  let api = "";
  let target = 0;
  let proxy = 0;
  let hopDomain = "";
  for await (const line of createInterface({ input: child.stdout })) {
    target = Number(/serving embedded on [\d.]+:(\d+)/.exec(line)?.[1] ?? target);
    proxy = Number(/fault proxy on 127\.0\.0\.1:(\d+) \(net\.\*\)/.exec(line)?.[1] ?? proxy);
    hopDomain = /next hop on 127\.0\.0\.1:\d+ for mail to \*@(\S+) \(nexthop\.\*\)/.exec(line)?.[1] ?? hopDomain;
    const a = /control API: (http:\/\/\S+)/.exec(line);
    if (a !== null) {
      api = a[1] as string;
      break;
    }
  }
  assert.ok(api !== "" && target > 0 && proxy > 0 && hopDomain !== "", `serve printed its target, proxy, next hop and API; stderr: ${stderr}`);
  const client = new ControlClient(api);
  const { points } = await client.points();
  for (const p of ["queue.write", "net.reset", "net.stall", "nexthop.defer", "nexthop.lose-250"]) assert.ok(points.includes(p), `${p} in ${points.join(", ")}`);

  // net.reset: the message is delivered, but the client never sees the 250
  await client.statement(["fail", "net.reset", "always"]);
  const cut = await attempt(proxy, "user@test.example");
  assert.equal(cut.accepted, false, cut.last);
  assert.equal(cut.code, null, `the session ended without the reply to its dot: ${cut.last}`);
  assert.ok((await attempt(target, "user@test.example")).accepted, "straight to the target: no proxy, no net fault");
  await client.clearPlan();
  assert.ok((await attempt(proxy, "user@test.example")).accepted, "cleared");

  // nexthop.defer: the target relays the hop's domain to the flaky hop, which defers it
  await client.setPlan({ points: { "nexthop.defer": { always: true } } });
  const relayed = await attempt(target, `user@${hopDomain}`);
  assert.ok(relayed.accepted, relayed.last);
  await waitFor("the next hop to defer the relayed message", async () => {
    const stats = (await client.stats()) as { points: Array<{ point: string; fired: number }> };
    return (stats.points.find((p) => p.point === "nexthop.defer")?.fired ?? 0) > 0;
  });

  child.kill("SIGINT");
  const [exitCode] = (await once(child, "exit")) as [number | null];
  assert.equal(exitCode, 0, stderr);
});
