// A tiny SMTP server on node:net for storm tests, listening on 127.0.0.1 and (optionally) ::1
// at the same port, with switchable misbehaviours: reset on too many recipients, a capacity
// above which it sheds load (421 or reset), and a delay before the reply to the final dot.
import net from "node:net";

export interface FixtureOptions {
  /** also listen on ::1 at the same port */
  ipv6?: boolean;
  /** reset the connection at the RCPT that exceeds this many recipients */
  resetAboveRcpts?: number;
  /** concurrent sessions served; more are shed */
  capacity?: number;
  /** how sessions above capacity are shed */
  shed?: "421" | "reset";
  /** delay before the reply to the final dot, ms */
  dotDelayMs?: number;
}

export interface Fixture {
  port: number;
  /** sessions by the family of the client address */
  sessions: { v4: number; v6: number };
  accepted: number;
  shed: number;
  /** concurrent sessions right now */
  active: number;
  setCapacity(n: number): void;
  close(): Promise<void>;
}

export async function startFixture(opts: FixtureOptions = {}): Promise<Fixture> {
  const sockets = new Set<net.Socket>();
  const state: Fixture = {
    port: 0,
    sessions: { v4: 0, v6: 0 },
    accepted: 0,
    shed: 0,
    active: 0,
    setCapacity: (n) => (opts.capacity = n),
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    },
  };
  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    if (net.isIPv6(socket.remoteAddress ?? "") && !(socket.remoteAddress ?? "").startsWith("::ffff:")) state.sessions.v6++;
    else state.sessions.v4++;
    if (opts.capacity !== undefined && state.active >= opts.capacity) {
      state.shed++;
      if (opts.shed === "reset") socket.resetAndDestroy();
      else socket.end("421 4.3.2 Too busy, try again later\r\n");
      return;
    }
    state.active++;
    socket.on("close", () => state.active--);
    serve(socket, opts, state);
  };
  const v4 = net.createServer(onConnection);
  const servers = [v4];
  await new Promise<void>((r) => v4.listen(0, "127.0.0.1", r));
  state.port = (v4.address() as net.AddressInfo).port;
  if (opts.ipv6 === true) {
    const v6 = net.createServer(onConnection);
    servers.push(v6);
    await new Promise<void>((resolve, reject) => {
      v6.once("error", reject);
      v6.listen(state.port, "::1", resolve);
    });
  }
  return state;
}

function serve(socket: net.Socket, opts: FixtureOptions, state: Fixture): void {
  let buf = "";
  let inData = false;
  let rcpts = 0;
  const reply = (line: string): void => {
    if (!socket.destroyed) socket.write(line + "\r\n");
  };
  socket.setEncoding("latin1");
  reply("220 fixture.test ESMTP");
  socket.on("data", (chunk: string) => {
    buf += chunk;
    for (;;) {
      if (inData) {
        const end = buf.indexOf("\r\n.\r\n");
        const atStart = buf.startsWith(".\r\n");
        if (end === -1 && !atStart) return;
        buf = atStart ? buf.slice(3) : buf.slice(end + 5);
        inData = false;
        rcpts = 0;
        state.accepted++;
        const ok = (): void => reply("250 2.0.0 Ok: queued");
        if (opts.dotDelayMs !== undefined) setTimeout(ok, opts.dotDelayMs);
        else ok();
        continue;
      }
      const nl = buf.indexOf("\r\n");
      if (nl === -1) return;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === "EHLO") reply("250-fixture.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 50000000");
      else if (verb === "HELO") reply("250 fixture.test");
      else if (verb === "MAIL") {
        rcpts = 0;
        reply("250 2.1.0 Ok");
      } else if (verb === "RCPT") {
        rcpts++;
        if (opts.resetAboveRcpts !== undefined && rcpts > opts.resetAboveRcpts) {
          // The bug under test: an ungraceful end instead of a 452.
          socket.resetAndDestroy();
          return;
        }
        reply("250 2.1.5 Ok");
      } else if (verb === "DATA") {
        inData = true;
        reply("354 End data with <CR><LF>.<CR><LF>");
      } else if (verb === "RSET" || verb === "NOOP") reply("250 2.0.0 Ok");
      else if (verb === "QUIT") {
        socket.end("221 2.0.0 Bye\r\n");
        return;
      } else reply("500 5.5.2 Error: command not recognized");
    }
  });
}
