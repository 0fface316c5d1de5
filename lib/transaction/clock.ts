/**
 * The clock transactions read their timers from. Injectable so that tests drive Timers A–M with
 * a fake clock instead of waiting (spec/support/fake-clock.ts).
 */

/** Whatever a clock's setTimeout returns; only handed back to its clearTimeout. */
export type TimerHandle = unknown;

export interface Clock {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Milliseconds since some epoch; optional. */
  now?(): number;
}

/**
 * The real clock. Its timers are unref'ed: a pending Timer D or K does not keep a process alive
 * once its socket is closed.
 */
export const systemClock: Clock = {
  setTimeout(callback: () => void, ms: number): TimerHandle {
    const t = setTimeout(callback, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
  now(): number {
    return Date.now();
  },
};
