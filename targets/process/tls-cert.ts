// A throwaway self-signed certificate for a target instance (STARTTLS tests), made with openssl
// once per process and name: every instance this process starts (a crash run starts hundreds)
// gets a copy instead of waiting a second or two for a new RSA key.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const run = promisify(execFile);
const made = new Map<string, Promise<{ cert: Buffer; key: Buffer }>>();

async function generate(cn: string): Promise<{ cert: Buffer; key: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), "smtpchaos-cert-"));
  try {
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", `/CN=${cn}`]);
    return { cert: await readFile(cert), key: await readFile(key) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function selfSignedCert(dir: string, cn = "mx.test.example"): Promise<{ cert: string; key: string }> {
  const cert = join(dir, "tls-cert.pem");
  const key = join(dir, "tls-key.pem");
  if (!existsSync(cert) || !existsSync(key)) {
    let pair = made.get(cn);
    if (pair === undefined) {
      pair = generate(cn);
      made.set(cn, pair);
      pair.catch(() => made.delete(cn));
    }
    const p = await pair;
    await writeFile(key, p.key, { mode: 0o600 });
    await writeFile(cert, p.cert);
  }
  await chmod(key, 0o600);
  return { cert, key };
}
