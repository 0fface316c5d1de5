import { KeyedQueue } from '../keyed-queue.js';
import { SessionEndedListeners } from '../session-ended-listeners.js';
import { isIPv4, isIPv6 } from 'node:net';
import createDebug from 'debug';
import { InvalidArgumentError, RelayError } from '../../errors.js';
import { type AddressType, isUnspecifiedAddress } from '../../sdp/address.js';
import { type Clock, type TimerHandle, systemClock } from '../../transaction/clock.js';
import type {
  RelayAllocator,
  RelayAnswerOptions,
  RelayOfferOptions,
  RelayParty,
  RelaySessionEndReason,
  RelaySessionEnded,
  RelaySessionKey,
  MediaCounters,
} from '../relay-allocator.js';
import { type LegPlacement, MediaStreamRelay } from './media-stream-relay.js';
import { PortPool } from './port-pool.js';
import { RelaySession, type SessionStats } from './relay-session.js';

const debug = createDebug('natter:relay');

/**
 * When a leg latches to the first packet's source (symmetric RTP, RFC 4961):
 * - `always`: every leg latches (the robust default: works even when NAT detection misses);
 * - `natted`: only legs of parties the NAT detector flagged; the others accept media only from
 *   the address and port in their SDP;
 * - `never`: every leg is strict about its SDP address.
 * In every case a latched leg drops packets from any other source.
 */
export type LatchPolicy = 'always' | 'natted' | 'never';

export interface LocalRelayAllocatorOptions {
  /** Local address(es) the media sockets bind to: at most one IPv4 and one IPv6 literal. */
  mediaAddress: string | readonly string[];
  /**
   * Address(es) written into SDP instead of the bound one, at most one per family: for a relay
   * behind a 1:1 NAT, or bound to `0.0.0.0` / `::`. Default: the bound address.
   */
  advertisedAddress?: string | readonly string[];
  /** Lowest media port, inclusive. Default 30000. */
  portMin?: number;
  /** Highest media port, inclusive. Default 39999. */
  portMax?: number;
  /** An answered session with no media on any stream for this long ends ('media-timeout'). Default 60000; 0 never. */
  mediaTimeoutMs?: number;
  /** An offer without an answer for this long ends ('offer-timeout'). Default 300000 (beyond Timer C); 0 never. */
  offerTimeoutMs?: number;
  /** Default `always`. */
  latch?: LatchPolicy;
  /** Clock for the timeouts (and packet times). Default: the system clock. */
  clock?: Clock;
}

/** A snapshot of the allocator, for monitoring and for tests that check media flowed and nothing leaked. */
export interface LocalRelayStats {
  sessionCount: number;
  /** Stream relays (non-disabled m= lines) across sessions. */
  streamCount: number;
  /** Ports bound across all port pools. */
  portsInUse: number;
  sessions: SessionStats[];
}

/**
 * The in-process relay: a UDP forwarder per media stream inside this Node process, behind the
 * RelayAllocator interface. Good for one machine's worth of calls; beyond that, the same interface
 * drives rtpengine.
 */
export class LocalRelayAllocator implements RelayAllocator {
  readonly #pools: PortPool[];
  readonly #advertised = new Map<PortPool, string>();
  readonly #latch: LatchPolicy;
  readonly #mediaTimeoutMs: number;
  readonly #offerTimeoutMs: number;
  readonly #clock: Clock;
  /** Sessions by Call-ID (a Call-ID may carry several, one per caller tag). */
  readonly #sessions = new Map<string, RelaySession[]>();
  /** Per Call-ID, the tail of the operations queued on it: one call's offers, answers and releases run in order. */
  readonly #queue = new KeyedQueue();
  readonly #timers = new Map<RelaySession, TimerHandle>();
  readonly #ended = new SessionEndedListeners();
  #closed = false;

  constructor(options: LocalRelayAllocatorOptions) {
    const portMin = options.portMin ?? 30000;
    const portMax = options.portMax ?? 39999;
    this.#pools = addressList(options.mediaAddress, 'mediaAddress').map((address) => new PortPool({ address, min: portMin, max: portMax }));
    if (this.#pools.length === 0) throw new InvalidArgumentError('mediaAddress must name an IPv4 or IPv6 address');
    const advertised = addressList(options.advertisedAddress ?? [], 'advertisedAddress');
    for (const pool of this.#pools) {
      const address = advertised.find((a) => (pool.family === 'IPv4' ? isIPv4(a) : isIPv6(a))) ?? pool.address;
      if (isUnspecifiedAddress(address)) throw new InvalidArgumentError(`media address ${pool.address} needs an advertisedAddress of its family`);
      this.#advertised.set(pool, address);
    }
    this.#latch = options.latch ?? 'always';
    this.#mediaTimeoutMs = options.mediaTimeoutMs ?? 60_000;
    this.#offerTimeoutMs = options.offerTimeoutMs ?? 300_000;
    this.#clock = options.clock ?? systemClock;
  }

  offer(key: RelaySessionKey, sdp: Buffer, options: RelayOfferOptions): Promise<Buffer> {
    return this.#queue.run(key.callId, async () => {
      this.#assertOpen();
      let session = this.#find(key);
      const from: RelayParty = options.from ?? session?.senderOf(key) ?? 'caller';
      const created = session === undefined;
      session ??= new RelaySession(key.callId, key.fromTag, key.toTag, this.#services);
      let out: Buffer;
      try {
        out = await session.offer(key, sdp, from, options);
        this.#assertOpen();
      } catch (error) {
        if (created || this.#closed) session.release();
        throw error;
      }
      if (created) this.#add(session);
      this.#arm(session);
      debug('offer from %s in call %s: %d stream(s)', from, key.callId, session.streams.length);
      return out;
    });
  }

  answer(key: RelaySessionKey, sdp: Buffer, options: RelayAnswerOptions): Promise<Buffer> {
    return this.#queue.run(key.callId, async () => {
      this.#assertOpen();
      const session = this.#find(key);
      if (session === undefined) throw new RelayError('ERR_RELAY_UNKNOWN_SESSION', `no relay session for call ${key.callId}`, 481);
      let out: Buffer;
      try {
        out = await session.answer(key, sdp, options.from, options);
        this.#assertOpen();
      } catch (error) {
        if (this.#closed) session.release();
        throw error;
      }
      this.#arm(session);
      debug('answer in call %s', key.callId);
      return out;
    });
  }

  release(key: RelaySessionKey): Promise<boolean> {
    return this.#queue.run(key.callId, async () => {
      const session = this.#find(key);
      if (session === undefined) return false;
      this.#remove(session);
      debug('released call %s', key.callId);
      return true;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const sessions of [...this.#sessions.values()]) for (const session of sessions) this.#remove(session);
    await this.#queue.settled();
  }

  onSessionEnded(listener: (event: RelaySessionEnded) => void): () => void {
    return this.#ended.add(listener);
  }

  /** Sessions, ports in use and per-stream, per-leg counters. */
  stats(): LocalRelayStats {
    const sessions = [...this.#sessions.values()].flat();
    return {
      sessionCount: sessions.length,
      streamCount: sessions.reduce((n, s) => n + s.streams.filter((r) => r !== null).length, 0),
      portsInUse: this.#pools.reduce((n, pool) => n + pool.inUse, 0),
      sessions: sessions.map((s) => s.stats()),
    };
  }

  /** The snapshot of one session, by either party's key; undefined if there is none. */
  sessionStats(key: RelaySessionKey): SessionStats | undefined {
    return this.#find(key)?.stats();
  }

  /** RelayAllocator: packets received from each party, RTP and RTCP over every stream. */
  mediaCounters(key: RelaySessionKey): MediaCounters | undefined {
    // read from the legs directly: the proxy asks at the end of every call, and stats() copies
    // every counter (structuredClone) to build a snapshot nobody keeps
    const session = this.#find(key);
    if (session === undefined) return undefined;
    let fromCaller = 0;
    let fromCallee = 0;
    for (const s of session.streams) {
      if (s === null) continue;
      fromCaller += s.caller.counters.rtp.packetsIn + s.caller.counters.rtcp.packetsIn;
      fromCallee += s.callee.counters.rtp.packetsIn + s.callee.counters.rtcp.packetsIn;
    }
    return { fromCaller, fromCallee };
  }

  readonly #services = {
    createStream: (index: number, type: string, families: Record<RelayParty, AddressType | undefined>) =>
      MediaStreamRelay.create({
        index,
        type,
        caller: this.#placement(families.caller),
        callee: this.#placement(families.callee),
        now: () => this.#now(),
      }),
    latching: (natted: boolean) => this.#latch === 'always' || (this.#latch === 'natted' && natted),
    now: () => this.#now(),
  };

  /** The pool for an address type (the other family's if the relay has none of this one). */
  #placement(type: AddressType | undefined): LegPlacement {
    const family = type === 'IP6' ? 'IPv6' : 'IPv4';
    const pool = this.#pools.find((p) => p.family === family) ?? this.#pools[0]!;
    return { pool, advertisedAddress: this.#advertised.get(pool)!, latching: this.#latch === 'always' };
  }

  #find(key: RelaySessionKey): RelaySession | undefined {
    return this.#sessions.get(key.callId)?.find((session) => session.matches(key));
  }

  #add(session: RelaySession): void {
    const list = this.#sessions.get(session.callId);
    if (list) list.push(session);
    else this.#sessions.set(session.callId, [session]);
  }

  #remove(session: RelaySession): void {
    this.#disarm(session);
    session.release();
    const list = this.#sessions.get(session.callId);
    if (list === undefined) return;
    const rest = list.filter((s) => s !== session);
    if (rest.length > 0) this.#sessions.set(session.callId, rest);
    else this.#sessions.delete(session.callId);
  }

  /**
   * Starts the session's timeout: the offer timeout until it is answered, then the media timeout.
   * Activity (a packet, an SDP) is read when the timer fires rather than resetting it per packet.
   */
  #arm(session: RelaySession): void {
    this.#disarm(session);
    const limit = session.answered ? this.#mediaTimeoutMs : this.#offerTimeoutMs;
    if (limit <= 0) return;
    const wait = Math.max(0, limit - (this.#now() - session.lastActivity));
    this.#timers.set(session, this.#clock.setTimeout(() => this.#expire(session), wait));
  }

  #disarm(session: RelaySession): void {
    const timer = this.#timers.get(session);
    if (timer !== undefined) this.#clock.clearTimeout(timer);
    this.#timers.delete(session);
  }

  #expire(session: RelaySession): void {
    this.#timers.delete(session);
    void this.#queue.run(session.callId, async () => {
      if (!this.#sessions.get(session.callId)?.includes(session)) return;
      const limit = session.answered ? this.#mediaTimeoutMs : this.#offerTimeoutMs;
      if (this.#now() - session.lastActivity < limit) {
        this.#arm(session);
        return;
      }
      const reason: RelaySessionEndReason = session.answered ? 'media-timeout' : 'offer-timeout';
      debug('call %s ended: %s', session.callId, reason);
      this.#remove(session);
      this.#ended.emit({ key: session.key, reason });
    });
  }



  #assertOpen(): void {
    if (this.#closed) throw new RelayError('ERR_RELAY_CLOSED', 'the relay allocator is closed', 503);
  }

  #now(): number {
    return this.#clock.now?.() ?? Date.now();
  }
}

/** A list of IP literals with at most one per family. */
function addressList(value: string | readonly string[], name: string): string[] {
  const list = typeof value === 'string' ? [value] : [...value];
  for (const address of list) {
    if (!isIPv4(address) && !isIPv6(address)) throw new InvalidArgumentError(`${name}: not an IP address: ${address}`);
  }
  if (list.filter((a) => isIPv4(a)).length > 1 || list.filter((a) => isIPv6(a)).length > 1) {
    throw new InvalidArgumentError(`${name}: at most one IPv4 and one IPv6 address`);
  }
  return list;
}
