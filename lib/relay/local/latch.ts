import { sameAddress } from '../../sdp/address.js';

/** A transport address: IP literal and UDP port. */
export interface Endpoint {
  address: string;
  port: number;
}

/**
 * What a leg knows about where one of its channels (RTP or RTCP) may receive from.
 * - `latching`: symmetric latching (what rtpproxy and rtpengine call "comedia"; it relies on
 *   symmetric RTP, RFC 4961): the first packet's source becomes the party's address.
 * - `latched`: the source latched so far.
 * - `expected`: the address and port the party's SDP gave for this channel.
 */
export interface SourceState {
  latching: boolean;
  latched: Endpoint | undefined;
  expected: Endpoint | undefined;
}

/** What to do with a packet: forward it, forward it and latch its source first, or drop it. */
export type SourceVerdict = 'accept' | 'latch' | 'drop';

/**
 * Decides whether a packet's source may speak for a party. Once latched, only the latched source
 * is accepted: packets from anyone else are dropped, so a third party can neither inject media
 * nor draw the stream to itself ("RTP bleed"). Without latching, only the SDP's own address and
 * port are accepted (symmetric RTP, RFC 4961 §3: a party sends from the port it receives on).
 */
export function checkSource(state: SourceState, source: Endpoint): SourceVerdict {
  if (state.latched !== undefined) return sameEndpoint(state.latched, source) ? 'accept' : 'drop';
  if (state.latching) return 'latch';
  return state.expected !== undefined && sameEndpoint(state.expected, source) ? 'accept' : 'drop';
}

/** Whether two transport addresses are the same, whatever the spelling of their IP. */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && sameAddress(a.address, b.address);
}
