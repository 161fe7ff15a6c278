// `npm run demo`: the original smtpscript example, every shipped suite, a short storm, then a
// short monkey run (faults while mail flows, oracle and ledger), against the embedded target;
// no root, no setup.
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { main as scriptMain } from "../smtpscript/cli.js";
import { main as suiteMain } from "../smtpscript/suite-cli.js";
import { main as monkeyMain } from "../monkey/cli.js";
import { main as stormMain } from "../storm/cli.js";
import { EXIT } from "../common/exit-codes.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function main(argv: string[]): Promise<number> {
  const seed = relative(process.cwd(), join(ROOT, "smtpscript", "examples", "seed.smtp"));
  console.log(`==> smtpscript --target embedded ${seed}\n`);
  const first = await scriptMain(["--target", "embedded", ...argv, seed]);
  console.log(`\n==> smtpchaos suite run --target embedded\n`);
  const second = await suiteMain(["run", "--target", "embedded", ...argv]);
  const stormArgs = ["--target", "embedded", "--sessions", "50", "--duration", "5s", "--ipv6", "0.1", "--seed", "42", "--threshold", "rate(ungraceful)==0"];
  console.log(`\n==> smtpchaos storm ${stormArgs.join(" ")}\n`);
  const storm = await stormMain(stormArgs);
  const plan = relative(process.cwd(), join(ROOT, "monkey", "plans", "embedded.yaml"));
  const monkeyArgs = ["run", "--target", "embedded", "--plan", plan, "--duration", "15s", "--concurrency", "8"];
  console.log(`\n==> smtpchaos monkey ${monkeyArgs.join(" ")}\n`);
  const third = await monkeyMain(monkeyArgs);
  const codes = [first, second, storm, third];
  return codes.every((c) => c === EXIT.ok) ? EXIT.ok : Math.max(...codes);
}
