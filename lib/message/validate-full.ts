import { WORD, isDigits } from './charset.js';
import { parseCSeq } from './cseq.js';
import { Fault, MAX_UINT32 } from './fault.js';
import type { HeaderEntry } from './header-entry.js';
import { SINGLE_HEADERS, canonicalName } from './header-names.js';
import { parseNameAddr } from './name-addr.js';
import { SyntaxFault, splitList } from './params.js';
import { NO_LENGTH } from './validate.js';
import { parseVia } from './via.js';

/**
 * The reference rules of the parse-time header checks (see validate.ts), written with the full
 * parsers. They decide the messages quickValidate is unsure of, and name the fault.
 */


function field<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SyntaxFault) throw new Fault(`Bad ${what} header: ${e.message}`);
    throw e;
  }
}

function duplicate(key: string): never {
  throw new Fault(`Duplicate ${canonicalName(key)} header`);
}

/** Checks an unsigned 32-bit decimal (delta-seconds, §25.1). */
function isDelta(v: string): boolean {
  return isDigits(v) && v.length <= 10 && Number(v) <= MAX_UINT32;
}

/** callid = word [ "@" word ] (§25.1). */
function isCallId(v: string): boolean {
  if (v.length === 0) return false;
  let at = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 64) {
      if (at || i === 0 || i === v.length - 1) return false;
      at = true;
    } else if (c >= 128 || WORD[c] === 0) return false;
  }
  return true;
}

/**
 * The reference checks, with the full parsers: throws a Fault naming the first fault found, else
 * returns the Content-Length (or NO_LENGTH). Faults are looked for in this order: a repeated
 * header, a missing one, Content-Length, Via, From, To, CSeq, Call-ID, Contact, Max-Forwards,
 * Expires, the CSeq method.
 */
export function fullValidate(headers: readonly HeaderEntry[], available: number, method: string | undefined): number {
  let from: string | undefined;
  let to: string | undefined;
  let callId: string | undefined;
  let cseqText: string | undefined;
  let length: string | undefined;
  let maxForwards: string | undefined;
  let expires: string | undefined;
  let viaValues: string[] | undefined;
  let contactValues: string[] | undefined;
  let others: Set<string> | undefined;
  for (const h of headers) {
    switch (h.key) {
      case 'via':
        if (viaValues === undefined) viaValues = splitList(h.value);
        else viaValues.push(...splitList(h.value));
        break;
      case 'from':
        if (from !== undefined) duplicate(h.key);
        from = h.value;
        break;
      case 'to':
        if (to !== undefined) duplicate(h.key);
        to = h.value;
        break;
      case 'call-id':
        if (callId !== undefined) duplicate(h.key);
        callId = h.value;
        break;
      case 'cseq':
        if (cseqText !== undefined) duplicate(h.key);
        cseqText = h.value;
        break;
      case 'content-length':
        if (length !== undefined) duplicate(h.key);
        length = h.value;
        break;
      case 'max-forwards':
        if (maxForwards !== undefined) duplicate(h.key);
        maxForwards = h.value;
        break;
      case 'expires':
        if (expires !== undefined) duplicate(h.key);
        expires = h.value;
        break;
      case 'contact':
        if (contactValues === undefined) contactValues = splitList(h.value);
        else contactValues.push(...splitList(h.value));
        break;
      default:
        if (SINGLE_HEADERS.has(h.key)) {
          others ??= new Set();
          if (others.has(h.key)) duplicate(h.key);
          others.add(h.key);
        }
    }
  }
  // RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Max-Forwards and Via are mandatory in requests; a
  // missing Max-Forwards is tolerated (RFC 2543 elements do not send it; §16.6 step 3 adds it).
  if (viaValues === undefined) throw new Fault('Missing Via header');
  if (from === undefined) throw new Fault('Missing From header');
  if (to === undefined) throw new Fault('Missing To header');
  if (callId === undefined) throw new Fault('Missing Call-ID header');
  if (cseqText === undefined) throw new Fault('Missing CSeq header');

  // The body is exactly Content-Length bytes (§18.3, §20.14); without Content-Length over UDP it
  // is the rest of the datagram. A Content-Length larger than what arrived is an error.
  let bodyLength = NO_LENGTH;
  if (length !== undefined) {
    if (!isDigits(length) || length.length > 10) throw new Fault(`Bad Content-Length: ${length.slice(0, 20)}`);
    bodyLength = Number(length);
    if (bodyLength > available) throw new Fault('Content-Length larger than message');
  }

  const vias = viaValues;
  field('Via', () => vias.map(parseVia));
  field('From', () => parseNameAddr(from));
  field('To', () => parseNameAddr(to));
  const cseq = field('CSeq', () => parseCSeq(cseqText));
  if (!isCallId(callId)) throw new Fault('Bad Call-ID header');
  if (contactValues !== undefined) {
    const values = contactValues;
    field('Contact', () => {
      const list = values.map((v) => parseNameAddr(v, true));
      for (const c of list) {
        const exp = c.params['expires'];
        if (exp !== undefined && (exp === null || !isDelta(exp))) throw new SyntaxFault('bad expires parameter');
      }
      if (list.length > 1 && list.some((c) => c.wildcard)) throw new SyntaxFault('* mixed with other contacts');
    });
  }
  // Max-Forwards = 1*DIGIT, 0-255 (§20.22)
  if (maxForwards !== undefined && (!isDigits(maxForwards) || maxForwards.length > 10 || Number(maxForwards) > 255)) {
    throw new Fault('Bad Max-Forwards header');
  }
  if (expires !== undefined && !isDelta(expires)) throw new Fault('Bad Expires header');
  // §20.16: the CSeq method MUST match the method of the request
  if (method !== undefined && cseq.method !== method) throw new Fault('CSeq method does not match Request-Line');
  return bodyLength;
}
