/** Requests the transaction layer builds from the request it sent: ACK for non-2xx and CANCEL. */
import { SipRequest } from '../transport/message-api.js';
import type { HeaderField, SipResponse } from '../transport/message-api.js';

function routes(request: SipRequest): HeaderField[] {
  return request.getAll('route').map((value) => ({ name: 'Route', value }));
}

/**
 * RFC 3261 §17.1.1.3: the ACK for a non-2xx final response to an INVITE.
 */
export function buildAckForNonSuccess(invite: SipRequest, response: SipResponse): SipRequest {
  const headers: HeaderField[] = [];
  // "The ACK MUST contain a single Via header field, and this MUST be equal to the top Via header
  // field of the original request."
  headers.push({ name: 'Via', value: invite.get('via') ?? '' });
  // "If the INVITE request whose response is being acknowledged had Route header fields, those
  // header fields MUST appear in the ACK."
  headers.push(...routes(invite));
  headers.push({ name: 'Max-Forwards', value: invite.get('max-forwards') ?? '70' });
  // "The ACK request constructed by the client transaction MUST contain values for the Call-ID,
  // From, and Request-URI that are equal to the values of those header fields in the request
  // passed to the transport by the client transaction (call this the "original request")."
  headers.push({ name: 'From', value: invite.get('from') ?? '' });
  // "The To header field in the ACK MUST equal the To header field in the response being
  // acknowledged, and therefore will usually differ from the To header field in the original
  // request by the addition of the tag parameter."
  headers.push({ name: 'To', value: response.get('to') ?? '' });
  headers.push({ name: 'Call-ID', value: invite.callId });
  // "The CSeq header field in the ACK MUST contain the same value for the sequence number as was
  // present in the original request, but the method parameter MUST be equal to "ACK"."
  headers.push({ name: 'CSeq', value: `${invite.cseq.seq} ACK` });
  return new SipRequest({ method: 'ACK', uri: invite.uri.clone(), headers });
}

/**
 * RFC 3261 §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in
 * the CANCEL request MUST be identical to those in the request being cancelled, including tags. A
 * CANCEL constructed by a client MUST have only a single Via header field value matching the top
 * Via value in the request being cancelled. ... If the request being cancelled contains a Route
 * header field, the CANCEL request MUST include that Route header field's values."
 */
export function buildCancel(invite: SipRequest): SipRequest {
  const headers: HeaderField[] = [
    { name: 'Via', value: invite.get('via') ?? '' },
    ...routes(invite),
    { name: 'Max-Forwards', value: invite.get('max-forwards') ?? '70' },
    { name: 'From', value: invite.get('from') ?? '' },
    { name: 'To', value: invite.get('to') ?? '' },
    { name: 'Call-ID', value: invite.callId },
    { name: 'CSeq', value: `${invite.cseq.seq} CANCEL` },
  ];
  return new SipRequest({ method: 'CANCEL', uri: invite.uri.clone(), headers });
}
