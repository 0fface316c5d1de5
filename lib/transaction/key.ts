/**
 * Transaction matching keys (RFC 3261 §17.1.3, §17.2.3), after pjsip's create_tsx_key_3261 and
 * create_tsx_key_2543.
 */
import { BRANCH_COOKIE } from '../transport/message-api.js';
import type { SipRequest, SipResponse, Via } from '../transport/message-api.js';
import { DEFAULT_SIP_PORT } from '../transport/resolver.js';
import { normalizeAddress } from '../transport/via-text.js';

/** True when a branch carries the RFC 3261 magic cookie (§8.1.1.7). */
export function isRfc3261Branch(branch: string | undefined): branch is string {
  return branch !== undefined && branch.startsWith(BRANCH_COOKIE) && branch.length > BRANCH_COOKIE.length;
}

function sentBy(via: Via): string {
  return normalizeAddress(via.host) + ':' + (via.port ?? DEFAULT_SIP_PORT);
}

/**
 * §17.1.3: a response matches a client transaction "1. If the response has the same value of the
 * branch parameter in the top Via header field as the branch parameter in the top Via header field
 * of the request that created the transaction. 2. If the method parameter in the CSeq header field
 * matches the method of the request that created the transaction."
 */
export function clientKey(branch: string, method: string): string {
  return flat('c|' + branch + '|' + method);
}

/**
 * A key is kept as long as its transaction (64*T1 when it lingers). Built by concatenation from
 * a branch that is a slice of the message's header text, it would keep that whole text alive;
 * reading a character makes V8 flatten the string in place into a copy of its own.
 */
function flat(key: string): string {
  key.charCodeAt(0);
  return key;
}

export function responseKey(response: SipResponse): string | undefined {
  const branch = response.via[0]?.branch;
  if (branch === undefined) return undefined;
  return clientKey(branch, response.cseq.method);
}

/**
 * §17.2.3 server matching. With the magic cookie: "1. the branch parameter in the request is
 * equal to the one in the top Via header field of the request that created the transaction, and
 * 2. the sent-by value in the top Via of the request is equal to the one in the request that
 * created the transaction, and 3. the method of the request matches the one that created the
 * transaction, except for ACK, where the method of the request that created the transaction is
 * INVITE."
 *
 * Without it (RFC 2543 fallback): "The INVITE request matches a transaction if the Request-URI, To
 * tag, From tag, Call-ID, CSeq, and top Via header field match those of the INVITE request which
 * created the transaction. ... The ACK request matches a transaction if the Request-URI, From tag,
 * Call-ID, CSeq number (not the method), and top Via header field match those of the INVITE request
 * which created the transaction, and the To tag of the ACK matches the To tag of the response sent
 * by the server transaction. ... For all other request methods, a request is matched to a
 * transaction if the Request-URI, To tag, From tag, Call-ID, CSeq (including the method), and top
 * Via header field match those of the request that created the transaction."
 *
 * The INVITE/ACK key leaves the To tag out; the layer checks an ACK's To tag against the response
 * the transaction sent. `method` overrides the request's method (CANCEL → INVITE for §9.2).
 */
export function serverKey(request: SipRequest, method: string = request.method): string {
  const top = request.via[0];
  if (top === undefined) throw new Error('request without Via');
  const m = method === 'ACK' ? 'INVITE' : method;
  if (isRfc3261Branch(top.branch)) return flat('s|' + top.branch + '|' + sentBy(top) + '|' + m);
  const toTag = m === 'INVITE' ? '' : (request.to.tag ?? '');
  // join() writes a flat string of its own
  return [
    's2543',
    m,
    request.uri.toString(),
    toTag,
    request.from.tag ?? '',
    request.callId,
    request.cseq.seq,
    sentBy(top) + ';' + (top.branch ?? ''),
  ].join('|');
}

/** True when the key is an RFC 2543 (no magic cookie) key. */
export function isRfc2543Key(key: string): boolean {
  return key.startsWith('s2543|');
}
