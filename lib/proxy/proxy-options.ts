import type { RelayAllocator } from '../relay/relay-allocator.js';
import type { NatDetector } from '../nat/detector.js';
import type { LocationStore } from './location-store.js';
import type { Clock } from '../transaction/clock.js';
import type { TimerOptions } from '../transaction/timers.js';
import type { CallRecord } from './call-log.js';
import type { CredentialSource } from '../auth/credentials.js';
import type { DigestAlgorithm } from '../auth/digest.js';
import type { FloodGuardOptions } from '../security/flood-guard.js';
import { InvalidArgumentError } from '../errors.js';

/** Digest authentication of the proxy's own users (RFC 3261 §22, RFC 8760). */
export interface ProxyAuthOptions {
  /** Where the users' passwords or HA1 values come from (e.g. a JsonFileCredentialSource). */
  credentials: CredentialSource;
  /** The realm (default: the first of `domains`, else the proxy's advertised address). */
  realm?: string;
  /** Algorithms offered, most preferred first (default SHA-256, MD5). */
  algorithms?: DigestAlgorithm[];
  /** How long a nonce is accepted, ms (default 300 000). */
  nonceTtlMs?: number;
  /** HMAC key of the stateless nonces; give proxies behind one name the same one. Default: random. */
  secret?: Buffer;
}

/** Options of a natter proxy; every one has a default. */
export interface ProxyOptions {
  /** Address and port to listen on (default 127.0.0.1:5060; port 0 picks a free one). */
  listen?: { address: string; port: number };
  /** Address written into Via and Record-Route, when it differs from the listen address. */
  advertisedAddress?: string;
  /** Domains the proxy is registrar for; empty (default): any. */
  domains?: string[];
  /** The relay allocator; default: the local in-process media relay. */
  relay?: RelayAllocator;
  /**
   * The local relay's media address (default: the listen address): one IPv4 and/or one IPv6
   * address. With both, the relay bridges an IPv4 party to an IPv6 one.
   */
  mediaAddress?: string | string[];
  /**
   * Listen on `::` for IPv6 and IPv4 alike (one dual-stack socket). Give `advertisedAddress` a
   * name that resolves to both families (A and AAAA), since Via and Record-Route carry one host.
   */
  dualStack?: boolean;
  /** The local relay's port range (default 30000-39999). */
  rtpPorts?: { min: number; max: number };
  /** Local relay: end a session after this long without media (default 60 s). */
  mediaTimeoutMs?: number;
  /** Relay every call, not only those with a party behind NAT (default false). */
  relayAlways?: boolean;
  /** The comparison engine; default: the DefaultNatDetector with its default tests. */
  natDetector?: NatDetector;
  /** Where registrations live; default: a MemoryLocationStore. */
  locationStore?: LocationStore;
  /** NAT keepalive of NATed bindings (default every 30 s, dropping after 3 unanswered); false: off. */
  keepalive?: { interval?: number; maxFailures?: number } | false;
  /** Transaction timers T1, T2, T4. */
  timers?: TimerOptions;
  clock?: Clock;
  /** Timer C for INVITE branches, ms (default 180 000, RFC 3261 §16.6 step 11). */
  timerC?: number;
  /** Calls tracked at once; beyond this a new INVITE gets 503 (default 10 000). */
  maxCalls?: number;
  /**
   * How long an answered call without a relay is remembered, ms (default 12 h; 0: for ever). It
   * has no media timeout, so a call whose BYE never comes would otherwise stay in `calls`.
   */
  maxCallDuration?: number;
  /** Record-route dialog-creating requests (default true; the relay needs in-dialog requests). */
  recordRoute?: boolean;
  /**
   * Digest authentication: REGISTER is answered 401 and out-of-dialog requests from local users
   * 407 until they carry valid credentials (docs/security.md). Default: none.
   */
  auth?: ProxyAuthOptions;
  /**
   * Forward requests for domains the proxy does not serve from anyone. Default: true only when
   * neither `domains` nor `auth` is given (a lab proxy); otherwise such requests get 403 unless
   * they come from an authenticated local user.
   */
  openRelay?: boolean;
  /** Per-source request rate limit with a temporary block (Kamailio pike); default off. */
  floodGuard?: FloodGuardOptions | false;
  /** Drop requests whose User-Agent names a known scanner (true: the built-in list); default false. */
  dropScanners?: boolean | readonly string[];
  /** Largest datagram accepted, bytes (default 32 768); a larger request gets 513 Message Too Large. */
  maxMessageSize?: number;
  /**
   * Working transactions (not yet answered, or a forwarded request not yet answered) beyond which
   * new requests get 503 (default 100 000).
   */
  maxTransactions?: number;
  /**
   * Finished transactions kept to absorb retransmissions (64*T1 by RFC 3261/6026, as bytes); past
   * this many the oldest is dropped early (default 300 000). They do not count against maxTransactions.
   */
  maxLingeringTransactions?: number;
  /** One record per call when it ends (the CLI prints them). */
  onCallEnd?: (record: CallRecord) => void;
}

/** Parses `IP:PORT` / `[IPv6]:PORT` / `IP` (port 5060). */
export function parseHostPortOption(text: string, what = 'address'): { address: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (m === null) throw new InvalidArgumentError(`bad ${what} ${text}: expected IP:PORT`);
  const port = m[2] === undefined ? 5060 : Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`bad port in ${what} ${text}`);
  return { address: m[1]!, port };
}

/** Parses `MIN-MAX`. */
export function parsePortRange(text: string): { min: number; max: number } {
  const m = /^(\d+)-(\d+)$/.exec(text);
  const min = Number(m?.[1]);
  const max = Number(m?.[2]);
  if (m === null || min < 1024 || max > 65535 || min > max) throw new InvalidArgumentError(`bad port range ${text}: expected MIN-MAX within 1024-65535`);
  return { min, max };
}
