import { KeyedQueue } from '../keyed-queue.js';
import { SessionEndedListeners } from '../session-ended-listeners.js';
import createDebug from 'debug';
import { RelayError } from '../../errors.js';
import { type Clock, type TimerHandle, systemClock } from '../../transaction/clock.js';
import type {
  MediaCounters,
  RelayAllocator,
  RelayAnswerOptions,
  RelayOfferOptions,
  RelayParty,
  RelaySessionEnded,
  RelaySessionKey,
} from '../relay-allocator.js';
import { type BencodeDict, bdict, bint, blist, bstr } from './bencode.js';
import { NgClient, type NgCommand } from './ng-client.js';
import { type NgFlagOptions, type NgSdpMessage, answerCommand, deleteCommand, offerCommand, queryCommand } from './ng-commands.js';
import { type RtpengineNode, RtpengineNodeSet, type RtpengineNodeSpec, type RtpengineNodeStatus } from './node-set.js';

const debug = createDebug('natter:relay:rtpengine');

export interface RtpengineAllocatorOptions extends NgFlagOptions {
  /** The rtpengine instances (their `--listen-ng` addresses), with weights. */
  instances: readonly RtpengineNodeSpec[];
  /** How long one ng request may take, retransmissions included, in ms. Default 3000. */
  timeout?: number;
  /** Time between retransmissions of an unanswered ng request, in ms. Default 500. */
  retransmitInterval?: number;
  /** Time between health pings of each instance, in ms. Default 10000; 0: no pings. */
  pingInterval?: number;
  /**
   * Time between `query` rounds that refresh each call's packet counters (mediaCounters) and
   * notice calls rtpengine ended on its own (its `--timeout`), in ms. Default 0: no rounds
   * (counters then come only from `delete` replies). Each round is one ng request per call.
   */
  statsInterval?: number;
  clock?: Clock;
}

/** A snapshot of the allocator, for monitoring and tests. */
export interface RtpengineAllocatorStatus {
  calls: number;
  instances: RtpengineNodeStatus[];
}

/** One call (one caller tag of a Call-ID) and the instance that holds it. */
interface RtpCall {
  callId: string;
  callerTag: string;
  calleeTag: string | undefined;
  viaBranch: string | undefined;
  node: RtpengineNode;
  pendingOfferFrom: RelayParty | undefined;
  counters: MediaCounters | undefined;
}

/**
 * A RelayAllocator that drives rtpengine (Sipwise's media proxy: kernel forwarding, many
 * instances, Redis replication) through its ng control protocol, the way Kamailio's rtpengine
 * module does: `offer`, `answer`, `delete`, `query` and `ping` over UDP.
 *
 * A new call goes to a live instance chosen by weight; if that instance does not answer (or has
 * no ports left) the offer is tried on the next one. The allocator remembers which instance holds
 * each call, so every later offer, answer and delete of the call goes to that instance; when it
 * is dead they fail (ERR_RELAY_TIMEOUT, 503) instead of hanging. With rtpengine's own Redis
 * replication and a floating control address, a standby instance takes over such calls.
 *
 * Tags: rtpengine wants the SDP sender's tag as `from-tag` in an offer, and the offerer's tag as
 * `from-tag` (the answerer's as `to-tag`) in an answer. Keys come from the proxy oriented caller
 * → callee (or as on the wire; both are understood), and `options.from` says who sent the SDP,
 * so an offer from the callee (its re-INVITE, or a late offer in its 2xx) goes out with the
 * callee's tag as `from-tag`, and the caller's answer to it with the callee's tag as `from-tag`.
 */
export class RtpengineAllocator implements RelayAllocator {
  readonly client: NgClient;
  readonly nodes: RtpengineNodeSet;
  readonly #flags: NgFlagOptions;
  readonly #clock: Clock;
  readonly #statsInterval: number;
  /** Calls by `callId \n callerTag`. */
  readonly #calls = new Map<string, RtpCall>();
  /** Per Call-ID, the instance holding it and how many of its calls (caller tags) are there. */
  readonly #byCallId = new Map<string, { node: RtpengineNode; count: number }>();
  readonly #queue = new KeyedQueue();
  readonly #ended = new SessionEndedListeners();
  #statsTimer: TimerHandle | undefined;
  #closed = false;

  constructor(options: RtpengineAllocatorOptions) {
    this.#clock = options.clock ?? systemClock;
    this.client = new NgClient({
      clock: this.#clock,
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      ...(options.retransmitInterval !== undefined ? { retransmitInterval: options.retransmitInterval } : {}),
    });
    this.nodes = new RtpengineNodeSet(options.instances, this.client, {
      clock: this.#clock,
      ...(options.pingInterval !== undefined ? { pingInterval: options.pingInterval } : {}),
    });
    this.#flags = {
      ...(options.ice !== undefined ? { ice: options.ice } : {}),
      ...(options.rtcpMux !== undefined ? { rtcpMux: options.rtcpMux } : {}),
      ...(options.interfaces !== undefined ? { interfaces: options.interfaces } : {}),
      ...(options.flags !== undefined ? { flags: options.flags } : {}),
    };
    this.#statsInterval = options.statsInterval ?? 0;
    this.nodes.start();
    if (this.#statsInterval > 0) this.#scheduleStats();
  }

  /** Which instances are up and how many calls each holds. */
  status(): RtpengineAllocatorStatus {
    return { calls: this.#calls.size, instances: this.nodes.nodes.map((n) => n.status()) };
  }

  /** The instance holding a call, as `address:port`, or undefined. */
  instanceOf(key: RelaySessionKey): string | undefined {
    return this.#resolve(key).call?.node.name;
  }

  offer(key: RelaySessionKey, sdp: Buffer, options: RelayOfferOptions): Promise<Buffer> {
    return this.#queue.run(key.callId, async () => {
      this.#assertOpen();
      const { call, reversed } = this.#resolve(key);
      const from: RelayParty = options.from ?? (reversed ? 'callee' : 'caller');
      if (call !== undefined) {
        this.#learnTags(call, key, reversed);
        const out = await this.#sdpRequest(call.node, this.#offer(call, from, sdp, options));
        call.pendingOfferFrom = from;
        return out;
      }
      // a new call: the key is oriented caller -> callee
      const fresh: Omit<RtpCall, 'node'> = {
        callId: key.callId,
        callerTag: key.fromTag,
        calleeTag: key.toTag,
        viaBranch: key.viaBranch,
        pendingOfferFrom: from,
        counters: undefined,
      };
      const command = this.#offer(fresh, from, sdp, options);
      const tried = new Set<RtpengineNode>();
      let lastError: unknown;
      for (let node = this.#pinned(key.callId) ?? this.nodes.pick(); node !== undefined; node = this.nodes.pick(tried)) {
        tried.add(node);
        try {
          const out = await this.#sdpRequest(node, command);
          if (this.#closed) {
            // closed while the offer was out: do not leave the session behind in rtpengine
            await this.#delete({ ...fresh, node }).catch(() => undefined);
            throw closedError();
          }
          this.#calls.set(`${key.callId}\n${key.fromTag}`, { ...fresh, node });
          node.calls++;
          const pin = this.#byCallId.get(key.callId);
          if (pin !== undefined && pin.node === node) pin.count++;
          else this.#byCallId.set(key.callId, { node, count: 1 });
          debug('call %s on %s (offer from %s)', key.callId, node.name, from);
          return out;
        } catch (err) {
          lastError = err;
          // failover of a new call: to the next instance when this one is dead or full
          if (!(err instanceof RelayError) || err.status !== 503 || err.code === 'ERR_RELAY_CLOSED') throw err;
          debug('offer of call %s failed on %s (%s); trying another instance', key.callId, node.name, err.message);
        }
      }
      if (lastError !== undefined) throw lastError;
      throw new RelayError('ERR_RELAY_UNAVAILABLE', 'no rtpengine instance is up', 503);
    });
  }

  answer(key: RelaySessionKey, sdp: Buffer, options: RelayAnswerOptions): Promise<Buffer> {
    return this.#queue.run(key.callId, async () => {
      this.#assertOpen();
      const { call, reversed } = this.#resolve(key);
      if (call === undefined) throw new RelayError('ERR_RELAY_UNKNOWN_SESSION', `no offer was made for call ${key.callId}`, 481);
      this.#learnTags(call, key, reversed);
      const from: RelayParty = options.from ?? (call.pendingOfferFrom === 'callee' ? 'caller' : 'callee');
      const offerer: RelayParty = from === 'caller' ? 'callee' : 'caller';
      const message: NgSdpMessage = {
        callId: call.callId,
        fromTag: this.#tag(call, offerer),
        toTag: this.#tag(call, from),
        sdp,
        natted: options.natted,
        ...(options.sourceAddress !== undefined ? { sourceAddress: options.sourceAddress } : {}),
        ...(call.viaBranch !== undefined ? { viaBranch: call.viaBranch } : {}),
      };
      return this.#sdpRequest(call.node, answerCommand(message, this.#flags));
    });
  }

  release(key: RelaySessionKey): Promise<boolean> {
    // checked now, not when its turn comes: a release asked for before close() still runs
    if (this.#closed) return Promise.reject(closedError());
    return this.#queue.run(key.callId, async () => {
      const { call } = this.#resolve(key);
      if (call === undefined) return false;
      this.#forget(call);
      return this.#delete(call);
    });
  }

  mediaCounters(key: RelaySessionKey): MediaCounters | undefined {
    const counters = this.#resolve(key).call?.counters;
    return counters === undefined ? undefined : { ...counters };
  }

  onSessionEnded(listener: (event: RelaySessionEnded) => void): () => void {
    return this.#ended.add(listener);
  }

  /**
   * Queries every call on its instance now: refreshes mediaCounters, and ends (onSessionEnded,
   * `media-timeout`) the calls rtpengine no longer knows. The statsInterval timer calls this.
   */
  async refreshStats(): Promise<void> {
    await Promise.all(
      [...this.#calls.values()].map(async (call) => {
        try {
          const reply = await this.client.request(call.node, queryCommand(call.callId, call.callerTag));
          this.nodes.observe(call.node);
          call.counters = countersOf(reply, call) ?? call.counters;
        } catch (err) {
          this.nodes.observe(call.node, err);
          if (err instanceof RelayError && err.code === 'ERR_RELAY_UNKNOWN_SESSION' && this.#calls.get(keyOf(call)) === call) {
            debug('call %s is gone from %s (its media timeout)', call.callId, call.node.name);
            this.#forget(call);
            const key: RelaySessionKey = { callId: call.callId, fromTag: call.callerTag };
            if (call.calleeTag !== undefined) key.toTag = call.calleeTag;
            const event: RelaySessionEnded = { key, reason: 'media-timeout', ...(call.counters !== undefined ? { counters: { ...call.counters } } : {}) };
            this.#ended.emit(event);
          }
        }
      }),
    );
  }

  /**
   * Lets operations already asked for finish (releases the proxy made on its way down included),
   * deletes every call it still holds (best effort, each bounded by the timeout), stops pings and
   * closes the socket. Later calls reject with `ERR_RELAY_CLOSED`. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.nodes.stop();
    if (this.#statsTimer !== undefined) this.#clock.clearTimeout(this.#statsTimer);
    this.#statsTimer = undefined;
    await this.#queue.settled();
    const calls = [...this.#calls.values()];
    for (const c of calls) this.#forget(c);
    await Promise.allSettled(calls.map((c) => this.#delete(c)));
    await this.client.close();
  }

  // ---- internals ------------------------------------------------------------------------

  #offer(call: Omit<RtpCall, 'node'>, from: RelayParty, sdp: Buffer, options: RelayOfferOptions): NgCommand {
    const other: RelayParty = from === 'caller' ? 'callee' : 'caller';
    const toTag = from === 'caller' ? call.calleeTag : call.callerTag;
    const message: NgSdpMessage = {
      callId: call.callId,
      fromTag: this.#tag(call, from),
      sdp,
      natted: options.natted,
      ...(toTag !== undefined ? { toTag } : {}),
      ...(options.sourceAddress !== undefined ? { sourceAddress: options.sourceAddress } : {}),
      ...(call.viaBranch !== undefined ? { viaBranch: call.viaBranch } : {}),
    };
    debug('offer from %s (to %s) in call %s', from, other, call.callId);
    return offerCommand(message, this.#flags, options.targetAddressType);
  }

  #tag(call: Omit<RtpCall, 'node'>, party: RelayParty): string {
    const tag = party === 'caller' ? call.callerTag : call.calleeTag;
    if (tag === undefined) throw new RelayError('ERR_RELAY_BAD_KEY', `call ${call.callId}: the callee's tag is needed (toTag) for SDP it sends or answers`, 500);
    return tag;
  }

  async #sdpRequest(node: RtpengineNode, command: NgCommand): Promise<Buffer> {
    let reply: BencodeDict;
    try {
      reply = await this.client.request(node, command);
      this.nodes.observe(node);
    } catch (err) {
      this.nodes.observe(node, err);
      throw err;
    }
    const sdp = reply['sdp'];
    if (!Buffer.isBuffer(sdp)) throw new RelayError('ERR_RELAY_BAD_REPLY', `rtpengine ${node.name} answered ${command.command} without an SDP`, 500);
    return sdp;
  }

  async #delete(call: RtpCall): Promise<boolean> {
    try {
      const reply = await this.client.request(call.node, deleteCommand(call.callId, call.callerTag, call.viaBranch));
      this.nodes.observe(call.node);
      call.counters = countersOf(reply, call) ?? call.counters;
      // a delete of a call rtpengine no longer knows is "ok" with a warning
      return !/not found/i.test(bstr(reply['warning']) ?? '');
    } catch (err) {
      this.nodes.observe(call.node, err);
      if (err instanceof RelayError && err.code === 'ERR_RELAY_UNKNOWN_SESSION') return false;
      throw err;
    }
  }

  /** The call a key names, in either orientation; `reversed` when its fromTag is the callee's. */
  #resolve(key: RelaySessionKey): { call: RtpCall | undefined; reversed: boolean } {
    const direct = this.#calls.get(`${key.callId}\n${key.fromTag}`);
    if (direct !== undefined) return { call: direct, reversed: false };
    if (key.toTag !== undefined) {
      const reverse = this.#calls.get(`${key.callId}\n${key.toTag}`);
      if (reverse !== undefined) return { call: reverse, reversed: true };
    }
    return { call: undefined, reversed: false };
  }

  /** The callee's tag from a key (the final 2xx's To tag wins over an earlier 1xx's). */
  #learnTags(call: RtpCall, key: RelaySessionKey, reversed: boolean): void {
    const calleeTag = reversed ? key.fromTag : key.toTag;
    if (calleeTag !== undefined) call.calleeTag = calleeTag;
  }

  /** The instance already holding this Call-ID (another caller tag of it), if any. */
  #pinned(callId: string): RtpengineNode | undefined {
    return this.#byCallId.get(callId)?.node;
  }

  #forget(call: RtpCall): void {
    if (this.#calls.get(keyOf(call)) !== call) return;
    this.#calls.delete(keyOf(call));
    call.node.calls--;
    const pin = this.#byCallId.get(call.callId);
    if (pin !== undefined && pin.node === call.node && --pin.count === 0) this.#byCallId.delete(call.callId);
  }

  #scheduleStats(): void {
    this.#statsTimer = this.#clock.setTimeout(() => {
      this.#statsTimer = undefined;
      if (this.#closed) return;
      void this.refreshStats().finally(() => {
        if (!this.#closed && this.#statsTimer === undefined) this.#scheduleStats();
      });
    }, this.#statsInterval);
  }


  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

function closedError(): RelayError {
  return new RelayError('ERR_RELAY_CLOSED', 'the rtpengine allocator is closed', 503);
}

function keyOf(call: RtpCall): string {
  return `${call.callId}\n${call.callerTag}`;
}

/**
 * Packets rtpengine received from each party, from a `query` or `delete` reply: under `tags`,
 * each party's monologue lists the streams facing that party, whose `stats.packets` count what
 * it sent (RTP and RTCP).
 */
export function countersOf(reply: BencodeDict, tags: { callerTag: string; calleeTag: string | undefined }): MediaCounters | undefined {
  const byTag = bdict(reply['tags']);
  if (byTag === undefined) return undefined;
  const packets = (tag: string | undefined): number => {
    const monologue = tag === undefined ? undefined : bdict(byTag[tag]);
    let sum = 0;
    for (const media of blist(monologue?.['medias'])) {
      for (const stream of blist(bdict(media)?.['streams'])) sum += bint(bdict(bdict(stream)?.['stats'])?.['packets']) ?? 0;
    }
    return sum;
  };
  return { fromCaller: packets(tags.callerTag), fromCallee: packets(tags.calleeTag) };
}
