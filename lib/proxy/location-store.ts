import createDebug from 'debug';
import { ClosedError, InvalidArgumentError, SipError } from '../errors.js';
import { type TimerClock, systemTimerClock } from '../nat/clock.js';
import { type Binding, sameBinding } from './binding.js';

const debug = createDebug('natter:registrar');

/** A save that would exceed a store's limit on bindings per AOR or in total. */
export class LocationFullError extends SipError {
  readonly limit: 'per-aor' | 'total';
  constructor(limit: 'per-aor' | 'total', message: string) {
    super('ERR_SIP_LOCATION_FULL', message);
    this.limit = limit;
  }
}

/**
 * The location service (RFC 3261 §10): bindings of addresses-of-record to contacts. Every method
 * is async so that a shared store (Redis, a database) can implement it. A store never returns an
 * expired binding.
 */
export interface LocationStore {
  /** The unexpired bindings of an AOR, highest q first, then the most recently expiring. */
  lookup(aor: string): Promise<Binding[]>;
  /** Adds a binding, or replaces the AOR's binding for the same contact (see sameBinding). */
  save(binding: Binding): Promise<void>;
  /** Removes the AOR's binding for a contact URI; true if there was one. */
  remove(aor: string, contact: string): Promise<boolean>;
  /** Removes every binding of an AOR; returns how many. */
  removeAll(aor: string): Promise<number>;
  /** Every unexpired binding (for the NAT keepalive and administration). */
  all(): Promise<Binding[]>;
  /** Stops timers and releases resources; later calls reject with ClosedError. */
  close(): Promise<void>;
  /** The store's limits, when it has any; the registrar checks them before changing anything. */
  readonly limits?: { readonly maxPerAor: number; readonly maxTotal: number };
}

export interface MemoryLocationStoreOptions {
  /** Clock for expiry and the sweep timer (default: the system clock). */
  clock?: TimerClock;
  /** How often expired bindings are deleted, in ms (default 30000). Lookup filters them anyway. */
  sweepInterval?: number;
  /** Most bindings one AOR may have (default 10). */
  maxPerAor?: number;
  /** Most bindings in the store (default 100000). */
  maxTotal?: number;
  /** Called for each binding the sweep deletes. */
  onExpire?: (binding: Binding) => void;
}

function copy(b: Binding): Binding {
  const c: Binding = { ...b, source: { ...b.source } };
  if (b.params !== undefined) c.params = { ...b.params };
  return c;
}

function byPreference(a: Binding, b: Binding): number {
  return (b.q ?? 1) - (a.q ?? 1) || b.expiresAt - a.expiresAt;
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * The in-memory location store: a Map from AOR to bindings. Expired bindings are never returned
 * and are deleted by a sweep every `sweepInterval` ms. Bindings are copied in and out, so callers
 * cannot change stored state by mutating what they hold.
 */
export class MemoryLocationStore implements LocationStore {
  readonly limits: { readonly maxPerAor: number; readonly maxTotal: number };
  readonly #clock: TimerClock;
  readonly #sweepInterval: number;
  readonly #onExpire: ((binding: Binding) => void) | undefined;
  readonly #byAor = new Map<string, Binding[]>();
  #total = 0;
  #sweepTimer: unknown = undefined;
  #closed = false;

  constructor(options: MemoryLocationStoreOptions = {}) {
    this.#clock = options.clock ?? systemTimerClock;
    this.#sweepInterval = positiveInteger('sweepInterval', options.sweepInterval ?? 30000);
    this.limits = {
      maxPerAor: positiveInteger('maxPerAor', options.maxPerAor ?? 10),
      maxTotal: positiveInteger('maxTotal', options.maxTotal ?? 100000),
    };
    this.#onExpire = options.onExpire;
    this.#scheduleSweep();
  }

  /** How many bindings are held, expired ones not yet swept included. */
  get size(): number {
    return this.#total;
  }

  async lookup(aor: string): Promise<Binding[]> {
    this.#open();
    const now = this.#clock.now();
    return (this.#byAor.get(aor) ?? []).filter((b) => b.expiresAt > now).sort(byPreference).map(copy);
  }

  async save(binding: Binding): Promise<void> {
    this.#open();
    const list = this.#byAor.get(binding.aor) ?? [];
    const now = this.#clock.now();
    const at = list.findIndex((b) => sameBinding(b, binding));
    if (at !== -1) {
      list[at] = copy(binding);
      return;
    }
    const live = list.filter((b) => b.expiresAt > now).length;
    if (live >= this.limits.maxPerAor) {
      throw new LocationFullError('per-aor', `${binding.aor} already has ${live} bindings (maxPerAor ${this.limits.maxPerAor})`);
    }
    if (this.#total >= this.limits.maxTotal) {
      this.#sweep();
      if (this.#total >= this.limits.maxTotal) throw new LocationFullError('total', `location store holds ${this.#total} bindings (maxTotal ${this.limits.maxTotal})`);
    }
    list.push(copy(binding));
    this.#byAor.set(binding.aor, list);
    this.#total++;
  }

  async remove(aor: string, contact: string): Promise<boolean> {
    this.#open();
    const list = this.#byAor.get(aor);
    if (list === undefined) return false;
    const at = list.findIndex((b) => sameBinding(b, { contact }));
    if (at === -1) return false;
    list.splice(at, 1);
    this.#total--;
    if (list.length === 0) this.#byAor.delete(aor);
    return true;
  }

  async removeAll(aor: string): Promise<number> {
    this.#open();
    const list = this.#byAor.get(aor);
    if (list === undefined) return 0;
    this.#byAor.delete(aor);
    this.#total -= list.length;
    return list.length;
  }

  async all(): Promise<Binding[]> {
    this.#open();
    const now = this.#clock.now();
    const out: Binding[] = [];
    for (const list of this.#byAor.values()) for (const b of list) if (b.expiresAt > now) out.push(copy(b));
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweepTimer !== undefined) this.#clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#byAor.clear();
    this.#total = 0;
  }

  /** Deletes expired bindings now; returns how many. The sweep timer calls this. */
  sweep(): number {
    this.#open();
    return this.#sweep();
  }

  #sweep(): number {
    const now = this.#clock.now();
    let removed = 0;
    for (const [aor, list] of this.#byAor) {
      const kept = list.filter((b) => b.expiresAt > now);
      if (kept.length === list.length) continue;
      for (const b of list) {
        if (b.expiresAt > now) continue;
        removed++;
        debug('binding expired: %s -> %s', b.aor, b.contact);
        this.#onExpire?.(copy(b));
      }
      if (kept.length === 0) this.#byAor.delete(aor);
      else this.#byAor.set(aor, kept);
    }
    this.#total -= removed;
    return removed;
  }

  #scheduleSweep(): void {
    this.#sweepTimer = this.#clock.setTimeout(() => {
      this.#sweepTimer = undefined;
      if (this.#closed) return;
      this.#sweep();
      this.#scheduleSweep();
    }, this.#sweepInterval);
  }

  #open(): void {
    if (this.#closed) throw new ClosedError('location store is closed');
  }
}
