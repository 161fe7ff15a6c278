// A target in code: an SMTP server in this process (nodemailer's smtp-server) that delivers
// every accepted message to memory at once. `--target memory` in every tool.
import { SMTPServer } from "smtp-server";

const DOMAIN = "memory.example";
const ID = /^X-Smtpchaos-Id:\s*(\S+)/im;

class MemoryTarget {
  name = "memory";
  domain = DOMAIN;
  mailboxes = [`user@${DOMAIN}`, `postmaster@${DOMAIN}`];
  endpoint = { host: "127.0.0.1", port: 0 };
  queueObservable = true;
  #server = null;
  #delivered = [];
  #logs = [];
  #listeners = new Set();

  async start() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onRcptTo: (address, _session, done) => (address.address.endsWith(`@${DOMAIN}`) ? done() : done(Object.assign(new Error("relay denied"), { responseCode: 550 }))),
      onData: (stream, session, done) => {
        const chunks = [];
        stream.on("data", (c) => chunks.push(c));
        stream.on("end", () => {
          const data = Buffer.concat(chunks);
          const id = ID.exec(data.toString("latin1"))?.[1] ?? null;
          for (const rcpt of session.envelope.rcptTo) this.#delivered.push({ id, location: rcpt.address, size: data.length, data });
          this.#log(`delivered ${id ?? "(no id)"} to ${session.envelope.rcptTo.length} recipient(s)`);
          done();
        });
      },
    });
    await new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.endpoint.port, this.endpoint.host, () => resolve());
    });
    this.endpoint = { host: "127.0.0.1", port: this.#server.server.address().port };
    this.#log(`listening on 127.0.0.1:${this.endpoint.port}`);
  }

  async stop() {
    const server = this.#server;
    this.#server = null;
    if (server !== null) await new Promise((resolve) => server.close(() => resolve()));
  }

  // a restart keeps the port, as an MTA restarted by its init system does
  async restart() {
    await this.stop();
    await this.start();
  }

  async status() {
    const running = this.#server !== null;
    return { running, pid: running ? process.pid : null, endpoint: running ? this.endpoint : null, banner: null, crash: null };
  }

  logs() {
    return [...this.#logs];
  }
  onLog(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  crash() {
    return null;
  }
  onCrash() {
    return () => {};
  }
  async flushQueue() {}
  async queueSize() {
    return 0;
  }
  async delivered() {
    return [...this.#delivered];
  }
  async processes() {
    return [];
  }

  #log(line) {
    this.#logs.push(line);
    if (this.#logs.length > 1000) this.#logs.shift();
    for (const l of this.#listeners) l(line);
  }
}

export const memoryTarget = {
  name: "memory",
  summary: "an SMTP server in the toolkit's process that delivers to memory (the plug-in example)",
  create: () => new MemoryTarget(),
};
