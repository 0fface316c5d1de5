import type { Clock, TimerHandle } from '../../lib/transaction/clock.js';

interface Timer {
  due: number;
  callback: () => void;
  real: NodeJS.Timeout;
}

/**
 * A real clock that can jump ahead. Timers run on real time (for tests against real peers such
 * as sipp, with RFC 3261's default T1 = 500 ms), and `warp(ms)` then skips `ms` of time at once:
 * every timer due by then fires, in due order, each seeing `now()` at its own due time, including
 * the timers those callbacks start. After the peer is done, `warp(70_000)` runs out every 64*T1
 * timer (B, D, F, H, J, L, M, the 2xx give-up and the BYE it sends) in milliseconds instead of
 * half a minute, and `pending` says whether anything is still scheduled.
 */
export class WarpClock implements Clock {
  #offset = 0;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();

  now(): number {
    return Date.now() + this.#offset;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = ++this.#seq;
    const delay = Math.max(0, ms);
    const real = setTimeout(() => {
      if (this.#timers.delete(id)) callback();
    }, delay);
    real.unref();
    this.#timers.set(id, { due: this.now() + delay, callback, real });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    const t = this.#timers.get(handle as number);
    if (t === undefined) return;
    clearTimeout(t.real);
    this.#timers.delete(handle as number);
  }

  /** Timers started and neither fired nor cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Jumps `ms` ahead, firing every timer due on the way; returns how many fired. */
  warp(ms: number, limit = 100_000): number {
    const target = this.now() + ms;
    let fired = 0;
    while (fired < limit) {
      let nextId: number | undefined;
      let next: Timer | undefined;
      for (const [id, t] of this.#timers) {
        if (t.due <= target && (next === undefined || t.due < next.due)) {
          nextId = id;
          next = t;
        }
      }
      if (next === undefined || nextId === undefined) break;
      clearTimeout(next.real);
      this.#timers.delete(nextId);
      this.#offset = next.due - Date.now(); // now() reads the timer's own due time
      fired++;
      next.callback();
    }
    this.#offset = Math.max(this.#offset, target - Date.now());
    return fired;
  }
}
