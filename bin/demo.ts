// `npm run demo`: the original smtpscript example, then every shipped suite, against the
// embedded target; no root, no setup.
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { main as scriptMain } from "../smtpscript/cli.js";
import { main as suiteMain } from "../smtpscript/suite-cli.js";
import { EXIT } from "./exit-codes.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function main(argv: string[]): Promise<number> {
  const seed = relative(process.cwd(), join(ROOT, "smtpscript", "examples", "seed.smtp"));
  console.log(`==> smtpscript --target embedded ${seed}\n`);
  const first = await scriptMain(["--target", "embedded", ...argv, seed]);
  console.log(`\n==> smtpchaos suite run --target embedded\n`);
  const second = await suiteMain(["run", "--target", "embedded", ...argv]);
  return first === EXIT.ok && second === EXIT.ok ? EXIT.ok : Math.max(first, second);
}
