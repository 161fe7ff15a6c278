// One shared coarse timer for all the sleeping sessions of a storm (holds, slowloris pauses):
// 10,000 held sessions cost one timer and one array push each, not 10,000 timers.

export class TimerWheel {
  private readonly slots = new Map<number, Array<() => void>>();
  private timer: NodeJS.Timeout | null = null;
  private pending = 0;

  /** resolutionMs: sleeps end up to this late (never early). */
  constructor(private readonly resolutionMs = 20) {}

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    const slot = Math.ceil((performance.now() + ms) / this.resolutionMs);
    return new Promise((resolve) => {
      const list = this.slots.get(slot);
      if (list === undefined) this.slots.set(slot, [resolve]);
      else list.push(resolve);
      this.pending++;
      this.timer ??= setInterval(() => this.turn(), this.resolutionMs);
    });
  }

  private turn(): void {
    const now = Math.floor(performance.now() / this.resolutionMs);
    for (const [slot, list] of this.slots) {
      if (slot > now) continue;
      this.slots.delete(slot);
      this.pending -= list.length;
      for (const resolve of list) resolve();
    }
    if (this.pending === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

/** The process-wide wheel storm sessions share. */
export const wheel = new TimerWheel();
