import type { RemoteInfo } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { canonicalAddress, isUnspecifiedAddress } from '../../sdp/address.js';
import type { RelayEndpoint } from '../../sdp/relay-rewrite.js';
import type { RelayParty } from '../relay-allocator.js';
import { type Endpoint, type SourceState, checkSource } from './latch.js';
import { sameAddress } from '../../sdp/address.js';
import type { BoundPort, PortPool } from './port-pool.js';

/** The two sockets of a leg: RTP, and RTCP unless rtcp-mux puts RTCP on the RTP port (RFC 5761). */
export type RelayChannel = 'rtp' | 'rtcp';

/** Packets and bytes of one kind through a leg. `in`: received from the party; `out`: sent to it. */
export interface FlowCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
}

/** Counters of one leg of a stream. */
export interface LegCounters {
  rtp: FlowCounters;
  rtcp: FlowCounters;
  /** Packets that arrived from a source other than the latched one (or the SDP's, without latching). */
  droppedSource: number;
  /** Packets from this party that could not go on: the other party has no address yet, or is on hold. */
  droppedNoDestination: number;
  /** Sends to this party that the socket reported as failed. */
  sendErrors: number;
}

/** Where a party's SDP says it receives a stream. */
export interface LegRemote {
  /** Undefined or unspecified (`0.0.0.0`, `::`): the party is on hold, send it nothing (RFC 3264 §8.4). */
  address: string | undefined;
  rtpPort: number;
  rtcpAddress: string | undefined;
  rtcpPort: number;
}

/** A snapshot of a leg, for `stats()`. */
export interface LegStats {
  party: RelayParty;
  /** The relay's side of the leg, as written into the SDP the party receives. */
  local: RelayEndpoint;
  /** What the party's SDP said, if it has spoken yet. */
  remote: (LegRemote & { held: boolean }) | undefined;
  latching: boolean;
  latched: { rtp: Endpoint | undefined; rtcp: Endpoint | undefined };
  counters: LegCounters;
}

export type PacketHandler = (leg: RelayLeg, channel: RelayChannel, packet: Buffer, source: RemoteInfo) => void;

export interface RelayLegInit {
  party: RelayParty;
  pool: PortPool;
  /** The address written into SDP for this leg (the bound address, or a public one in front of it). */
  advertisedAddress: string;
  rtp: BoundPort;
  rtcp: BoundPort | undefined;
  /** Whether the leg latches before the party's SDP says otherwise. */
  latching: boolean;
  onPacket: PacketHandler;
}

/**
 * One side of a relayed stream: the relay's sockets facing one party, what that party's SDP says,
 * and the source it latched. Packets it receives go to `onPacket`; `send` sends to the party.
 */
export class RelayLeg {
  readonly party: RelayParty;
  readonly pool: PortPool;
  readonly advertisedAddress: string;
  readonly counters: LegCounters = {
    rtp: newFlowCounters(),
    rtcp: newFlowCounters(),
    droppedSource: 0,
    droppedNoDestination: 0,
    sendErrors: 0,
  };
  #rtp: BoundPort;
  #rtcp: BoundPort | undefined;
  readonly #onPacket: PacketHandler;
  /** One send callback per leg rather than a closure per packet. */
  readonly #afterSend = (error: Error | null): void => {
    if (error) this.counters.sendErrors++;
  };
  #remote: LegRemote | undefined;
  #held = false;
  #latching = false;
  #latched: Record<RelayChannel, Endpoint | undefined> = { rtp: undefined, rtcp: undefined };

  constructor(init: RelayLegInit) {
    this.party = init.party;
    this.pool = init.pool;
    this.advertisedAddress = init.advertisedAddress;
    this.#onPacket = init.onPacket;
    this.#latching = init.latching;
    this.#rtp = this.#listen(init.rtp, 'rtp');
    this.#rtcp = init.rtcp === undefined ? undefined : this.#listen(init.rtcp, 'rtcp');
  }

  /** What the SDP handed to this party must name. */
  get endpoint(): RelayEndpoint {
    return { address: this.advertisedAddress, rtpPort: this.#rtp.port, rtcpPort: this.#rtcp?.port };
  }

  /** Whether RTCP shares the RTP socket (no RTCP socket). */
  get muxed(): boolean {
    return this.#rtcp === undefined;
  }

  /** Ports this leg holds. */
  get portCount(): number {
    return this.#rtcp === undefined ? 1 : 2;
  }

  /**
   * Takes what the party's SDP says. A changed address or port, or a change of latching, forgets
   * the latched source: the party moved, and its next packet latches again. An unspecified address
   * (hold) only stops sending; the known address and latch stay for when the party resumes.
   */
  setRemote(remote: LegRemote, latching: boolean): void {
    this.#held = remote.address === undefined || isUnspecifiedAddress(remote.address);
    if (this.#held) {
      this.#latching = latching;
      return;
    }
    const before = this.#remote;
    const next: LegRemote = {
      ...remote,
      address: canonicalAddress(remote.address!),
      rtcpAddress: canonicalAddress(remote.rtcpAddress ?? remote.address!),
    };
    const moved =
      before === undefined ||
      before.address !== next.address ||
      before.rtpPort !== next.rtpPort ||
      before.rtcpAddress !== next.rtcpAddress ||
      before.rtcpPort !== next.rtcpPort;
    if (moved || latching !== this.#latching) this.#latched = { rtp: undefined, rtcp: undefined };
    this.#remote = next;
    this.#latching = latching;
  }

  /**
   * Whether a packet from `source` on `channel` speaks for this party; latches its source if this
   * is the first packet of a latching leg. A party whose SDP address is of the other family than
   * this leg's socket (it cannot be sent to from here) is latched whatever the policy.
   */
  admit(channel: RelayChannel, source: Endpoint): boolean {
    // The forwarding path runs this for every packet: once latched, the common case is the same
    // source again, compared without building a SourceState (rinfo spells an address the same
    // way every time; checkSource still decides everything else).
    const latched = this.#latched[channel];
    if (latched !== undefined && latched.port === source.port && latched.address === source.address) return true;
    const state: SourceState = {
      latching: this.#latching || (this.#remote !== undefined && !this.#usable(this.#remote.address)),
      latched: this.#latched[channel],
      expected: this.#expected(channel),
    };
    let verdict = checkSource(state, source);
    // RTCP latches only to the host its party's RTP latched to (before that, the host its SDP or
    // SIP source names): otherwise a third party sending RTCP first would take the party's RTCP
    // lane (RTCP bleed).
    if (verdict === 'latch' && channel === 'rtcp') {
      const host = this.#latched.rtp?.address ?? this.#expected('rtp')?.address;
      if (host !== undefined && this.#usable(host) && !sameAddress(host, source.address)) verdict = 'drop';
    }
    if (verdict === 'latch') this.#latched[channel] = { address: source.address, port: source.port };
    return verdict !== 'drop';
  }

  /** Where to send this party a packet of `channel`; undefined if not known or the party is on hold. */
  destination(channel: RelayChannel): Endpoint | undefined {
    if (this.#held) return undefined;
    const latched = this.#latched[channel];
    if (latched !== undefined) return latched;
    const expected = this.#expected(channel);
    if (expected === undefined || !this.#usable(expected.address)) return undefined;
    // Before RTCP latches, a party whose RTP latched is reached at its RTP (public) address.
    const rtpLatched = this.#latched.rtp;
    return channel === 'rtcp' && rtpLatched !== undefined ? { address: rtpLatched.address, port: expected.port } : expected;
  }

  /**
   * Sends a packet to the party: RTP channel from the RTP socket, RTCP from the RTCP socket (the
   * RTP socket when muxed). `kind` is what the packet is, for counting. Returns false if there was
   * nowhere to send it.
   */
  send(channel: RelayChannel, packet: Buffer, kind: RelayChannel): boolean {
    const lane: RelayChannel = channel === 'rtcp' && this.#rtcp !== undefined ? 'rtcp' : 'rtp';
    const to = this.destination(lane);
    if (to === undefined) return false;
    const socket = lane === 'rtcp' ? this.#rtcp!.socket : this.#rtp.socket;
    try {
      socket.send(packet, to.port, to.address, this.#afterSend);
    } catch {
      // A socket closed under a packet in flight: count it, never throw into the receive path.
      this.counters.sendErrors++;
      return true;
    }
    const flow = this.counters[kind];
    flow.packetsOut++;
    flow.bytesOut += packet.length;
    return true;
  }

  /** Counts a packet received from the party. */
  countIn(kind: RelayChannel, bytes: number): void {
    const flow = this.counters[kind];
    flow.packetsIn++;
    flow.bytesIn += bytes;
  }

  /** Binds an RTCP socket (RTP + 1 if free) when RTCP stops being multiplexed. */
  async addRtcp(): Promise<void> {
    if (this.#rtcp !== undefined) return;
    const bound = await this.pool.allocateSingle(this.#rtp.port + 1);
    this.#rtcp = this.#listen(bound, 'rtcp');
  }

  /** Releases the RTCP socket once rtcp-mux is agreed (RFC 5761 §5.1.1). */
  dropRtcp(): void {
    if (this.#rtcp === undefined) return;
    this.pool.release(this.#rtcp);
    this.#rtcp = undefined;
    this.#latched.rtcp = undefined;
  }

  /** Closes the leg's sockets and returns its ports. */
  release(): void {
    this.pool.release(this.#rtp);
    if (this.#rtcp !== undefined) this.pool.release(this.#rtcp);
    this.#rtcp = undefined;
  }

  stats(): LegStats {
    return {
      party: this.party,
      local: this.endpoint,
      remote: this.#remote === undefined ? undefined : { ...this.#remote, held: this.#held },
      latching: this.#latching,
      latched: { ...this.#latched },
      counters: structuredClone(this.counters),
    };
  }

  #expected(channel: RelayChannel): Endpoint | undefined {
    const remote = this.#remote;
    if (remote === undefined || remote.address === undefined) return undefined;
    return channel === 'rtp'
      ? { address: remote.address, port: remote.rtpPort }
      : { address: remote.rtcpAddress ?? remote.address, port: remote.rtcpPort };
  }

  /** Whether this leg's socket can send to `address`: an IP of its own family. */
  #usable(address: string | undefined): boolean {
    if (address === undefined) return false;
    return this.pool.family === 'IPv4' ? isIPv4(address) : isIPv6(address);
  }

  #listen(bound: BoundPort, channel: RelayChannel): BoundPort {
    bound.socket.on('message', (packet, source) => this.#onPacket(this, channel, packet, source));
    return bound;
  }
}

function newFlowCounters(): FlowCounters {
  return { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 };
}
