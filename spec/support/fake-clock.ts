import type { Clock, TimerHandle } from '../../lib/transaction/clock.js';

interface Entry {
  at: number;
  id: number;
  callback: () => void;
}

/**
 * A fake clock for transaction timers: nothing fires until `tick()`. Timers fire in time order
 * (ties in creation order), each at its own time, so a callback that starts a new timer sees the
 * right `now()`. A binary heap keeps 100 000 pending timers cheap.
 */
export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  #heap: Entry[] = [];
  #active = new Set<number>();

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = ++this.#seq;
    this.#push({ at: this.#now + Math.max(0, ms), id, callback });
    this.#active.add(id);
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#active.delete(handle as number);
  }

  now(): number {
    return this.#now;
  }

  /** Timers started and neither fired nor cleared. */
  get pending(): number {
    return this.#active.size;
  }

  /** Advances time by `ms`, firing every timer due on the way. */
  tick(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.at > until) break;
      this.#pop();
      if (!this.#active.delete(top.id)) continue;
      this.#now = top.at;
      top.callback();
    }
    this.#now = until;
  }

  /** Fires timers until none is pending (or `limit` fired); returns how many fired. */
  runAll(limit = 1_000_000): number {
    let fired = 0;
    while (fired < limit) {
      const top = this.#pop();
      if (top === undefined) break;
      if (!this.#active.delete(top.id)) continue;
      this.#now = Math.max(this.#now, top.at);
      top.callback();
      fired++;
    }
    return fired;
  }

  #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.id < b.id);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Entry | undefined {
    const h = this.#heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
