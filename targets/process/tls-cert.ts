// A throwaway self-signed certificate for a target instance (STARTTLS tests), made with openssl.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { chmod } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";

const run = promisify(execFile);

export async function selfSignedCert(dir: string, cn = "mx.test.example"): Promise<{ cert: string; key: string }> {
  const cert = join(dir, "tls-cert.pem");
  const key = join(dir, "tls-key.pem");
  if (!existsSync(cert) || !existsSync(key)) {
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", `/CN=${cn}`]);
  }
  await chmod(key, 0o600);
  return { cert, key };
}
