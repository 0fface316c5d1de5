/**
 * Authentication between a proxy and a relay (docs/relay-protocol.md, section 8): a source-address
 * allow list, and an HMAC-SHA256 signature over the request with a shared secret.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { InvalidArgumentError } from '../../errors.js';
import type { SipRequest } from '../../transport/message-api.js';
import { RelayHeader } from './protocol.js';

/** First line of the signed text: the version of the signing rule. */
const SIGNATURE_VERSION = 'natter-relay-v1';

/** Headers covered by the signature, in this order. */
const SIGNED_HEADERS = [
  RelayHeader.party,
  RelayHeader.sdp,
  RelayHeader.nat,
  RelayHeader.source,
  RelayHeader.family,
  RelayHeader.call,
  RelayHeader.owner,
  RelayHeader.list,
] as const;

/** The text a signature covers (section 8): version, method, Request-URI user, Call-ID, CSeq, t, headers, body hash. */
export function signedText(request: SipRequest, t: number): string {
  return [
    SIGNATURE_VERSION,
    request.method,
    request.uri.user ?? '',
    request.callId,
    String(request.cseq.seq),
    String(t),
    ...SIGNED_HEADERS.map((name) => request.get(name)?.trim() ?? ''),
    createHash('sha256').update(request.body).digest('hex'),
  ].join('\n');
}

function signature(secret: Buffer, text: string): string {
  return createHmac('sha256', secret).update(text).digest('base64url');
}

/** Adds `X-Relay-Auth` to a request whose other headers and body are final. */
export function signRequest(request: SipRequest, secret: Buffer, nowMs: number = Date.now()): void {
  const t = Math.floor(nowMs / 1000);
  request.set(RelayHeader.auth, `t=${t};sig=${signature(secret, signedText(request, t))}`);
}

export interface SignatureCheckOptions {
  /** Largest accepted distance between `t` and the relay's clock. Default 30 000 ms. */
  maxSkewMs?: number;
  /** How long an accepted signature is remembered to refuse replays. Default 2 × maxSkewMs. */
  replayWindowMs?: number;
  /** Signatures remembered at most (oldest forgotten first). Default 100 000. */
  maxRemembered?: number;
}

/** Verifies `X-Relay-Auth` on requests reaching a relay, refusing stale and replayed ones. */
export class SignatureChecker {
  readonly #secret: Buffer;
  readonly #maxSkewMs: number;
  readonly #replayWindowMs: number;
  readonly #maxRemembered: number;
  /** Accepted signatures and when they may be forgotten, oldest first (insertion order). */
  readonly #seen = new Map<string, number>();

  constructor(secret: Buffer, options: SignatureCheckOptions = {}) {
    if (secret.length === 0) throw new InvalidArgumentError('the relay secret must not be empty');
    this.#secret = secret;
    this.#maxSkewMs = options.maxSkewMs ?? 30_000;
    this.#replayWindowMs = options.replayWindowMs ?? 2 * this.#maxSkewMs;
    this.#maxRemembered = options.maxRemembered ?? 100_000;
  }

  /** Undefined when the request is authentic, else why not (for the Warning of the 403). */
  check(request: SipRequest, nowMs: number = Date.now()): string | undefined {
    const header = request.get(RelayHeader.auth);
    if (header === undefined) return `missing ${RelayHeader.auth}`;
    const m = /^\s*t=(\d+)\s*;\s*sig=([A-Za-z0-9_-]+)\s*$/.exec(header);
    if (m === null) return `malformed ${RelayHeader.auth}`;
    const t = Number(m[1]);
    const sig = m[2]!;
    if (Math.abs(nowMs - t * 1000) > this.#maxSkewMs) return 'stale timestamp';
    const expected = Buffer.from(signature(this.#secret, signedText(request, t)));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
    this.#forget(nowMs);
    if (this.#seen.has(sig)) return 'replayed request';
    this.#seen.set(sig, nowMs + this.#replayWindowMs);
    if (this.#seen.size > this.#maxRemembered) this.#seen.delete(this.#seen.keys().next().value!);
    return undefined;
  }

  #forget(nowMs: number): void {
    for (const [sig, until] of this.#seen) {
      if (until > nowMs) break;
      this.#seen.delete(sig);
    }
  }
}

/** Source addresses allowed to use a relay: IP literals and CIDR prefixes, IPv4 and IPv6. */
export class AllowList {
  readonly #list = new BlockList();
  readonly entries: readonly string[];

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.split('/') as [string, string | undefined];
      const family = isIP(address);
      if (family === 0) throw new InvalidArgumentError(`allow list: not an IP address or prefix: ${entry}`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) {
        this.#list.addAddress(address, type);
        continue;
      }
      const bits = Number(prefix);
      if (!/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128)) throw new InvalidArgumentError(`allow list: bad prefix length in ${entry}`);
      this.#list.addSubnet(address, bits, type);
    }
    this.entries = [...entries];
  }

  allows(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    if (family === 6 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address)) return this.#list.check(address.slice(7), 'ipv4');
    return this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}
