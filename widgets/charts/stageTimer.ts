// Measures pipeline stages for `stageTimeChart`: wrap each stage's call and read the totals.

/** Accumulates wall-clock seconds per named stage. */
export class StageTimer {
  /** Seconds per stage, in first-run order. */
  readonly seconds: Record<string, number> = {};

  /** Run `work`, adding its duration to `stage`; returns its result. */
  async time<T>(stage: string, work: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.seconds[stage] = (this.seconds[stage] ?? 0) + (performance.now() - start) / 1000;
    }
  }
}
