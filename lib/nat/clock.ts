/**
 * The clock the location store, registrar and NAT keepalive read time and timers from. Its shape
 * is the transaction layer's clock with `now()` required, so one fake clock drives both in tests.
 */
export interface TimerClock {
  /** Milliseconds since the Unix epoch (binding expiry times are stored in this scale). */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; its timers are unref'ed so a sweep or keepalive timer never keeps a process alive. */
export const systemTimerClock: TimerClock = {
  now: () => Date.now(),
  setTimeout(callback: () => void, ms: number): unknown {
    const t = setTimeout(callback, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
