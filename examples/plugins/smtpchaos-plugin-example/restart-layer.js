// A fault layer: restart.target restarts the whole target on a timer (a deploy, an init system's
// restart), decided like the shipped time-driven points (`interval`, `probability`, `every`).
const POINT = "restart.target";
/** how long after a restart its effects are still charged to it (clients reconnecting) */
const SETTLE_MS = 500;
const RESTART_WAIT_MS = 30_000;

class RestartLayer {
  #ctx;
  #target = null;
  #timer = null;
  #restarts = 0;
  #planned = false;

  constructor(ctx) {
    this.#ctx = ctx;
  }
  points() {
    return [POINT];
  }
  async start({ target }) {
    this.#target = target;
  }
  async follow(plan) {
    this.#clear();
    const spec = plan.points.find((p) => p.name === POINT);
    this.#planned ||= spec !== undefined;
    if (spec === undefined || this.#target === null) return;
    this.#timer = setInterval(() => void this.#tick(), spec.intervalMs ?? 1000);
  }
  async #tick() {
    if (this.#ctx.injector.decide(POINT) === null) return;
    const fired = this.#ctx.injector.lastFired(POINT);
    // sessions judged while it restarts are charged to it; the end is known once it is back
    if (fired !== null) fired.until = Date.now() + RESTART_WAIT_MS;
    this.#restarts++;
    try {
      await this.#target.restart();
    } catch (err) {
      this.#ctx.stage(`${POINT}: restart failed: ${err.message}`);
    }
    if (fired !== null) fired.until = Date.now() + SETTLE_MS;
  }
  #clear() {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
  async heal() {
    this.#clear();
  }
  async stop() {
    this.#clear();
  }
  report() {
    if (!this.#planned) return {};
    return { reach: { [POINT]: { mechanism: "restart", fired: this.#restarts, ...(this.#restarts === 0 ? { reason: "the timer never drew a restart" } : {}) } } };
  }
}

export const restartLayer = {
  name: "restart",
  summary: "the whole target is restarted on a timer (the plug-in example)",
  kinds: [{ family: "restart", patterns: [POINT], match: /^restart\.target$/, actions: ["restart"], timeDriven: true, namedAction: true, excuses: ["unreachable"] }],
  // no connection of its own: a restart counts for every session it overlapped
  charge: "target",
  attach: (ctx) => new RestartLayer(ctx),
};
