import type { AddressType } from './address.js';

/**
 * The o= line (RFC 4566 §5.2): `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
 * The session id and version are kept as decimal text; they are 64-bit numbers in practice, beyond
 * what a JavaScript number holds exactly.
 */
export interface Origin {
  username: string;
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addressType: string;
  address: string;
}

/** Reads an o= line's text (with or without the `o=`); undefined if it does not have six fields. */
export function parseOrigin(text: string): Origin | undefined {
  const fields = text.replace(/^o=/, '').trim().split(/ +/);
  if (fields.length !== 6) return undefined;
  const [username, sessionId, sessionVersion, netType, addressType, address] = fields as [
    string, string, string, string, string, string,
  ];
  if (!/^\d+$/.test(sessionVersion)) return undefined;
  return { username, sessionId, sessionVersion, netType, addressType, address };
}

/** Writes an o= line's text, `o=` included. */
export function formatOrigin(origin: Origin): string {
  const { username, sessionId, sessionVersion, netType, addressType, address } = origin;
  return `o=${username} ${sessionId} ${sessionVersion} ${netType} ${addressType} ${address}`;
}

/** The o= line with another unicast address (and the address type that goes with it). */
export function withOriginAddress(origin: Origin, address: string, addressType: AddressType): Origin {
  return { ...origin, address, addressType };
}

/**
 * What a relay remembers about the last SDP it sent one party, to number the next one. RFC 3264 §8:
 * "When issuing an offer that modifies the session, the "o=" line of the new SDP MUST be identical
 * to that in the previous SDP, except that the version in the origin field MUST increment by one
 * from the previous SDP. If the version in the origin line does not increment, the SDP MUST be
 * identical to the SDP with that version number."
 */
export interface OriginMemory {
  /** The SDP last sent, with its version field blanked, to tell a change from a repeat. */
  readonly sdpWithoutVersion: string;
  /** The session id it carried; a new id starts a new numbering. */
  readonly sessionId: string;
  /** The version it carried. */
  readonly version: bigint;
}

/**
 * Numbers an SDP that a relay is about to send a party. `sdp` is the rewritten SDP text with the
 * version the original party gave it. The same content as last time keeps the last version (a
 * re-sent SDP must be identical, RFC 3264 §8); different content gets the last version plus one;
 * the first SDP (or one with a new session id) keeps the party's own version.
 */
export function nextOriginVersion(
  memory: OriginMemory | undefined,
  sdp: string,
  origin: Origin,
): { version: string; memory: OriginMemory } {
  const sdpWithoutVersion = blankOriginVersion(sdp);
  let version = BigInt(origin.sessionVersion);
  if (memory !== undefined && memory.sessionId === origin.sessionId) {
    version = memory.sdpWithoutVersion === sdpWithoutVersion ? memory.version : memory.version + 1n;
  }
  return { version: version.toString(), memory: { sdpWithoutVersion, sessionId: origin.sessionId, version } };
}

/** The SDP text with the o= version field replaced by `*`. */
function blankOriginVersion(sdp: string): string {
  return sdp.replace(/^(o=\S+ +\S+ +)\d+/m, '$1*');
}
