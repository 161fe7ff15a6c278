// --target NAME | --host H --port P, read one way by every CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseServer } from "../../targets/server-choice.js";
import { UsageError } from "../../common/errors.js";

const usage = (pattern: RegExp) => (e: unknown) => e instanceof UsageError && pattern.test(e.message);

test("a target, a host, or the tool's default", () => {
  assert.deepEqual(chooseServer({ target: "embedded" }), { target: "embedded" });
  assert.deepEqual(chooseServer({ host: "::1", port: "2525" }), { host: "::1", port: 2525 });
  assert.deepEqual(chooseServer({ port: "2525" }), { host: "127.0.0.1", port: 2525 });
  assert.deepEqual(chooseServer({}, { otherwise: { target: "embedded" } }), { target: "embedded" });
  assert.deepEqual(chooseServer({}, { otherwise: { host: "127.0.0.1", port: 25 } }), { host: "127.0.0.1", port: 25 });
  // a default server lends its port to a bare --host
  assert.deepEqual(chooseServer({ host: "localhost" }, { otherwise: { host: "127.0.0.1", port: 25 } }), { host: "localhost", port: 25 });
  assert.deepEqual(chooseServer({ host: "192.0.2.1", port: "25", "allow-remote": true }), { host: "192.0.2.1", port: 25 });
});

test("what cannot be chosen is a one-line usage error", () => {
  assert.throws(() => chooseServer({ target: "embedded", port: "25" }), usage(/^--target and --host\/--port are exclusive$/));
  assert.throws(() => chooseServer({}), usage(/^give --target NAME or --host\/--port$/));
  assert.throws(() => chooseServer({ host: "127.0.0.1" }, { otherwise: { target: "embedded" } }), usage(/^--host needs --port$/));
  assert.throws(() => chooseServer({ port: "70000" }), usage(/^--port must be a port number 1-65535, got "70000"$/));
  assert.throws(() => chooseServer({ host: "192.0.2.1", port: "25" }), usage(/^refusing to send load to 192\.0\.2\.1: not a loopback address/));
  assert.throws(() => chooseServer({ host: "192.0.2.1", port: "25" }, { what: "connect to" }), usage(/^refusing to connect to 192\.0\.2\.1/));
  assert.throws(() => chooseServer({ target: "nosuch" }), usage(/^--target: unknown target "nosuch" \(known: embedded, opensmtpd, postfix/));
});
