// Text from files or peers (a script line, a server's reply, a part's JSON) shown on a terminal:
// control characters become visible escapes (\x1b, \n, \r) so that such text can neither move the
// cursor, clear the screen, ring the bell nor split one error line into several.

// C0 except tab, DEL, and C1 (0x9b is a one-byte CSI on some terminals).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

/** One control character as visible text: \n, \r, else \xHH. */
export function escapeControl(c: string): string {
  if (c === "\n") return "\\n";
  if (c === "\r") return "\\r";
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/** `s` with every control character but tab escaped as visible text. */
export function visible(s: string): string {
  return s.replace(CONTROL, escapeControl);
}

/** The same for a block of lines: line feeds stay, everything else is escaped. */
export function visibleLines(s: string): string {
  return s.split("\n").map(visible).join("\n");
}
