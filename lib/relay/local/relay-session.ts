import { InvalidArgumentError, RelayError } from '../../errors.js';
import type { AddressType } from '../../sdp/address.js';
import { type MediaStream, readMediaStreams } from '../../sdp/media-streams.js';
import type { OriginMemory } from '../../sdp/origin.js';
import { rewriteForRelay } from '../../sdp/relay-rewrite.js';
import { badSdp } from '../../sdp/session-description.js';
import type { RelayAnswerOptions, RelayOfferOptions, RelayParty, RelaySessionKey } from '../relay-allocator.js';
import type { MediaStreamRelay, StreamStats } from './media-stream-relay.js';
import type { LegRemote } from './relay-leg.js';

/** What a session needs from its allocator. */
export interface SessionServices {
  /** Binds a new stream relay whose legs face parties using these address types. */
  createStream(index: number, type: string, families: Record<RelayParty, AddressType | undefined>): Promise<MediaStreamRelay>;
  /** Whether a party's leg latches, given the NAT verdict on it. */
  latching(natted: boolean): boolean;
  /** Milliseconds clock. */
  now(): number;
}

/** A snapshot of a session, for `stats()`. */
export interface SessionStats {
  callId: string;
  callerTag: string;
  calleeTag: string | undefined;
  answered: boolean;
  /** One entry per m= line; null for a disabled stream. */
  streams: (StreamStats | null)[];
}

/** The other party. */
export function otherParty(party: RelayParty): RelayParty {
  return party === 'caller' ? 'callee' : 'caller';
}

/**
 * One call through the local relay: a stream relay per m= line, the last offer, and what was last
 * sent to each party (for o= numbering). Offers and answers from either party update it in place
 * (RFC 3264 §8): a stream that stays keeps its relay ports, a stream set to port 0 is released, a
 * new m= line gets a new relay.
 */
export class RelaySession {
  readonly callId: string;
  readonly callerTag: string;
  calleeTag: string | undefined;
  /** One entry per m= line of the current offer/answer; null for a disabled stream. */
  streams: (MediaStreamRelay | null)[] = [];
  /** Who made the last offer and with how many m= lines. */
  lastOffer: { from: RelayParty; streamCount: number } | undefined;
  answered = false;
  /** When the session last saw an offer or answer. */
  lastSignalAt: number;
  readonly #services: SessionServices;
  readonly #sent: Record<RelayParty, OriginMemory | undefined> = { caller: undefined, callee: undefined };

  constructor(callId: string, callerTag: string, calleeTag: string | undefined, services: SessionServices) {
    this.callId = callId;
    this.callerTag = callerTag;
    this.calleeTag = calleeTag;
    this.#services = services;
    this.lastSignalAt = services.now();
  }

  /** The key a session event reports: Call-ID, the caller's tag as From tag, the callee's as To tag. */
  get key(): RelaySessionKey {
    return this.calleeTag === undefined
      ? { callId: this.callId, fromTag: this.callerTag }
      : { callId: this.callId, fromTag: this.callerTag, toTag: this.calleeTag };
  }

  /** Whether a key names this session, from either party's side. */
  matches(key: RelaySessionKey): boolean {
    if (key.callId !== this.callId) return false;
    if (key.fromTag === this.callerTag) return true;
    if (this.calleeTag !== undefined && key.fromTag === this.calleeTag) return true;
    return key.toTag !== undefined && key.toTag === this.callerTag;
  }

  /** The party whose message carries this key's From tag. */
  senderOf(key: RelaySessionKey): RelayParty {
    return this.calleeTag !== undefined && key.fromTag === this.calleeTag && key.fromTag !== this.callerTag ? 'callee' : 'caller';
  }

  /** Ports the session holds. */
  get portCount(): number {
    return this.streams.reduce((sum, relay) => sum + (relay?.portCount ?? 0), 0);
  }

  /** When the session last saw a packet or an SDP. */
  get lastActivity(): number {
    return this.streams.reduce((last, relay) => Math.max(last, relay?.lastPacketAt ?? 0), this.lastSignalAt);
  }

  /**
   * Applies an offer from `from` and returns the SDP for the other party. New relays are bound first;
   * if binding fails the session is left as it was (only relays bound for this offer are released).
   */
  async offer(key: RelaySessionKey, sdp: Buffer, from: RelayParty, options: RelayOfferOptions): Promise<Buffer> {
    const offered = readMediaStreams(sdp);
    const other = otherParty(from);
    const plan = await this.#bindStreams(offered, from, options.targetAddressType ?? this.#familyOf(other));
    for (let i = 0; i < Math.max(this.streams.length, plan.length); i++) {
      // RFC 3264 §8.2: a stream is removed by setting its port to 0; an m= line is never deleted.
      const old = this.streams[i];
      if (old && old !== plan[i]) old.release();
    }
    this.streams = plan;
    const latching = this.#services.latching(options.natted);
    offered.forEach((stream, i) => {
      const relay = plan[i];
      if (!relay) return;
      relay.muxOffered = stream.rtcpMux;
      relay.leg(from).setRemote(remoteOf(stream, options), latching);
    });
    this.#learnTags(key, from);
    this.lastOffer = { from, streamCount: offered.length };
    this.lastSignalAt = this.#services.now();
    return this.#sdpFor(other, sdp, plan);
  }

  /** Applies the answer to the last offer and returns the SDP for the offerer. */
  async answer(key: RelaySessionKey, sdp: Buffer, from: RelayParty | undefined, options: RelayAnswerOptions): Promise<Buffer> {
    const offer = this.lastOffer;
    if (offer === undefined) throw new RelayError('ERR_RELAY_UNKNOWN_SESSION', `no offer to answer in call ${this.callId}`, 481);
    const answerer = from ?? otherParty(offer.from);
    if (answerer === offer.from) throw new InvalidArgumentError(`the ${answerer} made the offer; the answer must come from the other party`);
    const answered = readMediaStreams(sdp);
    // RFC 3264 §6: "The answer MUST contain exactly the same number of "m=" lines as the offer."
    if (answered.length !== offer.streamCount) throw badSdp(`answer has ${answered.length} m= lines, the offer ${offer.streamCount} (RFC 3264 §6)`);
    for (const stream of answered) {
      // RFC 3264 §6: a stream offered with port 0 must be answered with port 0.
      if (!this.streams[stream.index] && stream.port !== 0) throw badSdp(`answer enables m= line ${stream.index + 1}, which the offer disabled (RFC 3264 §6)`);
    }
    for (const stream of answered) {
      const relay = this.streams[stream.index];
      // RFC 5761 §5.1.1: RTCP is multiplexed only if the offer offered it and the answer accepts it.
      if (relay && stream.port !== 0) await relay.setRtcpMux(relay.muxOffered && stream.rtcpMux);
    }
    const latching = this.#services.latching(options.natted);
    for (const stream of answered) {
      const relay = this.streams[stream.index];
      if (!relay) continue;
      if (stream.port === 0) {
        // RFC 3264 §6: a rejected stream has port 0 in the answer.
        relay.release();
        this.streams[stream.index] = null;
        continue;
      }
      relay.leg(answerer).setRemote(remoteOf(stream, options), latching);
    }
    this.#learnTags(key, answerer);
    this.answered = true;
    this.lastSignalAt = this.#services.now();
    return this.#sdpFor(offer.from, sdp, this.streams);
  }

  /** Closes every stream relay. */
  release(): void {
    for (const relay of this.streams) relay?.release();
    this.streams = [];
  }

  stats(): SessionStats {
    return {
      callId: this.callId,
      callerTag: this.callerTag,
      calleeTag: this.calleeTag,
      answered: this.answered,
      streams: this.streams.map((relay) => relay?.stats() ?? null),
    };
  }

  /** Reuses the relay of each offered stream that stays, binds relays for new ones. */
  async #bindStreams(offered: MediaStream[], from: RelayParty, otherFamily: AddressType | undefined): Promise<(MediaStreamRelay | null)[]> {
    const bound: MediaStreamRelay[] = [];
    const plan: (MediaStreamRelay | null)[] = [];
    try {
      for (const stream of offered) {
        if (stream.port === 0) {
          plan.push(null);
          continue;
        }
        let relay = this.streams[stream.index];
        if (!relay || relay.type !== stream.type) {
          const families = { [from]: stream.addressType, [otherParty(from)]: otherFamily ?? stream.addressType } as Record<RelayParty, AddressType | undefined>;
          relay = await this.#services.createStream(stream.index, stream.type, families);
          bound.push(relay);
        }
        // RFC 5761 §5.1.1: until an answer accepts rtcp-mux, RTCP must be received on its own port.
        if (!stream.rtcpMux) await relay.setRtcpMux(false);
        plan.push(relay);
      }
    } catch (error) {
      for (const relay of bound) relay.release();
      throw error;
    }
    return plan;
  }

  /** The address type of the leg facing a party, from any stream relay already in place. */
  #familyOf(party: RelayParty): AddressType | undefined {
    const relay = this.streams.find((r): r is MediaStreamRelay => !!r);
    if (relay === undefined) return undefined;
    return relay.leg(party).pool.family === 'IPv4' ? 'IP4' : 'IP6';
  }

  /** Remembers the callee's tag once an SDP from the callee names it. */
  #learnTags(key: RelaySessionKey, from: RelayParty): void {
    if (from !== 'callee') return;
    const tag = key.fromTag === this.callerTag ? key.toTag : key.fromTag;
    if (tag !== undefined) this.calleeTag = tag;
  }

  /** Rewrites an SDP for `party`: it names the legs facing that party, numbered against what it got last. */
  #sdpFor(party: RelayParty, sdp: Buffer, relays: (MediaStreamRelay | null)[]): Buffer {
    const result = rewriteForRelay(sdp, {
      streams: relays.map((relay) => relay?.leg(party).endpoint ?? null),
      previous: this.#sent[party],
    });
    this.#sent[party] = result.originMemory;
    return result.sdp;
  }
}

/**
 * Where a party receives a stream. For a party behind NAT whose public address is known, that
 * address replaces the SDP's (private) one, as fix_nated_sdp would; the ports stay the SDP's until
 * latching learns the real ones. Hold (an unspecified address) is kept.
 */
function remoteOf(stream: MediaStream, options: RelayOfferOptions | RelayAnswerOptions): LegRemote {
  const replace = options.natted && options.sourceAddress !== undefined && !stream.addressUnspecified;
  return {
    address: replace ? options.sourceAddress : stream.address,
    rtpPort: stream.port,
    rtcpAddress: replace ? options.sourceAddress : stream.rtcpAddress,
    rtcpPort: stream.rtcpPort,
  };
}
