// Servers that break SMTP on purpose, for the hardening tests: each behaviour is data, so the
// property test can generate them. Loopback only; every connection ends when the client's does
// or after `maxMs`, so no fixture outlives its test.
import net from "node:net";

/** One step of a hostile server's reply stream. */
export type HostileStep =
  /** send these bytes, in pieces of `split` bytes (0 = at once), optionally after the client's next line */
  | { send: string; split?: number; afterLine?: boolean }
  /** stream `line` again and again until the client goes away (an endless reply) */
  | { endless: string }
  /** end the connection */
  | { end: "close" | "reset" };

export type Behaviour = "early" | "data-250" | "endless-ehlo" | HostileStep[];

/** The named hostile servers of the hardening issue, as step lists or as a reactive loop. */
function reactive(kind: Exclude<Behaviour, HostileStep[]>): { onConnect: string; reply: (line: string) => string | null } {
  switch (kind) {
    case "early":
      // The banner and four 250s before the client says anything, then a 250 for every line.
      return { onConnect: "220 early.test\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n", reply: () => "250 ok\r\n" };
    case "data-250":
      // Correct but for DATA, which gets a 250 instead of a 354.
      return {
        onConnect: "220 data250.test\r\n",
        reply: (l) => (/^QUIT/i.test(l) ? "221 bye\r\n" : /^DATA/i.test(l) ? "250 ok, no 354 from me\r\n" : /^EHLO/i.test(l) ? "250-data250.test\r\n250 PIPELINING\r\n" : "250 ok\r\n"),
      };
    case "endless-ehlo":
      return { onConnect: "220 endless.test\r\n", reply: (l) => (/^EHLO/i.test(l) ? null : "250 ok\r\n") };
  }
}

export interface HostileServer {
  host: string;
  port: number;
  /** bytes sent by the server, all connections */
  sent: () => number;
  close(): Promise<void>;
}

export async function startHostile(behaviour: Behaviour, opts: { maxMs?: number; deaf?: boolean } = {}): Promise<HostileServer> {
  const sockets = new Set<net.Socket>();
  let sent = 0;
  const maxMs = opts.maxMs ?? 10_000;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    const timer = setTimeout(() => socket.destroy(), maxMs);
    socket.on("close", () => {
      clearTimeout(timer);
      sockets.delete(socket);
    });
    const write = (s: string | Buffer): boolean => {
      if (socket.destroyed) return false;
      sent += s.length;
      return socket.write(s);
    };
    const endless = async (line: string): Promise<void> => {
      const chunk = line.repeat(Math.max(1, Math.floor(16384 / line.length)));
      while (!socket.destroyed) {
        if (!write(chunk)) await new Promise<void>((r) => socket.once("drain", r).once("close", r));
      }
    };
    let buffered = "";
    const lineWaiters: Array<(l: string) => void> = [];
    const lines: string[] = [];
    // A deaf server reads nothing: the client's writes pile up in its socket buffer.
    if (opts.deaf !== true) socket.on("data", (d: Buffer) => {
      buffered += d.toString("latin1");
      let i;
      while ((i = buffered.indexOf("\n")) !== -1) {
        const l = buffered.slice(0, i).replace(/\r$/, "");
        buffered = buffered.slice(i + 1);
        const w = lineWaiters.shift();
        if (w !== undefined) w(l);
        else lines.push(l);
      }
      if (buffered.length > 1 << 20) buffered = "";
    });
    const nextLine = (): Promise<string> => {
      const l = lines.shift();
      return l !== undefined ? Promise.resolve(l) : new Promise((r) => lineWaiters.push(r));
    };
    if (!Array.isArray(behaviour)) {
      const r = reactive(behaviour);
      write(r.onConnect);
      void (async () => {
        for (;;) {
          const l = await nextLine();
          if (socket.destroyed) return;
          const answer = r.reply(l);
          if (answer === null) return endless("250-x\r\n");
          write(answer);
        }
      })();
      return;
    }
    void (async () => {
      for (const step of behaviour) {
        if (socket.destroyed) return;
        if ("end" in step) {
          if (step.end === "reset") socket.resetAndDestroy();
          else socket.end();
          return;
        }
        if ("endless" in step) return endless(step.endless);
        if (step.afterLine === true) await nextLine();
        const split = step.split ?? 0;
        if (split <= 0) write(step.send);
        else {
          for (let i = 0; i < step.send.length && !socket.destroyed; i += split) {
            write(step.send.slice(i, i + split));
            await new Promise((r) => setTimeout(r, 1));
          }
        }
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: "127.0.0.1",
    port: (server.address() as net.AddressInfo).port,
    sent: () => sent,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
