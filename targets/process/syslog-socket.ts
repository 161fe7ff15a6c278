// A syslog receiver for MTAs that log only through syslog(3) (sendmail): a unix stream socket the
// MTA's /dev/log points at (targets/process/dev-log.ts), whose records become readable log lines.
//
// Why a stream socket: glibc's syslog() first connects to /dev/log as SOCK_DGRAM and, on
// EPROTOTYPE (a stream socket there), reconnects as SOCK_STREAM and ends each record with a NUL
// (checked with strace: connect(SOCK_DGRAM) = EPROTOTYPE, connect(SOCK_STREAM) = 0, then
// "<22>Dec  7 20:37:21 pytag[7229]: hello\0"); Go's log/syslog tries unixgram, then unix. Node
// cannot create AF_UNIX datagram sockets, and needs none for these. util-linux `logger` ends its
// records with a newline instead: both are terminators.
import net from "node:net";
import { chmod, lstat, unlink } from "node:fs/promises";
import { visible } from "../../common/visible.js";

/** A record longer than this is cut: what one connection may hold unterminated (bytes). */
export const MAX_RECORD_BYTES = 8192;
/** Connections held at once; sendmail's children each open their own. More are closed at once. */
export const MAX_CONNECTIONS = 512;
/** sun_path is 108 bytes with its NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

const FACILITIES = ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron"];
const SEVERITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/** "mail.info" for a PRI value (facility * 8 + severity). */
export function priorityName(pri: number): string {
  const facility = pri >> 3;
  const name = facility >= 16 && facility <= 23 ? `local${facility - 16}` : (FACILITIES[facility] ?? `facility${facility}`);
  return `${name}.${SEVERITIES[pri & 7] as string}`;
}

// <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG, as glibc and logger write it (no host name on the local socket)
const BSD = /^<(\d{1,3})>(?:([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) )?(?:([^\s:[\]]+)(\[\d+\])?: ?)?([\s\S]*)$/;
// <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG] (RFC 5424: logger --rfc5424, some daemons)
const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: ([\s\S]*))?$/;

export interface SyslogRecord {
  /** "mail.info"; null when the record has no <PRI> (a continuation line) */
  priority: string | null;
  /** the record's time stamp as sent, or null */
  time: string | null;
  /** "sendmail[1234]", or null */
  tag: string | null;
  message: string;
}

/** Parses one record; a text without a <PRI> prefix is all message. */
export function parseSyslogRecord(text: string): SyslogRecord {
  const r5424 = RFC5424.exec(text);
  if (r5424 !== null && Number(r5424[1]) < 192) {
    const nil = (s: string | undefined): string | null => (s === undefined || s === "-" ? null : s);
    const app = nil(r5424[4]);
    const pid = nil(r5424[5]);
    return { priority: priorityName(Number(r5424[1])), time: nil(r5424[2]), tag: app === null ? null : `${app}${pid === null ? "" : `[${pid}]`}`, message: (r5424[8] ?? "").replace(/^\uFEFF/, "") };
  }
  const bsd = BSD.exec(text);
  if (bsd !== null && Number(bsd[1]) < 192) {
    return { priority: priorityName(Number(bsd[1])), time: bsd[2] ?? null, tag: bsd[3] === undefined ? null : `${bsd[3]}${bsd[4] ?? ""}`, message: bsd[5] ?? "" };
  }
  return { priority: null, time: null, tag: null, message: text };
}

/** "Dec  7 20:37:21 mail.info sendmail[1234]: message": a syslog file's line, the priority where the host would be. */
export function formatRecord(r: SyslogRecord): string {
  const head = [r.time, r.priority, r.tag === null ? null : `${r.tag}:`].filter((x) => x !== null).join(" ");
  return visible(head === "" ? r.message : `${head} ${r.message}`);
}

/**
 * Splits one connection's byte stream into records at NUL or newline, holding at most
 * maxBytes of an unterminated record (the rest is counted, not kept). A piece without a <PRI>
 * prefix continues the record before it (glibc sends a message's own newlines as they are) and
 * is shown under that record's head, so that a crash pattern on the message still sees a tag.
 */
export class SyslogFramer {
  private parts: Buffer[] = [];
  private held = 0;
  private cut = 0;
  private head: Omit<SyslogRecord, "message"> | null = null;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxBytes = MAX_RECORD_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== 0 && b !== 0x0a) continue;
      this.hold(chunk.subarray(start, i));
      this.finish();
      start = i + 1;
    }
    this.hold(chunk.subarray(start));
  }

  /** The connection ended: what it sent last needs no terminator. */
  end(): void {
    this.finish();
  }

  private hold(piece: Buffer): void {
    const room = this.maxBytes - this.held;
    if (piece.length > room) {
      this.cut += piece.length - room;
      piece = piece.subarray(0, room);
    }
    if (piece.length === 0) return;
    this.parts.push(piece);
    this.held += piece.length;
  }

  private finish(): void {
    const text = Buffer.concat(this.parts, this.held).toString("utf8").replace(/\r$/, "");
    const cut = this.cut;
    this.parts = [];
    this.held = 0;
    this.cut = 0;
    if (text === "" && cut === 0) return;
    const r = parseSyslogRecord(text);
    if (r.priority !== null) this.head = { priority: r.priority, time: r.time, tag: r.tag };
    else if (this.head !== null) Object.assign(r, this.head);
    this.onLine(formatRecord(r) + (cut > 0 ? ` [${cut} more bytes cut]` : ""));
  }
}

export interface SyslogListener {
  readonly path: string;
  /** Stops listening, ends every connection (their last records are read) and removes the socket file. */
  close(): Promise<void>;
}

/**
 * Listens on a unix stream socket at `path` and hands each record, as one readable line, to
 * `onLine`. The socket is made writable by all: an MTA's children that dropped root (sendmail's
 * smmsp, Exim's Debian-exim) log through it too. A stale socket at the path is replaced; any
 * other file there is an error.
 */
export async function listenSyslog(path: string, onLine: (line: string) => void, o: { maxRecordBytes?: number; maxConnections?: number } = {}): Promise<SyslogListener> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) throw new Error(`syslog socket ${path}: longer than ${MAX_SOCKET_PATH_BYTES} bytes (a unix socket's limit): use a shorter instance directory`);
  await removeStaleSocket(path);
  const open = new Set<{ socket: net.Socket; framer: SyslogFramer }>();
  let refused = 0;
  const server = net.createServer((socket) => {
    const conn = { socket, framer: new SyslogFramer(onLine, o.maxRecordBytes) };
    open.add(conn);
    socket.on("data", (chunk: Buffer) => conn.framer.push(chunk));
    // A logging process that dies mid-record resets its connection: that is its end, not our error.
    socket.on("error", () => {});
    socket.on("close", () => {
      conn.framer.end();
      open.delete(conn);
    });
  });
  server.maxConnections = o.maxConnections ?? MAX_CONNECTIONS;
  server.on("drop", () => {
    // glibc's syslog() then writes nowhere (or to the console with LOG_CONS): say so once per burst
    if (refused++ === 0) onLine(`*** syslog: more than ${server.maxConnections} connections to ${path}: records of further ones are lost`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`syslog socket ${path}: cannot listen: ${err.message}`)));
    server.listen(path, () => resolve());
  });
  server.on("error", (err) => onLine(`*** syslog: socket ${path}: ${err.message}`));
  try {
    await chmod(path, 0o666);
  } catch (err) {
    server.close();
    throw new Error(`syslog socket ${path}: cannot make it writable for the MTA's users: ${(err as Error).message}`);
  }
  let closing: Promise<void> | null = null;
  return {
    path,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of open) c.socket.end();
        // a client that keeps its end open (a process outliving the stop) is cut after a moment
        const timer = setTimeout(() => {
          for (const c of open) c.socket.destroy();
        }, 500);
        await closed;
        clearTimeout(timer);
        await unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT") throw new Error(`syslog socket ${path}: cannot remove it: ${err.message}`);
        });
      })()),
  };
}

async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new Error(`syslog socket ${path}: ${(err as Error).message}`);
  }
  if (!st.isSocket()) throw new Error(`syslog socket ${path}: a file that is not a socket is in the way`);
  await unlink(path);
}
