import { randomFillSync } from 'node:crypto';

/**
 * Random identifiers (branches, tags, Call-IDs) from a pool of cryptographically random bytes,
 * refilled 4 KiB at a time: the same unpredictability as a randomBytes() call per identifier,
 * without its fixed cost (a proxy makes two or more per call; the profile showed randomBytes at
 * 4% of the proxy's time).
 */
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_SIZE);
let used = POOL_SIZE;

function take(n: number): number {
  if (n > POOL_SIZE) throw new RangeError(`at most ${POOL_SIZE} random bytes at once`);
  if (used + n > POOL_SIZE) {
    randomFillSync(pool);
    used = 0;
  }
  const at = used;
  used += n;
  return at;
}

/** `bytes` random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  const at = take(bytes);
  return pool.toString('hex', at, at + bytes);
}

/** `bytes` random bytes as base64url (RFC 4648 §5: token characters only). */
export function randomBase64url(bytes: number): string {
  const at = take(bytes);
  return pool.toString('base64url', at, at + bytes);
}
