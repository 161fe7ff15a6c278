// Syntax tree -> smtpscript text that parses back to the same tree. Storm and monkey use it to
// write shrunk failures out as runnable test-cases.
import type { ScriptFile, Statement, Str, TestCase, TopItem } from "./ast.js";

export function printScript(file: ScriptFile): string {
  return file.items.map((i) => printItem(i)).join("\n") + "\n";
}

export function printItem(item: TopItem, indent = ""): string {
  switch (item.kind) {
    case "proc":
      return `${indent}proc ${printName(item.name)}${(item.params ?? []).map((p) => ` %${p}`).join("")} ${printBlock(item.body, indent)}`;
    case "test-case":
      return `${indent}test-case${printOptions(item)} ${printBlock(item.body, indent)}`;
    case "include":
      return `${indent}include ${printStr(item.path)}`;
    case "set":
      return printStatement(item, indent);
  }
}

function printOptions(tc: TestCase): string {
  let s = "";
  if (tc.name !== null) s += ` name ${quote(tc.name, true)}`;
  if (tc.noAutoconnect === true) s += " no-autoconnect";
  if (tc.expectFail === true) s += " expect fail";
  if (tc.skip !== null) s += tc.skip === "" ? " skip" : ` skip ${quote(tc.skip, true)}`;
  for (const r of tc.requires) s += ` requires capability ${r}`;
  for (const f of tc.requiresFaults) s += ` requires fault ${f}`;
  return s;
}

function printBlock(body: readonly Statement[], indent: string): string {
  if (body.length === 0) return "{\n" + indent + "}";
  return "{\n" + body.map((s) => printStatement(s, indent + "\t")).join("\n") + "\n" + indent + "}";
}

export function printStatement(st: Statement, indent = ""): string {
  const line = (s: string): string => indent + s;
  switch (st.kind) {
    case "writeln":
      return line(`writeln ${printStr(st.text)}`);
    case "write":
      return line(`write ${printStr(st.text)}`);
    case "expect-smtp": {
      let s = "expect smtp";
      if (st.want.kind === "class") s += ` ${st.want.klass}`;
      if (st.want.kind === "code") s += ` ${st.want.pattern}`;
      if (st.enhanced !== null) s += ` ${st.enhanced}`;
      if (st.match !== null) s += ` match ${printStr(st.match)}`;
      return line(s);
    }
    case "expect-disconnect":
      return line("expect disconnect");
    case "expect-capability":
      if (st.absent) return line(`expect no capability ${st.name}`);
      return line(`expect capability ${st.name}${st.op !== null && st.value !== null ? ` ${st.op} ${st.value}` : ""}`);
    case "expect-delivered":
      return line(`expect delivered ${st.count} header ${printStr(st.header)}`);
    case "call":
      return line(`call ${printName(st.name)}`);
    case "starttls":
      return line("starttls");
    case "upgrade-tls":
      return line("upgrade-tls");
    case "noop":
      return line("noop");
    case "fail":
      return line(`fail ${printStr(st.reason)}`);
    case "block":
      return line(printBlock(st.body, indent));
    case "random":
      return line(`random ${printBlock(st.body, indent)}`);
    case "connect-to":
      return line(`connect ${printStr(st.host)}${st.port !== null ? ` port ${st.port}` : st.service !== null ? ` port ${quote(st.service, true)}` : ""}`);
    case "tls-handshake":
      return line("tls-handshake");
    case "auth":
      return line(`auth ${st.mechanism} ${printStr(st.user)} ${printStr(st.password)}`);
    case "send-message": {
      let s = "send-message";
      if (st.from !== null) s += ` from ${printStr(st.from)}`;
      for (const t of st.to) s += ` to ${printStr(t)}`;
      for (const h of st.headers) s += ` header ${printStr(h)}`;
      if (st.body !== null) s += ` body ${printStr(st.body)}`;
      if (st.size !== null) s += ` size ${st.size}`;
      return line(s);
    }
    case "sleep":
      return line(`sleep ${st.ms}ms`);
    case "timeout":
      return line(`timeout ${st.ms}ms`);
    case "repeat":
      if (st.inline === true && st.body.length === 1) return line(`repeat ${st.count} ${printStatement(st.body[0] as Statement, indent).trimStart()}`);
      return line(`repeat ${st.count} ${printBlock(st.body, indent)}`);
    case "connect":
      return line(`connect as ${st.name}${st.tls === "implicit" ? " tls" : st.tls === "starttls" ? " starttls" : ""}`);
    case "on":
      return line(`on ${st.name} ${printBlock(st.body, indent)}`);
    case "disconnect":
      return line(st.name === null ? "disconnect" : `disconnect ${st.name}`);
    case "set":
      return line(st.assign === true ? `${st.name} = ${printStr(st.value)}` : `set ${st.name} ${printStr(st.value)}`);
    case "monkey":
      return line(`monkey ${st.args.map((a) => (/^[^\s#{}"'\\]+$/.test(a) ? a : quote(a, true))).join(" ")}`);
  }
}

function printName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name) ? name : quote(name, true);
}

export function printStr(s: Str): string {
  return '"' + s.parts.map((p) => (typeof p === "string" ? escape(p) : `\${${p.var}}`)).join("") + '"';
}

function quote(text: string, _literal: boolean): string {
  return '"' + escape(text) + '"';
}

function escape(text: string): string {
  let out = "";
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "$") out += "\\$";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out;
}
