/**
 * A pool of relay servers behind one RelayAllocator: new calls are spread over the live relays by
 * weight, an allocation that a relay does not answer (or refuses with 503) moves on to the next
 * one within one deadline, and every later exchange of a call goes to the relay that holds it.
 * Health checks are each member's (RedirectRelayAllocator): a relay that stops answering is
 * skipped for new calls until it answers again, and once it is gone its calls end with
 * `relay-down`.
 */
import { KeyedQueue } from '../keyed-queue.js';
import { SessionEndedListeners } from '../session-ended-listeners.js';
import createDebug from 'debug';
import { InvalidArgumentError, RelayError } from '../../errors.js';
import type { MediaCounters, RelayAllocator, RelayAnswerOptions, RelayOfferOptions, RelaySessionEnded, RelaySessionKey } from '../relay-allocator.js';
import { RedirectRelayAllocator, type RedirectRelayAllocatorOptions, type RelayState } from './redirect-relay-allocator.js';

const debug = createDebug('natter:relay:pool');

export interface RelayPoolMemberOptions extends RedirectRelayAllocatorOptions {
  /**
   * Share of new calls, relative to the other members' weights. Default 1. Weight 0 makes a
   * backup: used only when no member with a weight is up.
   */
  weight?: number;
}

export interface RelayPoolOptions {
  relays: readonly RelayPoolMemberOptions[];
  /** Bound on a new allocation, failovers included. Default 4000 ms. */
  allocationTimeoutMs?: number;
  /** Random numbers in [0, 1) for the weighted choice (tests make it predictable). Default Math.random. */
  random?: () => number;
}

/** One relay of a pool. */
export interface RelayPoolMember {
  readonly allocator: RedirectRelayAllocator;
  readonly weight: number;
}

/** What the pool knows about one relay. */
export interface RelayPoolMemberStatus {
  relay: string;
  weight: number;
  state: RelayState;
  failures: number;
  sessions: number;
  instance: string | undefined;
}

export class RelayPool implements RelayAllocator {
  readonly members: readonly RelayPoolMember[];
  readonly allocationTimeoutMs: number;
  readonly #random: () => number;
  readonly #ended = new SessionEndedListeners();
  readonly #queue = new KeyedQueue();
  #closed = false;
  #closing: Promise<void> | undefined;

  /** A pool over allocators already started; it owns them (close() closes them). */
  constructor(members: readonly RelayPoolMember[], options: Omit<RelayPoolOptions, 'relays'> = {}) {
    if (members.length === 0) throw new InvalidArgumentError('a relay pool needs at least one relay');
    for (const m of members) {
      if (!(Number.isFinite(m.weight) && m.weight >= 0)) throw new InvalidArgumentError(`relay weight must be a number >= 0: ${m.weight}`);
    }
    this.members = [...members];
    this.allocationTimeoutMs = options.allocationTimeoutMs ?? 4000;
    this.#random = options.random ?? Math.random;
    for (const m of this.members) m.allocator.onSessionEnded((event) => this.#ended.emit(event));
  }

  /** Starts a client for every relay (binding one socket each) and the pool over them. */
  static async start(options: RelayPoolOptions): Promise<RelayPool> {
    const started: RelayPoolMember[] = [];
    try {
      for (const { weight, ...relay } of options.relays) {
        started.push({ allocator: await RedirectRelayAllocator.start(relay), weight: weight ?? 1 });
      }
      return new RelayPool(started, options);
    } catch (error) {
      await Promise.allSettled(started.map((m) => m.allocator.close()));
      throw error;
    }
  }

  /** Each relay's state, weight and sessions. */
  status(): RelayPoolMemberStatus[] {
    return this.members.map((m) => ({
      relay: m.allocator.relayUri,
      weight: m.weight,
      state: m.allocator.state,
      failures: m.allocator.failures,
      sessions: m.allocator.sessionCount,
      instance: m.allocator.instance,
    }));
  }

  /** Runs a health check on every relay now; resolves when all answered or timed out. */
  async check(): Promise<RelayPoolMemberStatus[]> {
    await Promise.all(this.members.map((m) => m.allocator.check()));
    return this.status();
  }

  /** The member holding a call's session, if any. */
  memberOf(key: RelaySessionKey): RelayPoolMember | undefined {
    return this.members.find((m) => m.allocator.has(key));
  }

  offer(key: RelaySessionKey, sdp: Buffer, options: RelayOfferOptions): Promise<Buffer> {
    return this.#queue.run(key.callId, async () => {
      this.#assertOpen();
      const holder = this.memberOf(key);
      if (holder !== undefined) return holder.allocator.offer(key, sdp, options);
      return this.#allocate(key, sdp, options);
    });
  }

  answer(key: RelaySessionKey, sdp: Buffer, options: RelayAnswerOptions): Promise<Buffer> {
    return this.#queue.run(key.callId, async () => {
      this.#assertOpen();
      const holder = this.memberOf(key);
      if (holder === undefined) throw new RelayError('ERR_RELAY_UNKNOWN_SESSION', `no relay session for call ${key.callId}`, 481);
      return holder.allocator.answer(key, sdp, options);
    });
  }

  release(key: RelaySessionKey): Promise<boolean> {
    return this.#queue.run(key.callId, async () => {
      const holder = this.memberOf(key);
      return holder === undefined ? false : holder.allocator.release(key);
    });
  }

  onSessionEnded(listener: (event: RelaySessionEnded) => void): () => void {
    return this.#ended.add(listener);
  }

  mediaCounters(key: RelaySessionKey): MediaCounters | undefined {
    return this.memberOf(key)?.allocator.mediaCounters(key);
  }

  /** Releases every session and closes every member. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await this.#queue.settled();
      await Promise.allSettled(this.members.map((m) => m.allocator.close()));
    })();
    return this.#closing;
  }

  /**
   * A new call: the live relays in weighted random order, then backups, then relays marked down
   * (one may have come back), each given what is left of the allocation deadline. A relay that
   * times out, is unreachable or answers 503 hands the call to the next; any other failure (an
   * SDP the relay cannot carry) is final.
   */
  async #allocate(key: RelaySessionKey, sdp: Buffer, options: RelayOfferOptions): Promise<Buffer> {
    const deadline = Date.now() + this.allocationTimeoutMs;
    let last: RelayError | undefined;
    for (const member of this.#order()) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        return await member.allocator.offer(key, sdp, options, Math.min(left, member.allocator.requestTimeoutMs));
      } catch (err) {
        if (!(err instanceof RelayError) || err.status !== 503) throw err;
        this.#assertOpen();
        debug('allocation for call %s on %s failed (%s): trying the next relay', key.callId, member.allocator.relayUri, err.message);
        last = err;
      }
    }
    if (last !== undefined) throw new RelayError(last.code, `no relay could allocate (last: ${last.message})`, 503, { cause: last });
    throw new RelayError('ERR_RELAY_TIMEOUT', `no relay answered within ${this.allocationTimeoutMs} ms`, 503);
  }

  #order(): RelayPoolMember[] {
    const up = this.members.filter((m) => m.allocator.state !== 'down');
    const down = this.members.filter((m) => m.allocator.state === 'down');
    return [
      ...this.#weightedShuffle(up.filter((m) => m.weight > 0)),
      ...this.#weightedShuffle(up.filter((m) => m.weight === 0)),
      ...this.#weightedShuffle(down).sort((a, b) => a.allocator.failures - b.allocator.failures),
    ];
  }

  /** Members ordered by repeated weighted draws (equal chances when every weight is 0). */
  #weightedShuffle(members: RelayPoolMember[]): RelayPoolMember[] {
    const rest = [...members];
    const out: RelayPoolMember[] = [];
    while (rest.length > 0) {
      const total = rest.reduce((sum, m) => sum + m.weight, 0);
      let index = 0;
      if (total > 0) {
        let r = this.#random() * total;
        index = rest.findIndex((m) => (r -= m.weight) < 0);
        if (index === -1) index = rest.length - 1;
      } else index = Math.min(rest.length - 1, Math.floor(this.#random() * rest.length));
      out.push(rest.splice(index, 1)[0]!);
    }
    return out;
  }



  #assertOpen(): void {
    if (this.#closed) throw new RelayError('ERR_RELAY_CLOSED', 'the relay pool is closed', 503);
  }
}
