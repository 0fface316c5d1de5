import type { RemoteInfo } from 'node:dgram';
import type { RelayParty } from '../relay-allocator.js';
import { isRtcpPacket } from './packet-kind.js';
import type { BoundPort, PortPool } from './port-pool.js';
import { type LegStats, type RelayChannel, RelayLeg } from './relay-leg.js';

/** Where one leg of a new stream relay lives. */
export interface LegPlacement {
  pool: PortPool;
  advertisedAddress: string;
  latching: boolean;
}

export interface MediaStreamRelayInit {
  /** Position of the stream's m= line. */
  index: number;
  /** Media type of the m= line (`audio`, `video`, ...). */
  type: string;
  caller: LegPlacement;
  callee: LegPlacement;
  /** Milliseconds clock, read on every forwarded packet. */
  now: () => number;
}

/** A snapshot of a stream relay, for `stats()`. */
export interface StreamStats {
  index: number;
  type: string;
  rtcpMux: boolean;
  caller: LegStats;
  callee: LegStats;
}

/**
 * The relay of one media stream (one m= line): a leg facing each party. A packet a leg receives
 * from its party goes out of the other leg's socket to the other party, RTP to RTP and RTCP to
 * RTCP. With rtcp-mux agreed both legs carry RTCP on their RTP socket.
 */
export class MediaStreamRelay {
  readonly index: number;
  readonly type: string;
  readonly caller: RelayLeg;
  readonly callee: RelayLeg;
  /** When a packet was last accepted on either leg (the `now` clock), or undefined if never. */
  lastPacketAt: number | undefined;
  /** Whether the last offer for this stream offered rtcp-mux (RFC 5761 §5.1.1). */
  muxOffered = false;
  readonly #now: () => number;

  /** Binds both legs' port pairs; nothing stays bound if either fails. */
  static async create(init: MediaStreamRelayInit): Promise<MediaStreamRelay> {
    const callerPorts = await init.caller.pool.allocatePair();
    let calleePorts: [BoundPort, BoundPort];
    try {
      calleePorts = await init.callee.pool.allocatePair();
    } catch (error) {
      for (const bound of callerPorts) init.caller.pool.release(bound);
      throw error;
    }
    return new MediaStreamRelay(init, callerPorts, calleePorts);
  }

  private constructor(init: MediaStreamRelayInit, callerPorts: [BoundPort, BoundPort], calleePorts: [BoundPort, BoundPort]) {
    this.index = init.index;
    this.type = init.type;
    this.#now = init.now;
    const onPacket = this.#forward.bind(this);
    this.caller = new RelayLeg({ party: 'caller', ...init.caller, rtp: callerPorts[0], rtcp: callerPorts[1], onPacket });
    this.callee = new RelayLeg({ party: 'callee', ...init.callee, rtp: calleePorts[0], rtcp: calleePorts[1], onPacket });
  }

  /** The leg facing a party. */
  leg(party: RelayParty): RelayLeg {
    return party === 'caller' ? this.caller : this.callee;
  }

  /** Whether RTCP is multiplexed on the RTP ports of both legs. */
  get rtcpMux(): boolean {
    return this.caller.muxed && this.callee.muxed;
  }

  /** Ports the stream holds. */
  get portCount(): number {
    return this.caller.portCount + this.callee.portCount;
  }

  /**
   * Once an answer accepts rtcp-mux (both parties multiplex, RFC 5761 §5.1.1), the RTCP sockets are
   * released; if a later exchange drops it, RTCP sockets are bound again (RTP + 1 when free).
   */
  async setRtcpMux(mux: boolean): Promise<void> {
    if (mux) {
      this.caller.dropRtcp();
      this.callee.dropRtcp();
      return;
    }
    await this.caller.addRtcp();
    await this.callee.addRtcp();
  }

  /** Closes both legs' sockets. */
  release(): void {
    this.caller.release();
    this.callee.release();
  }

  stats(): StreamStats {
    return { index: this.index, type: this.type, rtcpMux: this.rtcpMux, caller: this.caller.stats(), callee: this.callee.stats() };
  }

  /** The forwarding path: runs for every datagram, inside the socket's callback, so it never throws. */
  #forward(from: RelayLeg, channel: RelayChannel, packet: Buffer, source: RemoteInfo): void {
    if (!from.admit(channel, source)) {
      from.counters.droppedSource++;
      return;
    }
    const kind: RelayChannel = channel === 'rtcp' || (from.muxed && isRtcpPacket(packet)) ? 'rtcp' : 'rtp';
    from.countIn(kind, packet.length);
    this.lastPacketAt = this.#now();
    const to = from === this.caller ? this.callee : this.caller;
    if (!to.send(channel, packet, kind)) from.counters.droppedNoDestination++;
  }
}
