// Keeps the last N log lines of a target and fans them out to listeners.

export class LogBuffer {
  private readonly lines: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();

  constructor(private readonly max = 2000) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
    for (const l of this.listeners) l(line);
  }

  all(): readonly string[] {
    return this.lines;
  }

  tail(n: number): string[] {
    return this.lines.slice(Math.max(0, this.lines.length - n));
  }

  subscribe(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
