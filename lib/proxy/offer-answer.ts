import type { RelayParty } from '../relay/relay-allocator.js';

/** What an SDP body in a message is, in the offer/answer model (RFC 3264, RFC 3261 §13.2.1). */
export type SdpRole = 'offer' | 'answer' | 'none';

/**
 * Classifies the SDP a message carries, given which party's offer is pending (awaiting an
 * answer) in the call. The cases real phones produce (RFC 3261 §13.2.1, RFC 3311, RFC 6337):
 * - INVITE or UPDATE with SDP: an offer (a re-INVITE from either party too).
 * - A 18x or 2xx response with SDP while the other party's offer is pending: the answer (in a 183
 *   for early media, and again in the 200).
 * - A 2xx to an INVITE without SDP (no offer pending): the callee's offer, a "late offer".
 * - An ACK with SDP while the callee's offer is pending: the caller's answer to the late offer.
 * - A PRACK with SDP answering a reliable 18x offer: an answer; otherwise an offer.
 */
export function classifySdp(input: {
  method: string;
  isRequest: boolean;
  status?: number;
  from: RelayParty;
  pendingOfferFrom: RelayParty | undefined;
  hasSdp: boolean;
}): SdpRole {
  if (!input.hasSdp) return 'none';
  const other = input.pendingOfferFrom !== undefined && input.pendingOfferFrom !== input.from;
  if (input.isRequest) {
    switch (input.method) {
      case 'INVITE':
      case 'UPDATE':
        return 'offer';
      case 'ACK':
      case 'PRACK':
        return other ? 'answer' : input.method === 'PRACK' ? 'offer' : 'none';
      default:
        return 'none';
    }
  }
  const status = input.status ?? 0;
  if (input.method !== 'INVITE' && input.method !== 'UPDATE' && input.method !== 'PRACK') return 'none';
  if (status < 101 || status >= 300) return 'none';
  if (other) return 'answer';
  // an INVITE sent without SDP: the first SDP in a reliable or final response is the offer
  return input.method === 'INVITE' && input.pendingOfferFrom === undefined ? 'offer' : 'none';
}

/** True when a body is a session description (Content-Type application/sdp, or none with a v= body). */
export function isSdpBody(contentType: string | undefined, body: Buffer): boolean {
  if (body.length === 0) return false;
  if (contentType === undefined) return body.subarray(0, 2).toString('latin1') === 'v=';
  return contentType.split(';')[0]!.trim().toLowerCase() === 'application/sdp';
}
