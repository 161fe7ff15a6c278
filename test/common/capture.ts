// What a function writes to process.stdout and process.stderr, for tests of outputs.

/** Captures what `fn` writes to process.stdout and process.stderr. */
export async function capture(fn: () => Promise<unknown>): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const s of ["stdout", "stderr"] as const) {
    process[s].write = ((chunk: string | Uint8Array) => {
      out[s] += String(chunk);
      return true;
    }) as typeof process.stdout.write;
  }
  try {
    await fn();
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
  return out;
}
