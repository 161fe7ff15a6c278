import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { LineReader, LineTooLongError } from "../../smtp/line-reader.js";
import type { Line } from "../../smtp/line-reader.js";

function readAll(chunks: Buffer[]): Line[] {
  const r = new LineReader();
  const out: Line[] = [];
  for (const c of chunks) out.push(...r.push(c));
  out.push(...r.end());
  return out;
}

test("distinguishes CRLF, bare LF and bare CR", () => {
  const lines = readAll([Buffer.from("a\r\nb\nc\rd\r\n")]);
  assert.deepEqual(lines, [
    { text: "a", ending: "CRLF" },
    { text: "b", ending: "LF" },
    { text: "c", ending: "CR" },
    { text: "d", ending: "CRLF" },
  ]);
});

test("a CRLF split across two chunks is still one CRLF", () => {
  assert.deepEqual(readAll([Buffer.from("250 ok\r"), Buffer.from("\n")]), [{ text: "250 ok", ending: "CRLF" }]);
});

test("a lone CR at end of stream is a CR line; unterminated text is EOF", () => {
  assert.deepEqual(readAll([Buffer.from("x\r")]), [{ text: "x", ending: "CR" }]);
  assert.deepEqual(readAll([Buffer.from("x\r\ny")]), [
    { text: "x", ending: "CRLF" },
    { text: "y", ending: "EOF" },
  ]);
});

test("CR CR LF is a bare CR line followed by an empty CRLF line", () => {
  assert.deepEqual(readAll([Buffer.from("a\r\r\n")]), [
    { text: "a", ending: "CR" },
    { text: "", ending: "CRLF" },
  ]);
});

test("refuses a line longer than the limit", () => {
  const r = new LineReader({ maxLineBytes: 10 });
  assert.throws(() => r.push(Buffer.alloc(11, 0x61)), LineTooLongError);
});

test("property: chunking never changes the lines", () => {
  const byte = fc.constantFrom(0x0d, 0x0a, 0x61, 0x20, 0x2e);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 60 }).map((a) => a), fc.array(byte, { maxLength: 60 }), fc.array(fc.nat(60), { maxLength: 6 }), (_noise, bytes, cuts) => {
      const data = Buffer.from(bytes);
      const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const p of points) {
        chunks.push(data.subarray(prev, p));
        prev = p;
      }
      chunks.push(data.subarray(prev));
      assert.deepEqual(readAll(chunks), readAll([data]));
    }),
  );
});

test("property: re-joining lines with their endings gives back the input", () => {
  const ending = { CRLF: "\r\n", LF: "\n", CR: "\r", EOF: "" } as const;
  fc.assert(
    fc.property(fc.array(fc.constantFrom("\r", "\n", "a", "b", " "), { maxLength: 80 }), (chars) => {
      const s = chars.join("");
      const joined = readAll([Buffer.from(s)])
        .map((l) => l.text + ending[l.ending])
        .join("");
      assert.equal(joined, s);
    }),
  );
});
