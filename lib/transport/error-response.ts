/**
 * Builds the answer to a request that did not parse, from the raw header text the parser could
 * read (SipParseError.headers). The message layer cannot be used: the request is not a message.
 */
import { randomBytes } from 'node:crypto';
import type { SipParseError } from '../errors.js';
import type { Endpoint } from './transport.js';
import { normalizeAddress, parseViaText, splitList, stampViaText } from './via-text.js';

/** The bytes of the response and its (stamped) top Via, which decides where it goes. */
export interface ErrorResponse {
  bytes: Buffer;
  topVia: string;
}

/** Reason phrases may not hold CR, LF or other controls (RFC 3261 §25.1 Reason-Phrase). */
function cleanReason(reason: string, status: number): string {
  const r = reason.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return r !== '' ? r : status === 505 ? 'Version Not Supported' : 'Bad Request';
}

/**
 * RFC 3261 §8.2.6.2: the response copies From, Call-ID, CSeq and Via (in order) from the request,
 * and To, adding a tag if the request had none. Returns undefined when one of those is missing
 * (nothing can route or identify the answer), and for ACK, which is never answered (§17.2.1).
 */
export function buildErrorResponse(err: SipParseError, source: Endpoint): ErrorResponse | undefined {
  const h = err.headers;
  if (h.from === undefined || h.to === undefined || h.callId === undefined || h.cseq === undefined) return undefined;
  const vias = h.via.flatMap((v) => splitList(v));
  const first = vias[0];
  if (first === undefined) return undefined;
  if (/\bACK\s*$/i.test(h.cseq.trim())) return undefined;
  const top = parseViaText(first);
  if (top !== undefined) {
    const wantsRport = top.rport === null;
    const differs = normalizeAddress(top.host) !== source.address;
    if (differs || wantsRport) vias[0] = stampViaText(first, source.address, wantsRport ? source.port : undefined);
  }
  const status = err.status >= 400 && err.status <= 699 ? err.status : 400;
  let to = h.to.trim();
  if (!/;\s*tag\s*=/i.test(to)) to += ';tag=' + randomBytes(6).toString('hex');
  const lines = [`SIP/2.0 ${status} ${cleanReason(err.reason, status)}`];
  for (const v of vias) lines.push('Via: ' + v);
  lines.push('From: ' + h.from.trim(), 'To: ' + to, 'Call-ID: ' + h.callId.trim(), 'CSeq: ' + h.cseq.trim(), 'Content-Length: 0', '', '');
  return { bytes: Buffer.from(lines.join('\r\n'), 'latin1'), topVia: vias[0] ?? first };
}
