import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a nonce check found. */
export type NonceVerdict =
  /** issued by this server (or one sharing its secret), not expired */
  | { valid: true; issuedAt: number }
  /** issued here but too old: the client should retry with a fresh one (stale=true) */
  | { valid: false; stale: true }
  /** not a nonce of ours (forged, corrupted, other realm) */
  | { valid: false; stale: false };

const TIME_BYTES = 6;
const RANDOM_BYTES = 6;
const MAC_BYTES = 12;
const NONCE_BYTES = TIME_BYTES + RANDOM_BYTES + MAC_BYTES;

/**
 * Stateless, expiring nonces (RFC 7616 §3.3 "nonce" and §5.4): `base64url(time | random | mac)`
 * where time is the issue time in ms (48 bits), random 48 bits, and mac the first 96 bits of
 * HMAC-SHA-256(secret, time | random | realm). Checking one needs no memory: the MAC says it is
 * ours, the time says whether it expired. Several proxies sharing a secret accept each other's.
 */
export class NonceIssuer {
  readonly #secret: Buffer;
  readonly #realm: string;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { realm: string; ttlMs: number; secret?: Buffer; now?: () => number }) {
    this.#secret = options.secret ?? randomBytes(32);
    this.#realm = options.realm;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  issue(): string {
    const buf = Buffer.alloc(NONCE_BYTES);
    buf.writeUIntBE(Math.max(0, Math.floor(this.#now())) % 2 ** 48, 0, TIME_BYTES);
    randomBytes(RANDOM_BYTES).copy(buf, TIME_BYTES);
    this.#mac(buf.subarray(0, TIME_BYTES + RANDOM_BYTES)).copy(buf, TIME_BYTES + RANDOM_BYTES);
    return buf.toString('base64url');
  }

  check(nonce: string): NonceVerdict {
    if (nonce.length !== Math.ceil((NONCE_BYTES * 4) / 3) || !/^[A-Za-z0-9_-]+$/.test(nonce)) return { valid: false, stale: false };
    const buf = Buffer.from(nonce, 'base64url');
    if (buf.length !== NONCE_BYTES) return { valid: false, stale: false };
    const mac = this.#mac(buf.subarray(0, TIME_BYTES + RANDOM_BYTES));
    if (!timingSafeEqual(mac, buf.subarray(TIME_BYTES + RANDOM_BYTES))) return { valid: false, stale: false };
    const issuedAt = buf.readUIntBE(0, TIME_BYTES);
    const age = this.#now() - issuedAt;
    // a nonce from the future (clock step back, or a peer's skew) is honoured only within a second
    if (age > this.#ttlMs || age < -1000) return { valid: false, stale: true };
    return { valid: true, issuedAt };
  }

  #mac(data: Buffer): Buffer {
    return createHmac('sha256', this.#secret).update(data).update(this.#realm, 'utf8').digest().subarray(0, MAC_BYTES);
  }
}

/**
 * Nonce-count tracking (RFC 7616 §3.4: "the server SHOULD check that the nonce-count ... is
 * greater than the one it last saw for this nonce, to detect replays"). One entry per nonce that
 * was used successfully, forgotten when the nonce expires; at most `maxEntries` entries. When an
 * entry must be dropped early to stay in bounds, every nonce issued up to that one's time becomes
 * "unknown" and is refused as stale (the client gets a new nonce), so a replay never slips through
 * the forgetting.
 */
export class NonceCountTracker {
  readonly #seen = new Map<string, { nc: number; issuedAt: number }>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Nonces issued at or before this time and not in the map are refused (stale). */
  #floor = -Infinity;
  evicted = 0;

  constructor(options: { maxEntries: number; ttlMs: number; now?: () => number }) {
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#seen.size;
  }

  /**
   * Records `nc` for `nonce`: 'ok' when it is above the highest seen, 'replay' when not, 'stale'
   * when the nonce was forgotten to keep memory bounded.
   */
  use(nonce: string, issuedAt: number, nc: number): 'ok' | 'replay' | 'stale' {
    this.#expire();
    const entry = this.#seen.get(nonce);
    if (entry !== undefined) {
      if (nc <= entry.nc) return 'replay';
      entry.nc = nc;
      return 'ok';
    }
    if (issuedAt <= this.#floor) return 'stale';
    while (this.#seen.size >= this.#maxEntries) {
      const first = this.#seen.entries().next().value;
      if (first === undefined) break;
      this.#seen.delete(first[0]);
      this.#floor = Math.max(this.#floor, first[1].issuedAt);
      this.evicted++;
    }
    this.#seen.set(nonce, { nc, issuedAt });
    return 'ok';
  }

  /** Drops entries of expired nonces from the front of the map (oldest first use first). */
  #expire(): void {
    const oldest = this.#now() - this.#ttlMs - 1000;
    let budget = 16;
    for (const [nonce, e] of this.#seen) {
      if (budget-- === 0 || e.issuedAt >= oldest) break;
      this.#seen.delete(nonce);
    }
  }
}
