// A tiny SMTP server on node:net for storm tests, listening on 127.0.0.1 and (optionally) ::1
// at the same port, with switchable misbehaviours: reset on too many recipients, a capacity
// above which it sheds load (421 or reset), a delay before the reply to the final dot, and
// refusals of chosen MAIL/RCPT commands. It keeps the transaction state a server must (no RCPT
// before MAIL, no DATA without a recipient) and logs every command with the read it came in,
// so tests can see what was pipelined and where RSETs went.
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
  /** the reply to a connection's n-th MAIL (0-based) instead of 250, e.g. "451 4.3.0 Try later" */
  refuseMail?: (n: number) => string | undefined;
  /** the reply to a connection's n-th RCPT (0-based) instead of 250 */
  refuseRcpt?: (n: number) => string | undefined;
  /** the reply to a connection's n-th message (0-based) at its final dot instead of 250 */
  refuseDot?: (n: number) => string | undefined;
  /** answer DATA with 354 even without an accepted recipient (then refuse the message at the dot) */
  laxData?: boolean;
}

/** A command as the fixture read it: `read` numbers the socket reads of its connection, so
 * commands with the same `read` arrived together (pipelined). */
export interface LoggedCommand {
  verb: string;
  read: number;
  /** the code the fixture answered with */
  code: number;
}

export interface Fixture {
  port: number;
  /** sessions by the family of the client address */
  sessions: { v4: number; v6: number };
  accepted: number;
  shed: number;
  /** concurrent sessions right now */
  active: number;
  /** the commands of each connection served, in connection order */
  log: LoggedCommand[][];
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
    log: [],
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
  let mail = false;
  let rcpts = 0;
  let okRcpts = 0;
  let mails = 0;
  let messages = 0;
  let rcptCount = 0;
  let reads = 0;
  const log: LoggedCommand[] = [];
  state.log.push(log);
  const reply = (line: string): void => {
    if (!socket.destroyed) socket.write(line + "\r\n");
  };
  const answer = (verb: string, line: string): void => {
    log.push({ verb, read: reads, code: Number(line.slice(0, 3)) });
    reply(line);
  };
  const resetTransaction = (): void => {
    mail = false;
    rcpts = 0;
    okRcpts = 0;
  };
  socket.setEncoding("latin1");
  reply("220 fixture.test ESMTP");
  socket.on("data", (chunk: string) => {
    buf += chunk;
    reads++;
    for (;;) {
      if (inData) {
        const end = buf.indexOf("\r\n.\r\n");
        const atStart = buf.startsWith(".\r\n");
        if (end === -1 && !atStart) return;
        buf = atStart ? buf.slice(3) : buf.slice(end + 5);
        inData = false;
        if (okRcpts === 0) {
          // Only after a lax 354: there is nobody to deliver to.
          resetTransaction();
          answer(".", "554 5.5.1 Error: no valid recipients");
          continue;
        }
        resetTransaction();
        const refusal = opts.refuseDot?.(messages++);
        if (refusal !== undefined) {
          answer(".", refusal);
          continue;
        }
        state.accepted++;
        const ok = (): void => answer(".", "250 2.0.0 Ok: queued");
        if (opts.dotDelayMs !== undefined) setTimeout(ok, opts.dotDelayMs);
        else ok();
        continue;
      }
      const nl = buf.indexOf("\r\n");
      if (nl === -1) return;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === "EHLO") answer(verb, "250-fixture.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 50000000");
      else if (verb === "HELO") answer(verb, "250 fixture.test");
      else if (verb === "MAIL") {
        resetTransaction();
        const refusal = opts.refuseMail?.(mails++);
        mail = refusal === undefined;
        answer(verb, refusal ?? "250 2.1.0 Ok");
        if (refusal?.startsWith("421") === true) {
          socket.end();
          return;
        }
      } else if (verb === "RCPT") {
        if (!mail) {
          answer(verb, "503 5.5.1 Error: need MAIL command");
          continue;
        }
        rcpts++;
        if (opts.resetAboveRcpts !== undefined && rcpts > opts.resetAboveRcpts) {
          // The bug under test: an ungraceful end instead of a 452.
          socket.resetAndDestroy();
          return;
        }
        const refusal = opts.refuseRcpt?.(rcptCount++);
        if (refusal === undefined) okRcpts++;
        answer(verb, refusal ?? "250 2.1.5 Ok");
      } else if (verb === "DATA") {
        if (!mail) answer(verb, "503 5.5.1 Error: need MAIL command");
        else if (okRcpts === 0 && opts.laxData !== true) answer(verb, "503 5.5.1 Error: need RCPT command");
        else {
          inData = true;
          answer(verb, "354 End data with <CR><LF>.<CR><LF>");
        }
      } else if (verb === "RSET") {
        resetTransaction();
        answer(verb, "250 2.0.0 Ok");
      } else if (verb === "NOOP") answer(verb, "250 2.0.0 Ok");
      else if (verb === "QUIT") {
        log.push({ verb, read: reads, code: 221 });
        socket.end("221 2.0.0 Bye\r\n");
        return;
      } else answer(verb, "500 5.5.2 Error: command not recognized");
    }
  });
}
