#!/usr/bin/env node
// The umbrella CLI: each subcommand lives with the tool it drives and is loaded on demand,
// so `smtpchaos script` never pays for storm's or monkey's imports.
import { EXIT } from "../common/exit-codes.js";
import { runAsProcess } from "./entry.js";

type SubcommandMain = (argv: string[]) => Promise<number>;

const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<SubcommandMain> }> = {
  target: { summary: "start, stop, inspect or check a target MTA", load: async () => targetMain },
  demo: { summary: "run the shipped example and suites against the embedded target", load: async () => (await composed()).demo },
  suite: { summary: "run the shipped suites against a target, judged by its expectations", load: async () => (await composed()).suite },
  storm: { summary: "flood a server with concurrent varied sessions; percentiles and thresholds", load: async () => (await import("../storm/cli.js")).main },
  monkey: { summary: "inject faults into a running target while flooding it; oracle and no-loss ledger", load: async () => (await composed()).monkey },
  crash: { summary: "power-cut a target: every state a host crash can leave, recovered and checked for lost mail", load: async () => (await import("../monkey/crash/cli.js")).main },
  script: { summary: "run smtpscript files (same as the smtpscript command)", load: async () => (await composed()).script },
  report: { summary: "one page across targets: suites and fault sweeps side by side (report matrix)", load: async () => (await composed()).report },
};

/** The commands that use another tool: smtpscript gets the monkey's fault wiring, the monkey storm's mixes (report runs both). */
async function composed(): Promise<Record<"suite" | "script" | "demo" | "monkey" | "report", SubcommandMain>> {
  (await import("./compose.js")).composeTools();
  return {
    monkey: (await import("../monkey/cli.js")).main,
    suite: (await import("../smtpscript/suite-cli.js")).main,
    script: (await import("../smtpscript/cli.js")).main,
    demo: (await import("./demo.js")).main,
    report: (await import("./report/cli.js")).main,
  };
}

/** `target check` reports the reach of the monkey's fault wiring, so it lives with the monkey; the rest of `target` does not load it. */
async function targetMain(argv: string[]): Promise<number> {
  if (argv[0] === "check") return (await import("../monkey/target-check.js")).main(argv.slice(1));
  return (await import("../targets/cli.js")).main(argv);
}

function usage(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  const lines = Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: smtpchaos <command> [options] [--plugin FILE|PACKAGE]...\n\ncommands:\n${lines.join("\n")}\n\n--plugin loads your own targets, fault layers, storm kinds and outputs (any command; repeatable;\nor SMTPCHAOS_PLUGINS=a.js,b). Run 'smtpchaos <command> --help' for a command's options.`;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const sub = SUBCOMMANDS[name];
  if (sub === undefined) {
    console.error(`smtpchaos: unknown command '${name}'\n\n${usage()}`);
    return EXIT.usage;
  }
  return (await sub.load())(rest);
}

runAsProcess("smtpchaos", run);
