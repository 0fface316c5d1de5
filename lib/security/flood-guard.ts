import { InvalidArgumentError } from '../errors.js';

export interface FloodGuardOptions {
  /**
   * Requests one source address may send per window before it is blocked (Kamailio pike's
   * `reqs_density_per_unit`). Default 100.
   */
  limit?: number;
  /** The window, ms (pike's `sampling_time_unit`). Default 2000. */
  windowMs?: number;
  /** How long a source that went over the limit is ignored, ms. Default 60 000. */
  blockMs?: number;
  /** Addresses never limited (monitoring hosts, a trusted peer proxy). */
  exempt?: readonly string[];
  /** Most sources tracked at once (the oldest is forgotten beyond it). Default 100 000. */
  maxSources?: number;
  /** Called when a source gets blocked (to log it). */
  onBlock?: (address: string, until: number) => void;
  /** Time source, ms. Default Date.now. */
  now?: () => number;
}

export interface FloodGuardCounters {
  /** Datagrams let through. */
  allowed: number;
  /** Datagrams dropped because their source is blocked. */
  dropped: number;
  /** Times a source was blocked (over the rate, or by `block()`). */
  blocks: number;
}

interface SourceState {
  windowStart: number;
  count: number;
  previous: number;
  blockedUntil: number;
}

/**
 * Per-source flood protection in the spirit of Kamailio's pike module: each source address gets
 * a sliding-window request rate (the current window's count plus the previous window's, weighted
 * by how much of it still overlaps); a source above `limit` per `windowMs` is blocked for
 * `blockMs`, and every datagram from it is dropped before anything parses it: one Map lookup
 * and a comparison. Only requests count toward the rate (responses and CRLF keep-alives do
 * not), but nothing from a blocked source gets through. Memory is bounded by `maxSources`.
 */
export class FloodGuard {
  readonly limit: number;
  readonly windowMs: number;
  readonly blockMs: number;
  readonly counters: FloodGuardCounters = { allowed: 0, dropped: 0, blocks: 0 };
  readonly #sources = new Map<string, SourceState>();
  readonly #exempt: ReadonlySet<string>;
  readonly #maxSources: number;
  readonly #onBlock: ((address: string, until: number) => void) | undefined;
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(options: FloodGuardOptions = {}) {
    this.limit = options.limit ?? 100;
    this.windowMs = options.windowMs ?? 2000;
    this.blockMs = options.blockMs ?? 60_000;
    if (!Number.isInteger(this.limit) || this.limit < 1) throw new InvalidArgumentError(`flood limit must be a positive integer, got ${this.limit}`);
    if (!(this.windowMs > 0)) throw new InvalidArgumentError('flood windowMs must be positive');
    if (!(this.blockMs >= 0)) throw new InvalidArgumentError('flood blockMs must not be negative');
    this.#exempt = new Set(options.exempt ?? []);
    this.#maxSources = options.maxSources ?? 100_000;
    this.#onBlock = options.onBlock;
    this.#now = options.now ?? Date.now;
  }

  /** Sources tracked now (blocked or counting). */
  get trackedSources(): number {
    return this.#sources.size;
  }

  /** Sources blocked now. */
  get blockedSources(): number {
    const now = this.#now();
    let n = 0;
    for (const s of this.#sources.values()) if (s.blockedUntil > now) n++;
    return n;
  }

  isBlocked(address: string): boolean {
    const s = this.#sources.get(address);
    return s !== undefined && s.blockedUntil > this.#now();
  }

  /**
   * Whether a datagram from `address` may go on. `counts`: whether it is a request (it counts
   * toward the rate); anything from a blocked source is refused either way.
   */
  allow(address: string, counts = true): boolean {
    const now = this.#now();
    let s = this.#sources.get(address);
    if (s !== undefined && s.blockedUntil > now) {
      this.counters.dropped++;
      return false;
    }
    if (!counts || this.#exempt.has(address)) {
      this.counters.allowed++;
      return true;
    }
    if (s === undefined) {
      this.#makeRoom(now);
      s = { windowStart: now, count: 0, previous: 0, blockedUntil: 0 };
      this.#sources.set(address, s);
    }
    const elapsed = now - s.windowStart;
    if (elapsed >= this.windowMs) {
      const windows = Math.floor(elapsed / this.windowMs);
      s.previous = windows === 1 ? s.count : 0;
      s.count = 0;
      s.windowStart += windows * this.windowMs;
    }
    s.count++;
    const overlap = 1 - (now - s.windowStart) / this.windowMs;
    if (s.count + s.previous * overlap > this.limit) {
      this.#block(address, s, now);
      this.counters.dropped++;
      return false;
    }
    this.counters.allowed++;
    return true;
  }

  /** Blocks a source now (a scanner recognised by its User-Agent, say) for `blockMs`. */
  block(address: string): void {
    if (this.#exempt.has(address)) return;
    const now = this.#now();
    let s = this.#sources.get(address);
    if (s === undefined) {
      this.#makeRoom(now);
      s = { windowStart: now, count: 0, previous: 0, blockedUntil: 0 };
      this.#sources.set(address, s);
    }
    if (s.blockedUntil <= now) this.#block(address, s, now);
  }

  /** Lifts a block (an operator's decision). */
  unblock(address: string): boolean {
    return this.#sources.delete(address);
  }

  #block(address: string, s: SourceState, now: number): void {
    s.blockedUntil = now + this.blockMs;
    s.count = 0;
    s.previous = 0;
    this.counters.blocks++;
    this.#onBlock?.(address, s.blockedUntil);
  }

  /** Forgets idle sources now and then, and the oldest when the table is full. */
  #makeRoom(now: number): void {
    if (now - this.#lastSweep >= this.windowMs * 2 || this.#sources.size >= this.#maxSources) {
      this.#lastSweep = now;
      for (const [address, s] of this.#sources) {
        if (s.blockedUntil <= now && now - s.windowStart >= 2 * this.windowMs) this.#sources.delete(address);
      }
    }
    while (this.#sources.size >= this.#maxSources) {
      const oldest = this.#sources.keys().next().value;
      if (oldest === undefined) break;
      this.#sources.delete(oldest);
    }
  }
}

/**
 * Whether a datagram is a SIP request as far as rate counting goes, from its first bytes only: a
 * response starts with "SIP/", a keep-alive with CR or LF (or is a STUN packet).
 */
export function countsAsRequest(datagram: Buffer): boolean {
  if (datagram.length < 4) return false;
  const c = datagram[0]!;
  if (c === 13 || c === 10 || c < 0x20) return false;
  return !(c === 0x53 && datagram[1] === 0x49 && datagram[2] === 0x50 && datagram[3] === 0x2f);
}
