// Which replies the client is owed. Every command line gets exactly one reply (RFC 5321 4.1.1,
// RFC 2920 for pipelined groups); only a 421 may come unasked (3.8). A reply nobody asked for
// (one sent before its command, or an extra "250") is a protocol violation, not a result: a
// server that answers before it reads would otherwise pass every check.
//
// The count errs on the side of owing more: bytes whose role is unclear (a bare LF, a bare CR,
// message content written before the 354) count as command lines when that can only add owed
// replies, so a correct server is never reported.

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** What the client wrote, scanned as it is: a command string is not copied into a Buffer. */
type Chunk = string | Buffer;

function code(c: Chunk, i: number): number {
  // out of range: NaN for a string, undefined for a Buffer; neither is CR, LF or a dot
  return typeof c === "string" ? c.charCodeAt(i) : (c[i] as number);
}

function text(c: Chunk, from: number, to: number): string {
  return typeof c === "string" ? c.slice(from, to) : c.toString("latin1", from, to);
}

const enum Kind {
  Command = 0,
  Data = 1,
  /** the "." that ends message content */
  Dot = 2,
}

/** Lines written after a DATA whose reply has not come, kept only up to this many. */
const MAX_UNDECIDED = 1_000_000;

export class ReplyAccounting {
  /** lines awaiting a reply, oldest first: the banner is owed from the start */
  private awaiting: Kind[] = [Kind.Command];
  /** lines written after an unanswered DATA: content if it gets a 354, commands if not */
  private undecided: Kind[] | null = null;
  private inData = false;
  /** past MAX_UNDECIDED: stop judging rather than guess */
  private blind = false;
  // The line being written: its length so far and first bytes, and whether a CR ended the last one.
  private col = 0;
  private head = "";
  private prevCR = false;

  /** Records bytes the client wrote. */
  wrote(buf: Chunk): void {
    if (this.blind) return;
    let i = 0;
    while (i < buf.length) {
      if (this.prevCR) {
        this.prevCR = false;
        if (code(buf, i) === LF) {
          i++;
          continue;
        }
      }
      i = this.inData && this.undecided === null ? this.skipContent(buf, i) : this.scanLine(buf, i);
    }
  }

  /**
   * Records a complete reply; returns why it is a violation, or null. A 421 may always come; a
   * 4xx/5xx during message content is a server giving up on the message early (552, 451), which
   * real MTAs do.
   */
  received(code: number): string | null {
    if (this.blind) return null;
    const kind = this.awaiting.shift();
    if (kind === undefined) {
      if (code === 421) return null;
      if (this.inData) return code >= 400 ? null : `reply ${code} arrived before the end of the message data`;
      return `unsolicited reply ${code}: no command was waiting for a reply (a reply sent before its command, or one too many)`;
    }
    if (kind === Kind.Data) {
      const after = this.undecided ?? [];
      this.undecided = null;
      if (code === 354) this.inData = true;
      for (const k of after) this.line(k);
    }
    return null;
  }

  /** Message content: jumps to the next line that is a lone ".". */
  private skipContent(buf: Chunk, from: number): number {
    // A "." at the end of the last write: this buffer says whether it was a line of its own.
    if (this.col === 1 && this.head === ".") return this.scanLine(buf, from);
    let i = from;
    for (;;) {
      if (this.col === 0) {
        if (i >= buf.length) return i;
        if (code(buf, i) === DOT) {
          if (i + 1 >= buf.length) {
            this.col = 1;
            this.head = ".";
            return i + 1;
          }
          const next = code(buf, i + 1);
          if (next === CR || next === LF) return this.scanLine(buf, i);
        }
      }
      // Find the next line end followed by a dot, or the end of the buffer.
      let p = buf.indexOf(".", this.col === 0 ? i + 1 : i);
      while (p !== -1 && code(buf, p - 1) !== CR && code(buf, p - 1) !== LF) p = buf.indexOf(".", p + 1);
      if (p === -1) {
        const last = code(buf, buf.length - 1);
        this.col = last === CR || last === LF ? 0 : 2;
        this.head = "";
        this.prevCR = last === CR;
        return buf.length;
      }
      this.col = 0;
      this.head = "";
      i = p;
    }
  }

  /** One line (or the part of it in this buffer) in command mode. */
  private scanLine(buf: Chunk, from: number): number {
    const cr = buf.indexOf("\r", from);
    const lf = buf.indexOf("\n", from);
    const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
    const stop = end === -1 ? buf.length : end;
    if (this.head.length < 8) this.head += text(buf, from, Math.min(stop, from + 8 - this.head.length));
    this.col += stop - from;
    if (end === -1) return stop;
    const kind = this.col === 1 && this.head === "." ? Kind.Dot : this.col <= 8 && /^data *$/i.test(this.head) ? Kind.Data : Kind.Command;
    this.col = 0;
    this.head = "";
    this.prevCR = code(buf, end) === CR;
    this.line(kind);
    return end + 1;
  }

  private line(kind: Kind): void {
    if (this.undecided !== null) {
      if (this.undecided.length >= MAX_UNDECIDED) this.blind = true;
      else this.undecided.push(kind);
      return;
    }
    if (this.inData) {
      if (kind === Kind.Dot) {
        this.inData = false;
        this.awaiting.push(Kind.Dot);
      }
      return;
    }
    this.awaiting.push(kind === Kind.Data ? Kind.Data : Kind.Command);
    if (kind === Kind.Data) this.undecided = [];
  }
}
