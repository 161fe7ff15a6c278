// fast-check arbitraries of smtpscript syntax trees, shaped exactly as the parser builds them.
import fc from "fast-check";
import type { ScriptFile, Statement, Str, TopItem } from "../../smtpscript/ast.js";

const ident = fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,8}$/);
const chunk = fc.oneof(
  fc.stringMatching(/^[ -~]{1,12}$/),
  fc.constantFrom("\r\n", "\n", "\r", "\x00", "\t", "$", "${", "\\", '"', "é"),
);

export const str: fc.Arbitrary<Str> = fc.array(fc.oneof({ weight: 4, arbitrary: chunk }, { weight: 1, arbitrary: ident.map((v) => ({ var: v })) }), { maxLength: 4 }).map((parts) => {
  const merged: Str["parts"] = [];
  for (const p of parts) {
    const last = merged[merged.length - 1];
    if (typeof p === "string" && typeof last === "string") merged[merged.length - 1] = last + p;
    else merged.push(p);
  }
  return { parts: merged };
});

const loc = { file: "p.smtp", line: 1, column: 1 };
const plain = fc.stringMatching(/^[ -~]{0,10}$/);

const leaf: fc.Arbitrary<Statement> = fc.oneof(
  str.map((text) => ({ kind: "writeln" as const, text, loc })),
  str.map((text) => ({ kind: "write" as const, text, loc })),
  fc.record({
    want: fc.oneof(
      fc.constant({ kind: "any" as const }),
      fc.constantFrom("ok", "helo", "tempfail", "permfail").map((klass) => ({ kind: "class" as const, klass: klass as "ok" })),
      fc.stringMatching(/^[2-5][0-9x][0-9x]$/).map((pattern) => ({ kind: "code" as const, pattern })),
    ),
    enhanced: fc.option(fc.stringMatching(/^[245]\.(\*|[0-9]{1,3})(\.(\*|[0-9]{1,3}))?$/), { nil: null }),
    match: fc.option(str, { nil: null }),
  }).map((r) => ({ kind: "expect-smtp" as const, ...r, loc })),
  fc.constant({ kind: "expect-disconnect" as const, loc }),
  fc.record({
    name: fc.stringMatching(/^[A-Z0-9][A-Z0-9-]{0,8}$/),
    cmp: fc.option(fc.record({ op: fc.constantFrom(">", "<", ">=", "<=", "==", "!=" as const), value: fc.nat(1_000_000) }), { nil: null }),
  }).map(({ name, cmp }) => ({ kind: "expect-capability" as const, name, absent: false, op: cmp?.op ?? null, value: cmp?.value ?? null, loc })),
  fc.stringMatching(/^[A-Z0-9][A-Z0-9-]{0,8}$/).map((name) => ({ kind: "expect-capability" as const, name, absent: true, op: null, value: null, loc })),
  fc.constant({ kind: "tls-handshake" as const, loc }),
  ident.map((name) => ({ kind: "call" as const, name, loc })),
  fc.record({ count: fc.nat(20), header: str }).map((r) => ({ kind: "expect-delivered" as const, ...r, loc })),
  fc.constant({ kind: "starttls" as const, loc }),
  fc.constant({ kind: "upgrade-tls" as const, loc }),
  fc.constant({ kind: "noop" as const, loc }),
  str.map((reason) => ({ kind: "fail" as const, reason, loc })),
  fc.record({ host: str, port: fc.oneof(fc.record({ port: fc.integer({ min: 1, max: 65535 }), service: fc.constant(null) }), fc.record({ port: fc.constant(null), service: fc.constantFrom("smtp", "submission", null) })) }).map(
    ({ host, port }) => ({ kind: "connect-to" as const, host, ...port, loc }),
  ),
  fc.record({ mechanism: fc.constantFrom("plain", "login" as const), user: str, password: str }).map((r) => ({ kind: "auth" as const, ...r, loc })),
  fc.record({ from: fc.option(str, { nil: null }), to: fc.array(str, { maxLength: 2 }), headers: fc.array(str, { maxLength: 2 }), content: fc.oneof(fc.record({ body: str }), fc.record({ size: fc.nat(10_000_000) }), fc.constant({})) }).map(
    ({ from, to, headers, content }) => ({ kind: "send-message" as const, from, to, headers, body: "body" in content ? content.body : null, size: "size" in content ? content.size : null, loc }),
  ),
  fc.nat(100_000).map((ms) => ({ kind: "sleep" as const, ms, loc })),
  fc.nat(100_000).map((ms) => ({ kind: "timeout" as const, ms, loc })),
  fc.record({ name: ident, tls: fc.constantFrom("none", "implicit", "starttls" as const) }).map((r) => ({ kind: "connect" as const, ...r, loc })),
  fc.option(ident, { nil: null }).map((name) => ({ kind: "disconnect" as const, name, loc })),
  fc.record({ name: ident, value: str }).map((r) => ({ kind: "set" as const, ...r, assign: false, loc })),
  fc.array(fc.oneof(fc.stringMatching(/^[a-z0-9.%=-]{1,8}$/), plain.filter((s) => !s.includes("$"))), { minLength: 1, maxLength: 4 }).map((args) => ({ kind: "monkey" as const, args, loc })),
);

const { statement } = fc.letrec<{ statement: Statement }>((tie) => ({
  statement: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 8, arbitrary: leaf },
    { weight: 1, arbitrary: fc.record({ count: fc.nat(50), body: fc.array(tie("statement"), { maxLength: 3 }) }).map((r) => ({ kind: "repeat" as const, ...r, inline: false, loc })) },
    { weight: 1, arbitrary: fc.record({ count: fc.nat(50), body: tie("statement").filter((b) => b.kind !== "block") }).map((r) => ({ kind: "repeat" as const, count: r.count, body: [r.body], inline: true, loc })) },
    { weight: 1, arbitrary: fc.array(tie("statement"), { maxLength: 3 }).map((body) => ({ kind: "random" as const, body, loc })) },
    { weight: 1, arbitrary: fc.array(tie("statement"), { maxLength: 3 }).map((body) => ({ kind: "block" as const, body, loc })) },
    { weight: 1, arbitrary: fc.record({ name: ident, body: fc.array(leaf, { maxLength: 3 }) }).map((r) => ({ kind: "on" as const, ...r, loc })) },
  ),
}));

const item: fc.Arbitrary<TopItem> = fc.oneof(
  fc.record({ name: ident, params: fc.array(fc.stringMatching(/^[a-z0-9_]{1,5}$/), { maxLength: 2 }), body: fc.array(statement, { maxLength: 5 }) }).map((r) => ({ kind: "proc" as const, ...r, loc })),
  fc.record({
    name: fc.option(plain, { nil: null }),
    noAutoconnect: fc.boolean(),
    expectFail: fc.boolean(),
    skip: fc.option(plain, { nil: null }),
    requires: fc.array(fc.stringMatching(/^[A-Z0-9][A-Z0-9-]{0,8}$/), { maxLength: 2 }),
    requiresFaults: fc.array(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,10}$/), { maxLength: 2 }),
    body: fc.array(statement, { maxLength: 6 }),
  }).map((r) => ({ kind: "test-case" as const, ...r, loc })),
  fc.record({ value: str, assign: fc.boolean() }).map(({ value, assign }) => ({ kind: "set" as const, name: "v", value, assign, loc })),
  fc.stringMatching(/^[a-z/.]{1,10}$/).map((p) => ({ kind: "include" as const, path: { parts: [p] }, loc })),
);

export const scriptArbitrary: fc.Arbitrary<ScriptFile> = fc.array(item, { maxLength: 5 }).map((items) => ({ items }));
