import { timingSafeEqual } from 'node:crypto';
import createDebug from 'debug';
import { InvalidArgumentError } from '../errors.js';
import { formatAuth, parseAuth } from '../message/auth.js';
import type { AuthValue } from '../message/auth.js';
import { makeResponse } from '../message/build.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { parseUri } from '../message/uri.js';
import type { Uri } from '../message/uri.js';
import type { CredentialSource, Credentials } from './credentials.js';
import { DIGEST_HEX_LENGTH, computeDigestResponse, computeHa1, parseAlgorithm } from './digest.js';
import type { DigestAlgorithm } from './digest.js';
import { NonceCountTracker, NonceIssuer } from './nonce.js';

const debug = createDebug('natter:auth');

/**
 * Which challenge: a registrar or user agent answers 401 with WWW-Authenticate and reads
 * Authorization; a proxy answers 407 with Proxy-Authenticate and reads Proxy-Authorization
 * (RFC 3261 §22.2, §22.3).
 */
export type AuthKind = 'www' | 'proxy';

export interface DigestAuthenticatorOptions {
  /** The protection space (RFC 3261 §22.1: "a globally unique" realm, usually the domain). */
  realm: string;
  /** Where passwords or HA1 values come from. */
  credentials: CredentialSource;
  /**
   * Algorithms offered, one challenge each, in order of preference (RFC 8760 §2.4: the client
   * uses the first one it supports). Default SHA-256 then MD5.
   */
  algorithms?: readonly DigestAlgorithm[];
  /** How long a nonce is accepted, ms (default 300 000). An older one gets a new challenge with stale=true. */
  nonceTtlMs?: number;
  /** HMAC key for the stateless nonces (default: 32 random bytes per process; share it between proxies). */
  secret?: Buffer;
  /** Most nonces whose nonce-count is remembered at once (default 100 000). */
  maxTrackedNonces?: number;
  /** Time source, ms (default Date.now). */
  now?: () => number;
}

/** Why a request was not authenticated. */
export type AuthFailure =
  /** no credentials for our realm: the first challenge */
  | 'missing'
  /** credentials we cannot read (bad syntax, a parameter missing, qop other than auth) */
  | 'malformed'
  /** an algorithm we do not offer */
  | 'algorithm'
  /** a nonce we did not issue */
  | 'bad-nonce'
  /** an expired nonce (the client retries with the fresh one, stale=true) */
  | 'stale'
  /** digest-uri is not the Request-URI */
  | 'uri-mismatch'
  /** an unknown user or a wrong password: the same answer for both */
  | 'wrong-credentials'
  /** a nonce-count not above the last one seen for the nonce */
  | 'replay';

export type AuthOutcome =
  | { ok: true; username: string; algorithm: DigestAlgorithm }
  | { ok: false; reason: AuthFailure; stale: boolean; username?: string; algorithms?: DigestAlgorithm[] };

/** Running totals, for monitoring. */
export interface AuthCounters {
  /** 401/407 challenges sent. */
  challenges: number;
  /** Requests whose credentials were accepted. */
  successes: number;
  /** Requests whose credentials were refused (wrong, replayed, forged, malformed). */
  failures: number;
  /** Of the failures: replays (nonce-count not increasing). */
  replays: number;
  /** Credentials with an expired nonce (answered with stale=true). */
  stale: number;
}

const HEX8 = /^[0-9a-fA-F]{8}$/;

/**
 * HTTP Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760) with qop=auth: stateless
 * expiring nonces (HMAC over the issue time), nonce-count replay detection in bounded memory,
 * MD5, SHA-256 and SHA-512/256, and a pluggable CredentialSource.
 *
 * ```
 * const outcome = await auth.verify(request, 'www');
 * if (!outcome.ok) return auth.challengeResponse(request, 'www', outcome);
 * ```
 */
export class DigestAuthenticator {
  readonly realm: string;
  readonly algorithms: readonly DigestAlgorithm[];
  readonly counters: AuthCounters = { challenges: 0, successes: 0, failures: 0, replays: 0, stale: 0 };
  readonly #credentials: CredentialSource;
  readonly #nonces: NonceIssuer;
  readonly #counts: NonceCountTracker;

  constructor(options: DigestAuthenticatorOptions) {
    if (options.realm.length === 0 || /["\\\r\n]/.test(options.realm)) throw new InvalidArgumentError(`bad realm ${JSON.stringify(options.realm)}`);
    this.realm = options.realm;
    this.algorithms = [...(options.algorithms ?? ['SHA-256', 'MD5'])];
    if (this.algorithms.length === 0) throw new InvalidArgumentError('at least one digest algorithm is needed');
    for (const a of this.algorithms) if (parseAlgorithm(a) !== a) throw new InvalidArgumentError(`unknown digest algorithm ${a}`);
    const ttlMs = options.nonceTtlMs ?? 300_000;
    if (!(ttlMs > 0)) throw new InvalidArgumentError('nonceTtlMs must be positive');
    const now = options.now ?? Date.now;
    this.#credentials = options.credentials;
    this.#nonces = new NonceIssuer({ realm: this.realm, ttlMs, ...(options.secret ? { secret: options.secret } : {}), now });
    this.#counts = new NonceCountTracker({ maxEntries: options.maxTrackedNonces ?? 100_000, ttlMs, now });
  }

  /** Nonces whose nonce-count is being tracked now. */
  get trackedNonces(): number {
    return this.#counts.size;
  }

  /** The challenge header values: one per algorithm, in order of preference, sharing one nonce. */
  challenges(options: { stale?: boolean; algorithms?: readonly DigestAlgorithm[] } = {}): string[] {
    const nonce = this.#nonces.issue();
    const algorithms = options.algorithms !== undefined && options.algorithms.length > 0 ? options.algorithms : this.algorithms;
    return algorithms.map((algorithm) => {
      const params: Record<string, string> = { realm: this.realm, nonce, algorithm, qop: 'auth' };
      if (options.stale === true) params['stale'] = 'true';
      return formatAuth({ scheme: 'Digest', params }, 'challenge');
    });
  }

  /**
   * The 401 (kind 'www', WWW-Authenticate) or 407 (kind 'proxy', Proxy-Authenticate) that asks for
   * credentials, after a failed `verify` (its outcome says whether the nonce was stale and which
   * algorithms the user has credentials for).
   */
  challengeResponse(request: SipRequest, kind: AuthKind, outcome?: AuthOutcome): SipResponse {
    this.counters.challenges++;
    const failed = outcome !== undefined && !outcome.ok ? outcome : undefined;
    const res = makeResponse(request, kind === 'www' ? 401 : 407);
    const header = kind === 'www' ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    for (const value of this.challenges({ stale: failed?.stale ?? false, ...(failed?.algorithms ? { algorithms: failed.algorithms } : {}) })) res.append(header, value);
    return res;
  }

  /**
   * Checks the request's credentials for this realm (Authorization for 'www', Proxy-Authorization
   * for 'proxy'). Never throws for anything in the request.
   */
  async verify(request: SipRequest, kind: AuthKind): Promise<AuthOutcome> {
    const creds = this.#find(request, kind);
    if (creds === undefined) return { ok: false, reason: 'missing', stale: false };
    const outcome = await this.#check(request, creds);
    if (outcome.ok) this.counters.successes++;
    else if (outcome.reason === 'stale') this.counters.stale++;
    else {
      this.counters.failures++;
      if (outcome.reason === 'replay') this.counters.replays++;
      debug('%s %s from %s refused: %s', request.method, request.uri.toString(), outcome.username ?? '?', outcome.reason);
    }
    return outcome;
  }

  /** Removes the credentials for this realm (a proxy does so before forwarding, RFC 3261 §22.3). */
  strip(request: SipRequest, kind: AuthKind): void {
    const name = kind === 'www' ? 'authorization' : 'proxy-authorization';
    const all = request.getAll(name);
    if (all.length === 0) return;
    const kept = all.filter((v) => this.#realmOf(v) !== this.realm);
    if (kept.length === all.length) return;
    if (kept.length === 0) request.remove(name);
    else request.set(name, kept);
  }

  #realmOf(value: string): string | undefined {
    try {
      return parseAuth(value).params['realm'];
    } catch {
      return undefined;
    }
  }

  /** RFC 3261 §22.3: the credentials whose realm is ours (there may be some for other proxies). */
  #find(request: SipRequest, kind: AuthKind): AuthValue | { malformed: true } | undefined {
    let malformed = false;
    for (const value of request.getAll(kind === 'www' ? 'authorization' : 'proxy-authorization')) {
      let auth: AuthValue;
      try {
        auth = parseAuth(value);
      } catch {
        malformed = true;
        continue;
      }
      if (auth.scheme.toLowerCase() === 'digest' && auth.params['realm'] === this.realm) return auth;
    }
    return malformed ? { malformed: true } : undefined;
  }

  async #check(request: SipRequest, found: AuthValue | { malformed: true }): Promise<AuthOutcome> {
    if ('malformed' in found) return { ok: false, reason: 'malformed', stale: false };
    const p = found.params;
    const username = p['username'];
    const nonce = p['nonce'];
    const uri = p['uri'];
    const response = p['response'];
    if (username === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return { ok: false, reason: 'malformed', stale: false, ...(username !== undefined ? { username } : {}) };
    }
    const algorithm = parseAlgorithm(p['algorithm']);
    if (algorithm === undefined || !this.algorithms.includes(algorithm)) return { ok: false, reason: 'algorithm', stale: false, username };
    // We always offer qop="auth" (RFC 7616 §3.3: the client "MUST" then use it), so credentials
    // without qop, nc and cnonce are refused: without nc there is no replay detection.
    const nc = p['nc'];
    const cnonce = p['cnonce'];
    if (p['qop'] !== 'auth' || nc === undefined || !HEX8.test(nc) || cnonce === undefined || cnonce.length === 0) {
      return { ok: false, reason: 'malformed', stale: false, username };
    }
    if (!new RegExp(`^[0-9a-fA-F]{${DIGEST_HEX_LENGTH[algorithm]}}$`).test(response)) return { ok: false, reason: 'malformed', stale: false, username };
    const verdict = this.#nonces.check(nonce);
    if (!verdict.valid) return verdict.stale ? { ok: false, reason: 'stale', stale: true, username } : { ok: false, reason: 'bad-nonce', stale: false, username };
    if (!sameRequestUri(uri, request.uri)) return { ok: false, reason: 'uri-mismatch', stale: false, username };

    let credentials: Credentials | undefined;
    try {
      credentials = await this.#credentials.lookup(username, this.realm);
    } catch (err) {
      debug('credential lookup for %s failed: %s', username, (err as Error).message);
      credentials = undefined;
    }
    const ha1 = credentials === undefined ? undefined : (credentials.ha1?.[algorithm] ?? (credentials.password !== undefined ? computeHa1(algorithm, username, this.realm, credentials.password) : undefined));
    if (ha1 === undefined) {
      // a known user with an HA1 for other algorithms only: challenge again with those
      const usable = credentials === undefined ? undefined : this.algorithms.filter((a) => credentials.password !== undefined || credentials.ha1?.[a] !== undefined);
      return { ok: false, reason: 'wrong-credentials', stale: false, username, ...(usable !== undefined && usable.length > 0 ? { algorithms: usable } : {}) };
    }
    const expected = computeDigestResponse({ algorithm, ha1, method: request.method, uri, nonce, qop: 'auth', nc, cnonce });
    if (!timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(response.toLowerCase(), 'latin1'))) {
      return { ok: false, reason: 'wrong-credentials', stale: false, username };
    }
    const used = this.#counts.use(nonce, verdict.issuedAt, parseInt(nc, 16));
    if (used === 'replay') return { ok: false, reason: 'replay', stale: false, username };
    if (used === 'stale') return { ok: false, reason: 'stale', stale: true, username };
    return { ok: true, username, algorithm };
  }
}

/**
 * RFC 7616 §3.4.6: the server checks that digest-uri names the same resource as the request
 * line. SIP clients copy the Request-URI; equality of scheme, user, host and port is asked, so
 * that a proxy's own parameter rewriting or a different spelling of the same URI does not fail.
 */
function sameRequestUri(text: string, requestUri: Uri): boolean {
  if (text === requestUri.toString()) return true;
  let u: Uri;
  try {
    u = parseUri(text);
  } catch {
    return false;
  }
  if (u.scheme !== requestUri.scheme) return false;
  if (!u.isSip || !requestUri.isSip) return u.toString() === requestUri.toString();
  return u.user === requestUri.user && u.host.toLowerCase() === requestUri.host.toLowerCase() && u.port === requestUri.port;
}
