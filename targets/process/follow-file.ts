import { open } from "node:fs/promises";

/** Polls a growing log file and hands complete new lines, from byte `from` on, to `onLine`. */
export function followFile(path: string, onLine: (line: string) => void, from = 0): { stop: () => void } {
  let offset = from;
  let rest = "";
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      try {
        const fh = await open(path, "r");
        try {
          const { size } = await fh.stat();
          if (size > offset) {
            const buf = Buffer.alloc(size - offset);
            await fh.read(buf, 0, buf.length, offset);
            offset = size;
            const text = rest + buf.toString("utf8");
            const lines = text.split("\n");
            rest = lines.pop() ?? "";
            for (const l of lines) onLine(l);
          }
        } finally {
          await fh.close();
        }
      } catch {
        // not created yet
      } finally {
        busy = false;
      }
    })();
  }, 200);
  return { stop: () => clearInterval(timer) };
}
