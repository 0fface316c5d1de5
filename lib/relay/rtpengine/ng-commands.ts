import { isIPv6 } from 'node:net';
import type { NgCommand } from './ng-client.js';

/** How rtpengine treats ICE in the SDP it returns (the ng `ICE` key). */
export type NgIceMode = 'remove' | 'force' | 'keep';

/**
 * How rtpengine treats RTCP multiplexing (RFC 5761) in an offer (the ng `rtcp-mux` list):
 * `keep` sends nothing (rtpengine mirrors the offerer); `accept` accepts the offerer's rtcp-mux
 * and offers it onward; `offer` offers rtcp-mux to the recipient even if the offerer did not;
 * `demux` accepts it from the offerer but offers separate RTCP ports to the recipient (for
 * phones that do not do rtcp-mux); `require` insists on it towards the recipient; `reject`
 * refuses the offerer's.
 */
export type NgRtcpMuxMode = 'keep' | 'accept' | 'offer' | 'demux' | 'require' | 'reject';

/** Flags the allocator puts into every offer and answer. */
export interface NgFlagOptions {
  /** Default `remove`: candidates naming a party's private addresses must not reach the other party. */
  ice?: NgIceMode;
  /** Default `keep`. */
  rtcpMux?: NgRtcpMuxMode;
  /**
   * rtpengine interface names (its `--interface=NAME/IP`) per address family. When both are
   * given and an offer asks for the other family (`targetAddressType`), the offer carries
   * `direction: [sender's, recipient's]`; otherwise only `address family` is sent.
   */
  interfaces?: { IP4?: string; IP6?: string };
  /** More ng `flags` for every offer and answer (e.g. `strict-source`, `media-handover`). */
  flags?: readonly string[];
}

/** One SDP handed to rtpengine, with the tags already in rtpengine's order for the verb. */
export interface NgSdpMessage {
  callId: string;
  /** offer: the tag of the party that sent the SDP; answer: the tag of the party that made the offer. */
  fromTag: string;
  /** offer: the other party's tag when known; answer: the tag of the party that sent the SDP. */
  toTag?: string;
  viaBranch?: string;
  sdp: Buffer;
  /** The SDP's sender is behind NAT: media comes from its source address, not its SDP. */
  natted: boolean;
  /** Source address of the sender's SIP packets. */
  sourceAddress?: string;
}

/**
 * The flags a NAT proxy gives rtpengine for one SDP, after Kamailio's usual
 * `rtpengine_manage("replace-origin replace-session-connection SIP-source-address ICE=remove")`:
 * - `replace: [origin, session-connection]`: the o= and session c= name rtpengine, not the party;
 * - natted sender with a known source: `SIP-source-address` and `received-from: [IPx, source]`,
 *   so rtpengine sends to the address the party's packets come from (with the SDP's ports) until
 *   it latches onto the first media packet; otherwise `trust-address` (the SDP's c=);
 * - `symmetric`: rtpengine latches each side to where its media really comes from (RFC 4961);
 * - `ICE`, `rtcp-mux` per the options.
 */
function common(m: NgSdpMessage, o: NgFlagOptions): Record<string, NgCommand[string]> {
  const flags: string[] = [];
  let receivedFrom: string[] | undefined;
  if (m.natted && m.sourceAddress !== undefined) {
    flags.push('SIP-source-address');
    receivedFrom = [isIPv6(m.sourceAddress) ? 'IP6' : 'IP4', m.sourceAddress];
  } else {
    flags.push('trust-address');
  }
  flags.push('symmetric', ...(o.flags ?? []));
  const ice = o.ice ?? 'remove';
  return {
    'call-id': m.callId,
    'from-tag': m.fromTag,
    'to-tag': m.toTag,
    'via-branch': m.viaBranch,
    sdp: m.sdp,
    flags,
    replace: ['origin', 'session-connection'],
    'received-from': receivedFrom,
    ICE: ice === 'keep' ? undefined : ice,
  };
}

/** The ng `offer` for an SDP offer. `targetAddressType` asks rtpengine to bridge to that family. */
export function offerCommand(m: NgSdpMessage, o: NgFlagOptions, targetAddressType?: 'IP4' | 'IP6'): NgCommand {
  const mux = o.rtcpMux ?? 'keep';
  let direction: string[] | undefined;
  let family: string | undefined;
  if (targetAddressType !== undefined) {
    const own = sdpAddressType(m.sdp);
    const from = own !== undefined ? o.interfaces?.[own] : undefined;
    const to = o.interfaces?.[targetAddressType];
    if (from !== undefined && to !== undefined) direction = [from, to];
    else family = targetAddressType;
  }
  return {
    command: 'offer',
    ...common(m, o),
    'rtcp-mux': mux === 'keep' ? undefined : [mux],
    direction,
    'address family': family,
  };
}

/** The ng `answer` for an SDP answer. */
export function answerCommand(m: NgSdpMessage, o: NgFlagOptions): NgCommand {
  return { command: 'answer', ...common(m, o) };
}

/** The ng `delete` for a whole call (or, with `toTag`/`viaBranch`, one branch of it). */
export function deleteCommand(callId: string, fromTag?: string, viaBranch?: string): NgCommand {
  return { command: 'delete', 'call-id': callId, 'from-tag': fromTag, 'via-branch': viaBranch };
}

/** The ng `query`: the call's tags, streams and packet counters. */
export function queryCommand(callId: string, fromTag?: string): NgCommand {
  return { command: 'query', 'call-id': callId, 'from-tag': fromTag };
}

/** The address family of an SDP's first c= line. */
export function sdpAddressType(sdp: Buffer): 'IP4' | 'IP6' | undefined {
  const m = /^c=IN (IP[46]) /m.exec(sdp.toString('latin1'));
  return m === null ? undefined : (m[1] as 'IP4' | 'IP6');
}
