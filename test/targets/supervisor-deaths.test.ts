// A process the toolkit killed on purpose (a kill fault) is no crash when the MTA's master logs
// its death ("process ... pid N killed by signal 9", as Postfix's master does); another pid's
// death, or ours after the window, still is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Supervisor } from "../../targets/process/supervisor.js";

test("supervisor: the logged death of a process the toolkit killed is not a crash; any other is", () => {
  const sup = new Supervisor({ command: "true", args: [], label: "mta", fatalPatterns: [/killed by signal/] });
  const crashes: string[] = [];
  sup.onCrash((c) => crashes.push(c.line ?? ""));
  sup.expectDeath(2157);
  sup.ingest("postfix/master[2146]: warning: process /x/libexec/cleanup pid 2157 killed by signal 9");
  assert.equal(sup.crash(), null);
  assert.ok(sup.logs.tail(5).some((l) => /pid 2157 was killed by the toolkit/.test(l)));
  sup.ingest("postfix/master[2146]: warning: process /x/libexec/smtpd pid 2999 killed by signal 11");
  assert.deepEqual(crashes, ["postfix/master[2146]: warning: process /x/libexec/smtpd pid 2999 killed by signal 11"]);
});

test("supervisor: an expected death expires", () => {
  const sup = new Supervisor({ command: "true", args: [], label: "mta", fatalPatterns: [/killed by signal/] });
  sup.expectDeath(42, -1);
  sup.ingest("warning: process /x/qmgr pid 42 killed by signal 9");
  assert.notEqual(sup.crash(), null);
});
