// A prototype, on the shared wire layer, of the session storm lacks for raw throughput:
// connection reuse like `smtp-source -d` (each connection sends its share of the messages, no
// RSET between transactions: a completed DATA already resets the transaction, RFC 5321 4.1.1.4)
// plus PIPELINING of MAIL, RCPT and DATA (RFC 2920). It is not storm: the benchmark prints it as
// a separate row to show what storm's session.ts would gain by doing the same.
import { SmtpSession, buildMessage, encodeData } from "../smtp/index.js";

export interface ReuseTarget {
  host: string;
  port: number;
  rcpt: string;
}

/** Sends `messages` messages of `size` bytes over `connections` reused connections; returns msg/s. */
export async function pipelinedReuse(t: ReuseTarget, connections: number, messages: number, size: number): Promise<number> {
  let left = messages;
  let accepted = 0;
  const from = "storm@client.example";
  // The commands of one transaction, written in one segment.
  const envelope = `MAIL FROM:<${from}>\r\nRCPT TO:<${t.rcpt}>\r\nDATA\r\n`;
  const worker = async (): Promise<void> => {
    if (left <= 0) return;
    const s = await SmtpSession.connect({ host: t.host, port: t.port, timeoutMs: 30_000, transcript: null });
    try {
      expect(await s.readReply(), 220);
      const { capabilities } = await s.ehlo("storm.client.example");
      if (!capabilities.has("PIPELINING")) throw new Error(`${t.host}:${t.port} does not offer PIPELINING`);
      while (left > 0) {
        left--;
        s.write(envelope);
        expect(await s.readReply(), 250);
        expect(await s.readReply(), 250);
        expect(await s.readReply(), 354);
        s.write(encodeData(buildMessage({ from, to: [t.rcpt], size, date: new Date(0) }).data));
        expect(await s.readReply(), 250);
        accepted++;
      }
      await s.quit();
    } finally {
      s.close();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const secs = (performance.now() - t0) / 1000;
  if (accepted !== messages) throw new Error(`pipelined reuse: ${accepted} of ${messages} accepted`);
  return accepted / secs;
}

function expect(r: { code: number; text: string }, code: number): void {
  if (r.code !== code) throw new Error(`expected ${code}, got ${r.code} ${r.text}`);
}
