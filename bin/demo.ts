// `npm run demo`: the shipped example and suites against the embedded target; no root, no setup.
import { readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { main as scriptMain } from "../smtpscript/cli.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function smtpFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...smtpFiles(p));
    else if (name.endsWith(".smtp")) out.push(p);
  }
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const files = [join(ROOT, "smtpscript", "examples", "seed.smtp"), ...smtpFiles(join(ROOT, "suites"))].map((f) => relative(process.cwd(), f));
  console.log(`smtpchaos demo: ${files.length} script(s) against the embedded target\n  ${files.join("\n  ")}\n`);
  return scriptMain(["--target", "embedded", ...argv, ...files]);
}
