import { CONTACT, PLAIN, checkCSeq, checkCallId, found, markedUri, scanNameAddr, scanVia } from './check-header.js';
import { MAX_UINT32 } from './fault.js';
import type { HeaderEntry } from './header-entry.js';
import { KNOWN_KEYS } from './known-headers.js';
import type { Marks } from './marks.js';
import { decimal, trimStart } from './scan.js';
import { knownIndex, valueEnd, valueStart } from './split.js';

/**
 * The parse-time checks of a message's headers (RFC 3261 §8.1.1, §20): the mandatory headers are
 * there, single-instance headers appear once, Via, From, To, Contact, CSeq, Call-ID, Max-Forwards,
 * Expires and Content-Length are well-formed, the CSeq method is the request's, and the
 * Content-Length fits the datagram.
 *
 * quickValidate runs first: it reads the bytes in place and allocates nothing, and it only ever
 * answers "valid" or UNSURE. fullValidate (validate-full.ts), the reference rules written with the
 * full parsers, then decides an UNSURE message and throws the first fault it finds. So a message's
 * verdict and reason come from fullValidate's rules, whichever function ran.
 */

/** The message is not certainly valid; fullValidate decides. */
export const UNSURE = -1;
/** Valid, without a Content-Length header. */
export const NO_LENGTH = -2;


// bits of the single-instance headers seen, to find a repeated one
const FROM = 1;
const TO = 2;
const CALL_ID = 4;
const CSEQ = 8;
const LENGTH = 16;
const MAX_FORWARDS = 32;
const EXPIRES = 64;
const CONTENT_TYPE = 128;
const MIN_EXPIRES = 256;
const VIA = 512;
const CONTACT_LIST = 1024;
/** the top Via's marks are taken */
const VIA_MARKED = 2048;
const REQUIRED = VIA | FROM | TO | CALL_ID | CSEQ;

/** What quickValidate checks in a header of this key (one of the bits above), 0 for nothing. */
function kindOf(key: string): number {
  switch (key) {
    case 'via': return VIA;
    case 'from': return FROM;
    case 'to': return TO;
    case 'call-id': return CALL_ID;
    case 'cseq': return CSEQ;
    case 'content-length': return LENGTH;
    case 'max-forwards': return MAX_FORWARDS;
    case 'expires': return EXPIRES;
    case 'content-type': return CONTENT_TYPE;
    case 'min-expires': return MIN_EXPIRES;
    case 'contact': return CONTACT_LIST;
    default: return 0;
  }
}
/** kindOf for each key in known-headers.KNOWN_KEYS, by index (what split.ts records per header). */
const KIND_OF_KNOWN = KNOWN_KEYS.map(kindOf);

/**
 * The zero-allocation pass over headers split by split.ts (whose value ranges it reads).
 * Returns the Content-Length (or NO_LENGTH) of a message that is certainly valid, else UNSURE.
 * `available` is the number of bytes after the header section; `method` the request's method.
 * What the views read first is noted in `marks`.
 */
export function quickValidate(headers: readonly HeaderEntry[], b: Uint8Array, available: number, method: string | undefined, marks: Marks): number {
  let seen = 0;
  let length = NO_LENGTH;
  let contacts = 0;
  let wildcard = false;
  for (let n = 0; n < headers.length; n++) {
    const known = knownIndex[n]!;
    const bit = known !== -1 ? KIND_OF_KNOWN[known]! : kindOf(headers[n]!.key);
    if (bit === 0) continue;
    if ((seen & bit & ~(VIA | CONTACT_LIST)) !== 0) return UNSURE;
    seen |= bit;
    const a = valueStart[n]!;
    const e = valueEnd[n]!;
    if (a < 0) return UNSURE; // an unfolded value: fullValidate reads it
    switch (bit) {
      case VIA:
        // each element of the list (§7.3.1), trimmed as params.splitList trims it
        for (let p = a; ; ) {
          const stop = scanVia(b, trimStart(b, p, e), e);
          if (p === a && (seen & VIA_MARKED) === 0) {
            seen |= VIA_MARKED;
            marks.viaAt = n;
            marks.branchStart = found.paramStart === -1 ? -1 : found.paramStart - a;
            marks.branchEnd = found.paramEnd - a;
          }
          marks.vias++;
          if (stop === e) break;
          if (stop === -1 || b[stop] !== 44 /* , */) return UNSURE;
          p = stop + 1;
        }
        marks.viaLast = n;
        break;
      case FROM:
        if (scanNameAddr(b, a, e, PLAIN) !== e) return UNSURE;
        marks.fromAt = n;
        marks.fromTagStart = found.paramStart === -1 ? -1 : found.paramStart - a;
        marks.fromTagEnd = found.paramEnd - a;
        break;
      case TO:
        if (scanNameAddr(b, a, e, PLAIN) !== e) return UNSURE;
        marks.toAt = n;
        marks.toTagStart = found.paramStart === -1 ? -1 : found.paramStart - a;
        marks.toTagEnd = found.paramEnd - a;
        break;
      case CALL_ID:
        if (!checkCallId(b, a, e)) return UNSURE;
        marks.callIdAt = n;
        break;
      case CSEQ:
        if (!checkCSeq(b, a, e, method)) return UNSURE;
        marks.cseqAt = n;
        marks.seq = found.seq;
        marks.methodStart = found.methodStart - a;
        marks.method = method;
        break;
      case LENGTH:
        length = e - a > 10 ? -1 : decimal(b, a, e);
        if (length < 0 || length > available) return UNSURE;
        break;
      case MAX_FORWARDS: {
        const v = e - a > 10 ? -1 : decimal(b, a, e);
        if (v < 0 || v > 255) return UNSURE;
        break;
      }
      case EXPIRES: {
        const v = e - a > 10 ? -1 : decimal(b, a, e);
        if (v < 0 || v > MAX_UINT32) return UNSURE;
        break;
      }
      case CONTACT_LIST:
        if (marks.contactAt === -1) marks.contactAt = n;
        for (let p = a; ; ) {
          const s = trimStart(b, p, e);
          const stop = scanNameAddr(b, s, e, CONTACT);
          if (stop === -1) return UNSURE;
          if (b[s] === 42 /* * */) wildcard = true;
          // the first element starts the value (a is trimmed): its URI's parts, for the Contact view
          else if (contacts === 0) marks.contactUri = markedUri(a);
          contacts++;
          if (stop === e) break;
          if (b[stop] !== 44) return UNSURE;
          p = stop + 1;
        }
        marks.contactLast = n;
        break;
    }
  }
  if ((seen & REQUIRED) !== REQUIRED) return UNSURE;
  // §10.2.2: "*" is the only Contact value when present
  if (wildcard && contacts > 1) return UNSURE;
  marks.contacts = contacts;
  return length;
}
