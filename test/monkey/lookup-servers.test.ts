// Each lookup server speaks its protocol, answered by a test client that speaks it too.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PassThrough, Duplex } from "node:stream";
import { Injector } from "../../monkey/injector.js";
import { validatePlan } from "../../monkey/plan.js";
import { TcpTableServer, tcpTableDecode, tcpTableEncode } from "../../monkey/layers/tcp-table.js";
import { encodeNetstring, NetstringReader, SocketmapServer } from "../../monkey/layers/socketmap.js";
import {
  decodeOpen,
  decodeTableReply,
  decodeTableRequest,
  encodeImsg,
  encodeOpen,
  encodeTableReply,
  encodeTableRequest,
  ImsgReader,
  PROC_TABLE,
  type Imsg,
} from "../../monkey/layers/imsg.js";
import { TableProcBackend } from "../../monkey/layers/table-proc.js";

/** A line/bytes client that collects everything the server sends. */
async function dial(port: number): Promise<{ sock: net.Socket; read: (pred: (b: Buffer) => boolean, ms?: number) => Promise<Buffer>; closed: Promise<unknown> }> {
  const sock = net.connect(port, "127.0.0.1");
  await once(sock, "connect");
  let buf = Buffer.alloc(0);
  let notify: (() => void) | null = null;
  sock.on("data", (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    notify?.();
  });
  const closed = once(sock, "close");
  return {
    sock,
    closed,
    read: (pred, ms = 2000) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timeout; have ${JSON.stringify(buf.toString("latin1"))}`)), ms);
        const check = (): void => {
          if (pred(buf)) {
            clearTimeout(t);
            const out = buf;
            buf = Buffer.alloc(0);
            notify = null;
            resolve(out);
          }
        };
        notify = check;
        check();
      }),
  };
}

const lines = (n: number) => (b: Buffer) => b.toString("latin1").split("\n").length - 1 >= n;

test("tcp_table: %XX encoding round-trips", () => {
  for (const s of ["user@test.example", "a b%c", "tab\there", "ünï"]) assert.equal(tcpTableDecode(tcpTableEncode(s)), s);
  assert.equal(tcpTableEncode("a b%"), "a%20b%25");
});

test("tcp_table server: found, not found, temp failure by schedule, then exit", async (t) => {
  const plan = validatePlan({ points: { "lookup.recipients": { every: 2, actions: { tempfail: 1 } } } });
  const srv = new TcpTableServer({ table: "recipients", entries: { "user@test.example": "user", "a b@x": "sp ace" }, injector: new Injector({ plan, seed: 3 }) });
  await srv.start();
  t.after(() => srv.stop());
  assert.match(srv.spec(), /^tcp:127\.0\.0\.1:\d+$/);
  const c = await dial(srv.address()?.port ?? 0);
  t.after(() => c.sock.destroy());
  c.sock.write("get user@test.example\nget user@test.example\nget nobody@test.example\nget a%20b@x\n");
  const out = (await c.read(lines(4))).toString();
  assert.deepEqual(out.split("\n").slice(0, 4), ["200 user", "400 smtpchaos%20lookup.recipients%20call%202", "500 not found", "400 smtpchaos%20lookup.recipients%20call%204"]);
  c.sock.write("get a%20b@x\n");
  assert.equal((await c.read(lines(1))).toString(), "200 sp%20ace\n");
  c.sock.write("put x y\n");
  assert.match((await c.read(lines(1))).toString(), /^400 /);
});

test("tcp_table server: exit and silent faults", async (t) => {
  const plan = validatePlan({ points: { "lookup.t": { once: 2, action: "exit" } } });
  const srv = new TcpTableServer({ table: "t", entries: { k: "v" }, injector: new Injector({ plan, seed: 1 }) });
  await srv.start();
  t.after(() => srv.stop());
  const c = await dial(srv.address()?.port ?? 0);
  c.sock.write("get k\n");
  assert.equal((await c.read(lines(1))).toString(), "200 v\n");
  c.sock.write("get k\n");
  await c.closed;
  assert.equal(srv.requests, 2);
});

test("socketmap: netstrings and OK/NOTFOUND/TEMP/TIMEOUT/PERM", async (t) => {
  const plan = validatePlan({ points: { "lookup.virtual": { every: { n: 1, offset: 3 }, actions: { tempfail: 1 }, limit: 1 }, "lookup.aliases": { once: 1, action: "timeout" } } });
  const srv = new SocketmapServer({ maps: { virtual: { "a@test.example": "user@test.example" }, aliases: { postmaster: "root" } }, injector: new Injector({ plan, seed: 8 }) });
  await srv.start();
  t.after(() => srv.stop());
  assert.match(srv.spec("virtual"), /^socketmap:inet:127\.0\.0\.1:\d+:virtual$/);
  assert.deepEqual(srv.points().sort(), ["lookup.aliases", "lookup.virtual"]);
  const c = await dial(srv.address()?.port ?? 0);
  t.after(() => c.sock.destroy());
  const reader = new NetstringReader();
  const ask = async (req: string): Promise<string> => {
    c.sock.write(encodeNetstring(req));
    const got: Buffer[] = [];
    await c.read((b) => {
      got.push(...reader.push(b));
      return got.length > 0;
    });
    return (got[0] as Buffer).toString();
  };
  assert.equal(await ask("virtual a@test.example"), "OK user@test.example");
  assert.equal(await ask("virtual nobody@test.example"), "NOTFOUND ");
  assert.match(await ask("virtual a@test.example"), /^TEMP /);
  assert.equal(await ask("virtual a@test.example"), "OK user@test.example", "limit 1 reached");
  assert.match(await ask("aliases postmaster"), /^TIMEOUT /);
  assert.equal(await ask("aliases postmaster"), "OK root");
  assert.match(await ask("nosuchmap x"), /^PERM /);
});

test("netstring reader: split input, bad input", () => {
  const r = new NetstringReader();
  assert.deepEqual(r.push(Buffer.from("5:he")), []);
  assert.deepEqual(r.push(Buffer.from("llo,3:abc,")).map(String), ["hello", "abc"]);
  assert.throws(() => new NetstringReader().push(Buffer.from("5:hello;")));
  assert.throws(() => new NetstringReader().push(Buffer.from("x:")));
});

test("imsg codec round-trips headers, open, requests and replies", () => {
  const reader = new ImsgReader();
  const req = encodeTableRequest({ service: 0x002, nparams: 0, key: "test.example" });
  const wire = Buffer.concat([
    encodeImsg({ type: PROC_TABLE.OPEN, data: encodeOpen("domains"), peerid: 7, pid: 1234 }),
    encodeImsg({ type: PROC_TABLE.CHECK, data: req }),
  ]);
  // byte by byte: the reader must reassemble
  const msgs: Imsg[] = [];
  for (const byte of wire) msgs.push(...reader.push(Buffer.from([byte])));
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0]?.type, PROC_TABLE.OPEN);
  assert.equal(msgs[0]?.peerid, 7);
  assert.equal(msgs[0]?.pid, 1234);
  assert.equal(msgs[0]?.data.length, 4 + 2048);
  assert.deepEqual(decodeOpen(msgs[0]?.data as Buffer), { version: 2, name: "domains" });
  assert.deepEqual(decodeTableRequest(msgs[1]?.data as Buffer, true), { service: 2, nparams: 0, key: "test.example" });
  assert.equal(req.length, 4 + 8 + "test.example".length + 1, "int service, size_t nparams, key NUL: packed");
  assert.deepEqual(decodeTableReply(encodeTableReply(1, "user")), { r: 1, value: "user" });
  assert.deepEqual(decodeTableReply(encodeTableReply(-1)), { r: -1, value: null });
  assert.throws(() => new ImsgReader().push(Buffer.from([0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
});

/** A fake smtpd end of the channel: sends imsgs, collects replies. */
function fakeSmtpd() {
  const toBackend = new PassThrough();
  const fromBackend = new PassThrough();
  const channel = Duplex.from({ readable: toBackend, writable: fromBackend });
  const reader = new ImsgReader();
  const replies: Imsg[] = [];
  fromBackend.on("data", (c: Buffer) => replies.push(...reader.push(c)));
  const waitReplies = async (n: number): Promise<Imsg[]> => {
    for (let i = 0; i < 200 && replies.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    return replies.splice(0, n);
  };
  return { channel, send: (type: number, data?: Buffer) => toBackend.write(encodeImsg({ type, ...(data ? { data } : {}) })), waitReplies };
}

test("table-proc backend: open, check, lookup, temp failure, garbage, exit", async () => {
  const plan = validatePlan({ points: { "lookup.domains": { every: { n: 100, offset: 3 }, action: "tempfail" } } });
  const s = fakeSmtpd();
  const exits: string[] = [];
  new TableProcBackend({ channel: s.channel, entries: { "test.example": "ok", "user": "user@test.example" }, injector: new Injector({ plan, seed: 1 }), onExit: (_c, why) => exits.push(why) });
  s.send(PROC_TABLE.OPEN, encodeOpen("domains"));
  const [open] = await s.waitReplies(1);
  assert.equal(open?.type, PROC_TABLE.OK);
  assert.equal(open?.data.length, 0, "OPEN is acknowledged with an empty OK");
  s.send(PROC_TABLE.CHECK, encodeTableRequest({ service: 2, nparams: 0, key: "TEST.example" }));
  s.send(PROC_TABLE.LOOKUP, encodeTableRequest({ service: 1, nparams: 0, key: "user" }));
  s.send(PROC_TABLE.CHECK, encodeTableRequest({ service: 2, nparams: 0, key: "test.example" }));
  s.send(PROC_TABLE.CHECK, encodeTableRequest({ service: 2, nparams: 0, key: "other.example" }));
  s.send(PROC_TABLE.UPDATE);
  const r = await s.waitReplies(5);
  assert.deepEqual(r.map((m) => m.type), [0, 0, 0, 0, 0]);
  assert.deepEqual(r.map((m) => decodeTableReply(m.data)), [
    { r: 1, value: null },
    { r: 1, value: "user@test.example" },
    { r: -1, value: null },
    { r: 0, value: null },
    { r: 1, value: null },
  ]);
  s.send(PROC_TABLE.CLOSE);
  await s.waitReplies(0);
  for (let i = 0; i < 50 && exits.length === 0; i++) await new Promise((res) => setTimeout(res, 5));
  assert.deepEqual(exits, ["close"]);

  const g = fakeSmtpd();
  const gexits: string[] = [];
  new TableProcBackend({ channel: g.channel, entries: {}, injector: new Injector({ plan: validatePlan({ points: { "lookup.t": { once: 1, action: "garbage" }, "lookup.u": { always: true, action: "exit" } } }), seed: 1 }), point: "lookup.t", onExit: (_c, w) => gexits.push(w) });
  g.send(PROC_TABLE.OPEN, encodeOpen("t"));
  g.send(PROC_TABLE.CHECK, encodeTableRequest({ service: 2, nparams: 0, key: "x" }));
  const gr = await g.waitReplies(2);
  assert.equal(gr[1]?.type, PROC_TABLE.FAIL, "garbage: a FAIL where smtpd expects OK");
});

test("table-monkey executable: talks imsg on fd 0 and exits on an exit fault", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "table-monkey-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cfg = join(dir, "cfg.json");
  const events = join(dir, "events.jsonl");
  await writeFile(cfg, JSON.stringify({ entries: { "test.example": "1" }, seed: 4, eventsFile: events, plan: { points: { "lookup.domains": { once: 2, action: "exit" } } } }));
  // fd 0 of the child is one end of a unix socket connection, as smtpd's socketpair would be
  const sockPath = join(dir, "s");
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(sockPath, () => r()));
  t.after(() => server.close());
  const accepted = once(server, "connection") as Promise<[net.Socket]>;
  const childEnd = net.connect(sockPath);
  await once(childEnd, "connect");
  const [ours] = await accepted;
  const entry = fileURLToPath(new URL("../../monkey/bin/table-monkey.js", import.meta.url));
  const child = spawn(process.execPath, [entry, cfg], { stdio: [childEnd, "ignore", "pipe"] });
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  childEnd.destroy();
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const reader = new ImsgReader();
  const replies: Imsg[] = [];
  ours.on("data", (c: Buffer) => replies.push(...reader.push(c)));
  ours.on("error", () => {});
  ours.write(encodeImsg({ type: PROC_TABLE.OPEN, data: encodeOpen("domains") }));
  ours.write(encodeImsg({ type: PROC_TABLE.CHECK, data: encodeTableRequest({ service: 2, nparams: 0, key: "test.example" }) }));
  const exited = once(child, "exit") as Promise<[number | null, string | null]>;
  for (let i = 0; i < 400 && replies.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(replies.length, 2, `stderr: ${stderr}`);
  assert.deepEqual(decodeTableReply(replies[1]?.data as Buffer), { r: 1, value: null });
  ours.write(encodeImsg({ type: PROC_TABLE.CHECK, data: encodeTableRequest({ service: 2, nparams: 0, key: "test.example" }) }));
  const [code] = await exited;
  ours.destroy();
  assert.equal(code, 1, "the exit fault ends the backend process");
  assert.match(stderr, /exit fault at lookup\.domains/);
  const fired = (await readFile(events, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { point: string; action: string });
  assert.deepEqual(fired.map((f) => [f.point, f.action]), [["lookup.domains", "exit"]]);
});
