// Child-process entry of the embedded MTA: `node daemon.js '<options json>'`. Prints one
// READY line with its ports, logs to stdout, flushes the queue on SIGUSR1, stops on SIGTERM.
import { EmbeddedMta } from "./mta.js";
import type { EmbeddedMtaOptions } from "./mta.js";

import { READY_PREFIX } from "./protocol.js";
import type { ReadyLine } from "./protocol.js";

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? "{}") as EmbeddedMtaOptions;
  const mta = new EmbeddedMta({ ...opts, log: (line) => console.log(`${new Date().toISOString()} embedded[${process.pid}]: ${line}`) });
  await mta.start();
  const { port, tlsPort, host6 } = mta.endpoint;
  const ready: ReadyLine = { port, tlsPort, host6, pid: process.pid };
  console.log(READY_PREFIX + JSON.stringify(ready));
  process.on("SIGUSR1", () => mta.flush());
  const stop = (): void => {
    mta.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  console.error(`fatal: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
