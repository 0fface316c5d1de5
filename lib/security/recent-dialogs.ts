import { detached } from '../message/detach.js';

/**
 * Call-IDs of dialogs the proxy let through recently, for the no-open-relay rule on requests
 * inside a dialog (a SUBSCRIBE's NOTIFYs, a BYE after the call record is gone). Bounded: entries
 * expire after `ttlMs`, and beyond `max` the oldest is forgotten.
 */
export class RecentDialogs {
  readonly #entries = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; max?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 12 * 3600_000;
    this.#max = options.max ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  add(callId: string): void {
    const now = this.#now();
    this.#entries.delete(callId);
    // kept for hours: a copy, not a slice of the request's text
    this.#entries.set(detached(callId), now + this.#ttlMs);
    // entries are in insertion order, so the expired ones are at the front
    for (const [id, until] of this.#entries) {
      if (until > now && this.#entries.size <= this.#max) break;
      this.#entries.delete(id);
    }
  }

  has(callId: string): boolean {
    const until = this.#entries.get(callId);
    return until !== undefined && until > this.#now();
  }

  clear(): void {
    this.#entries.clear();
  }
}
