// Finds the end-of-data marker (CRLF.CRLF) in a client's DATA stream as it flows through the
// proxy in arbitrary chunks, without forwarding the final dot early: bytes that could be the
// start of the marker are held back until the next chunk says what they are.

const MARKER = Buffer.from("\r\n.\r\n");

export interface ScanResult {
  /** forward now: body bytes before the final dot (ends with the CRLF that precedes it, if any) */
  body: Buffer;
  /** true when the final dot was found; `dot` then holds ".\r\n" and `rest` what followed it */
  found: boolean;
  dot: Buffer;
  rest: Buffer;
}

export class EndOfDataScanner {
  /** the last (up to 2) bytes already forwarded; starts as CRLF because DATA's line ended there */
  private hist: Buffer = Buffer.from("\r\n");
  private held: Buffer = Buffer.alloc(0);

  /** Call at each 354 (start of a new message body). */
  reset(): void {
    this.hist = Buffer.from("\r\n");
    this.held = Buffer.alloc(0);
  }

  push(chunk: Buffer): ScanResult {
    const buf = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    this.held = Buffer.alloc(0);
    const search = Buffer.concat([this.hist, buf]);
    const idx = search.indexOf(MARKER);
    if (idx >= 0) {
      const dotPos = idx + 2 - this.hist.length;
      const end = dotPos + 3;
      this.reset();
      return { body: buf.subarray(0, dotPos), found: true, dot: buf.subarray(dotPos, end), rest: buf.subarray(end) };
    }
    // hold back the longest tail of `search` that is a proper prefix of the marker, if it lies in buf
    let hold = 0;
    for (let k = Math.min(4, search.length); k > 0; k--) {
      if (search.subarray(search.length - k).equals(MARKER.subarray(0, k))) {
        hold = Math.min(k, buf.length);
        break;
      }
    }
    // CRs/LFs already forwarded in hist are fine: they stay in hist, only buf bytes are held
    const body = buf.subarray(0, buf.length - hold);
    this.held = Buffer.from(buf.subarray(buf.length - hold));
    const forwardedTail = Buffer.concat([this.hist, body]);
    this.hist = Buffer.from(forwardedTail.subarray(Math.max(0, forwardedTail.length - 2)));
    return { body, found: false, dot: Buffer.alloc(0), rest: Buffer.alloc(0) };
  }
}
