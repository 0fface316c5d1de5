import createDebug from 'debug';
import { InvalidArgumentError } from '../errors.js';
import type { Binding } from '../proxy/binding.js';
import type { LocationStore } from '../proxy/location-store.js';
import { type TimerClock, systemTimerClock } from './clock.js';

const debug = createDebug('natter:nat');

/**
 * Sends one keepalive to a binding and resolves true when it was answered. The proxy supplies it:
 * an OPTIONS through the transaction layer to `binding.received` (any response counts, like
 * Kamailio's "sipping"), or a CRLF datagram (RFC 5626 §4.4.1) for `keepalive: 'crlf'`, which can
 * only tell that it was sent. A rejection counts as unanswered.
 */
export type KeepaliveSend = (binding: Binding) => Promise<boolean>;

export type KeepaliveClock = TimerClock;

export interface NatKeepaliveOptions {
  store: LocationStore;
  send: KeepaliveSend;
  /** Time between rounds, in ms (default 30000; NAT UDP mappings often last 30-60 s). */
  interval?: number;
  /** Consecutive unanswered pings after which a binding is removed (default 3). */
  maxFailures?: number;
  /** How long to wait for one answer, in ms (default: the interval). */
  timeout?: number;
  /** Ping every binding, not only NATed ones (Kamailio's ping_nated_only = 0). Default false. */
  pingAll?: boolean;
  clock?: TimerClock;
  /** Called for each binding removed as dead. */
  onRemove?: (binding: Binding) => void;
}

interface FailureRecord {
  failures: number;
  /** The REGISTER that wrote the binding; a refresh starts the count again. */
  callId: string;
  cseq: number;
}

function key(b: Binding): string {
  return `${b.aor}\u0000${b.contact}`;
}

/**
 * NAT keepalive, after Kamailio nathelper's `natping_interval` with `sipping`: every `interval`
 * ms, pings each NATed binding (those with `natted` and a `keepalive` method, or every binding
 * with `pingAll`) so the NAT keeps its mapping open, and removes a binding from the store after
 * `maxFailures` consecutive unanswered pings. A binding refreshed by a new REGISTER starts its
 * count again. Rounds never overlap: the next is scheduled when one ends.
 */
export class NatKeepalive {
  readonly #store: LocationStore;
  readonly #send: KeepaliveSend;
  readonly #interval: number;
  readonly #maxFailures: number;
  readonly #timeout: number;
  readonly #pingAll: boolean;
  readonly #clock: TimerClock;
  readonly #onRemove: ((binding: Binding) => void) | undefined;
  readonly #failures = new Map<string, FailureRecord>();
  #timer: unknown = undefined;
  #running = false;
  #stopped = false;
  #round: Promise<void> | undefined = undefined;

  constructor(options: NatKeepaliveOptions) {
    this.#store = options.store;
    this.#send = options.send;
    this.#interval = positive('interval', options.interval ?? 30000);
    this.#maxFailures = positive('maxFailures', options.maxFailures ?? 3);
    this.#timeout = positive('timeout', options.timeout ?? this.#interval);
    this.#pingAll = options.pingAll ?? false;
    this.#clock = options.clock ?? systemTimerClock;
    this.#onRemove = options.onRemove;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Consecutive unanswered pings of a binding so far. */
  failures(binding: Pick<Binding, 'aor' | 'contact'>): number {
    return this.#failures.get(key(binding as Binding))?.failures ?? 0;
  }

  /** Starts pinging; the first round runs one interval from now. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopped = false;
    this.#schedule();
  }

  /** Stops pinging. A round in progress finishes its pings but removes nothing more. */
  stop(): void {
    this.#running = false;
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Runs one round now (the timer calls this; tests and operators may too); resolves when every
   * ping of the round has settled. A call during a round joins that round.
   */
  async ping(): Promise<void> {
    if (this.#round !== undefined) return this.#round;
    this.#round = this.#pingRound().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#running) return;
      this.ping()
        .catch((e: unknown) => debug('keepalive round failed: %s', (e as Error).message))
        .finally(() => {
          if (this.#running && this.#timer === undefined) this.#schedule();
        });
    }, this.#interval);
  }

  async #pingRound(): Promise<void> {
    const all = await this.#store.all();
    const targets = all.filter((b) => this.#pingAll || (b.natted && b.keepalive !== undefined));
    const live = new Set(targets.map(key));
    for (const k of this.#failures.keys()) if (!live.has(k)) this.#failures.delete(k);
    await Promise.all(targets.map((b) => this.#pingOne(b)));
  }

  async #pingOne(b: Binding): Promise<void> {
    const answered = await this.#answered(b);
    const k = key(b);
    let rec = this.#failures.get(k);
    if (rec !== undefined && (rec.callId !== b.callId || rec.cseq !== b.cseq)) rec = undefined;
    if (answered) {
      this.#failures.delete(k);
      return;
    }
    const failures = (rec?.failures ?? 0) + 1;
    this.#failures.set(k, { failures, callId: b.callId, cseq: b.cseq });
    debug('keepalive to %s (%s) unanswered, %d/%d', b.contact, b.received ?? b.contact, failures, this.#maxFailures);
    if (failures < this.#maxFailures || this.#stopped) return;
    // Remove only the binding that failed: a REGISTER may have refreshed it meanwhile.
    const current = (await this.#store.lookup(b.aor)).find((c) => c.contact === b.contact);
    if (current === undefined || current.callId !== b.callId || current.cseq !== b.cseq) return;
    await this.#store.remove(b.aor, b.contact);
    this.#failures.delete(k);
    debug('binding %s -> %s removed after %d unanswered keepalives', b.aor, b.contact, failures);
    this.#onRemove?.(b);
  }

  #answered(b: Binding): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (v: boolean): void => {
        if (done) return;
        done = true;
        this.#clock.clearTimeout(timer);
        resolve(v);
      };
      const timer = this.#clock.setTimeout(() => finish(false), this.#timeout);
      let sent: Promise<boolean>;
      try {
        sent = Promise.resolve(this.#send(b));
      } catch {
        finish(false);
        return;
      }
      sent.then((v) => finish(v === true), () => finish(false));
    });
  }
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got ${v}`);
  return v;
}
