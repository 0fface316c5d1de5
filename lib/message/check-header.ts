import { DISPLAY_WORDS, PARAM_VALUE, WORD, isWsp } from './charset.js';
import { scanHostPort, scanSipUri, uriFound } from './check-uri.js';
import type { UriLayout } from './marks.js';
import { MAX_UINT32 } from './fault.js';
import { byteIndex, decimal, nameIs, quotedEnd, tokenEnd, trimStart, wsEnd } from './scan.js';

/**
 * Parse-time header checks over bytes, allocating nothing. Like check-uri.ts they answer
 * "certainly valid" or not (false, -1), and "not" sends the caller to the full parsers
 * (via.parseVia, name-addr.parseNameAddr, cseq.parseCSeq...), which decide and name the fault.
 * Each check accepts only what its full parser accepts, rule for rule.
 *
 * The scanners of list elements (Via, Contact) return where the element stops: the value ends
 * there or a "," starts the next element. Their grammar holds no "," outside quoted strings and
 * angle brackets, so that comma is the one params.splitList splits at.
 */

/** What checkParams verifies beyond the generic grammar. */
export const PLAIN = 0;
/** Via (RFC 3261 §20.42, RFC 3581): rport, when it has a value, is a port; ttl is 0-255. */
export const VIA = 1;
/** Contact (§20.10): expires is delta-seconds. */
export const CONTACT = 2;


/**
 * What the last scan saw that the views read first, as byte offsets, valid until the next scan:
 * the value of the last tag (name-addr) or branch (Via) parameter (start -1 when absent or without
 * a value), a CSeq's number and where its method starts, and where a name-addr's URI lies (the
 * parts of that URI are in check-uri's `uriFound`). validate.ts keeps them for the message
 * (marks.ts) so its views need not scan for them again. Module state, like split.ts's value
 * ranges: parsing is synchronous.
 */
export const found = { paramStart: -1, paramEnd: -1, seq: 0, methodStart: 0, uriStart: 0, uriEnd: 0 };

/** The layout of the URI the last scanNameAddr accepted, as offsets from `base` (a header value's start). */
export function markedUri(base: number): UriLayout {
  const u = uriFound;
  return {
    uriStart: found.uriStart - base,
    uriEnd: found.uriEnd - base,
    colon: u.colon - base,
    hostStart: u.hostStart - base,
    hostEnd: u.hostEnd - base,
    port: u.port,
    paramsAt: u.paramsAt === -1 ? -1 : u.paramsAt - base,
    passwordColon: u.passwordColon === -1 ? -1 : u.passwordColon - base,
    escaped: u.escaped,
  };
}

/**
 * *( SEMI generic-param ) from i (RFC 3261 §25.1: generic-param = token [ EQUAL gen-value ],
 * gen-value = token / host / quoted-string), the grammar of params.parseParams. Returns the index
 * where the list stops (after trailing whitespace), or -1. The checks of `kind` apply to the last
 * occurrence of a name, as the parsed map keeps the last one.
 */
export function checkParams(b: Uint8Array, i: number, end: number, kind: number): number {
  // value bounds of the last rport / ttl (Via) or expires (Contact): start -2 = absent, -1 = no value
  let aStart = -2;
  let aEnd = 0;
  let bStart = -2;
  let bEnd = 0;
  const valueChars = PARAM_VALUE;
  found.paramStart = -1;
  // whitespace around ";" and "=" is rare: it is skipped only where a SP or HTAB is (isWsp)
  for (;;) {
    if (i < end && isWsp(b[i]!)) i = wsEnd(b, i, end);
    if (i >= end || b[i] !== 59 /* ; */) break;
    i++;
    if (i < end && isWsp(b[i]!)) i = wsEnd(b, i, end);
    const nameStart = i;
    i = tokenEnd(b, i, end);
    const length = i - nameStart;
    if (length === 0) return -1;
    if (i < end && isWsp(b[i]!)) i = wsEnd(b, i, end);
    let valueStart = -1;
    if (i < end && b[i] === 61 /* = */) {
      i++;
      if (i < end && isWsp(b[i]!)) i = wsEnd(b, i, end);
      valueStart = i;
      if (i < end && b[i] === 34 /* " */) {
        i = quotedEnd(b, i, end);
        if (i === -1) return -1;
      } else {
        while (i < end && valueChars[b[i]!] === 1) i++;
      }
      if (i === valueStart) return -1;
    }
    // the names checked, told apart by length first (most parameters are none of them)
    if (kind === VIA) {
      if (length === 5 && nameIs(b, nameStart, 'rport')) (aStart = valueStart), (aEnd = i);
      else if (length === 3 && nameIs(b, nameStart, 'ttl')) (bStart = valueStart), (bEnd = i);
      else if (length === 6 && nameIs(b, nameStart, 'branch')) (found.paramStart = valueStart), (found.paramEnd = i);
    } else if (length === 3 && nameIs(b, nameStart, 'tag')) (found.paramStart = valueStart), (found.paramEnd = i);
    else if (kind === CONTACT && length === 7 && nameIs(b, nameStart, 'expires')) (aStart = valueStart), (aEnd = i);
  }
  if (kind === VIA) {
    // rport = port when it has a value (RFC 3581 §3); ttl = 1*3DIGIT, 0-255 (§25.1)
    if (aStart >= 0 && !inRange(b, aStart, aEnd, 65535)) return -1;
    if (bStart !== -2 && !(bStart >= 0 && inRange(b, bStart, bEnd, 255))) return -1;
  } else if (kind === CONTACT && aStart !== -2) {
    // delta-seconds (§25.1): an unsigned 32-bit decimal of at most 10 digits
    if (aStart === -1 || aEnd - aStart > 10 || !inRange(b, aStart, aEnd, MAX_UINT32)) return -1;
  }
  return i;
}

/** Whether [start, end) is a decimal number (any number of digits) of at most max. */
function inRange(b: Uint8Array, start: number, end: number, max: number): boolean {
  const v = decimal(b, start, end);
  return v >= 0 && v <= max;
}

/**
 * via-parm = sent-protocol LWS sent-by *( SEMI via-params ) (RFC 3261 §20.42, §25.1), one element
 * of a Via list, from i. sent-protocol = "SIP" SLASH token SLASH token; sent-by here is a hostname
 * or IPv4 address with an optional port; an IPv6 reference or whitespace around the port's colon
 * gives -1 (parseVia reads those). Returns where the element stops (after trailing whitespace:
 * the end, or the "," before the next element), or -1.
 */
export function scanVia(b: Uint8Array, i: number, end: number): number {
  i = wsEnd(b, i, end);
  let t: number;
  if (i + 8 < end && nameIs(b, i, 'sip') && b[i + 3] === 47 && b[i + 4] === 50 && b[i + 5] === 46 && b[i + 6] === 48 && b[i + 7] === 47) {
    // "SIP/2.0/" written without whitespace, the usual case
    t = tokenEnd(b, i + 8, end);
    if (t === i + 8) return -1;
  } else {
    t = tokenEnd(b, i, end);
    if (t - i !== 3 || !nameIs(b, i, 'sip')) return -1;
    for (let k = 0; k < 2; k++) {
      i = wsEnd(b, t, end);
      if (i === end || b[i] !== 47 /* / */) return -1;
      i = wsEnd(b, i + 1, end);
      t = tokenEnd(b, i, end);
      if (t === i) return -1;
    }
  }
  i = scanHostPort(b, wsEnd(b, t, end), end);
  if (i === -1) return -1;
  // sent-by ends at ";" or whitespace (parseVia's rule); a colon after whitespace is its odd case
  if (i < end && b[i] !== 59 && b[i] !== 32 && b[i] !== 9) return -1;
  const next = wsEnd(b, i, end);
  if (next < end && b[next] === 58) return -1;
  return checkParams(b, i, end, VIA);
}

/**
 * name-addr / addr-spec followed by header parameters (RFC 3261 §20.10, §25.1), from i, as
 * name-addr.parseNameAddr reads it: `"quoted" <uri>`, `token words <uri>`, `<uri>`, or a bare
 * addr-spec ending at ";", whitespace or ",". `kind` is PLAIN, or CONTACT (which allows `*` and
 * checks expires). Returns where the value stops (after trailing whitespace: the end, or the ","
 * before the next element of a list), or -1.
 */
export function scanNameAddr(b: Uint8Array, i: number, end: number, kind: number): number {
  i = wsEnd(b, i, end);
  if (i === end) return -1;
  if (b[i] === 42 /* * */ && kind === CONTACT) return checkParams(b, i + 1, end, kind);
  let lt: number;
  if (b[i] === 34 /* " */) {
    i = quotedEnd(b, i, end);
    if (i === -1) return -1;
    lt = wsEnd(b, i, end);
    if (lt === end || b[lt] !== 60 /* < */) return -1;
  } else {
    // display-name = *(token LWS) before the "<"
    lt = i;
    const words = DISPLAY_WORDS;
    while (lt < end && words[b[lt]!] === 1) lt++;
    if (lt === end || b[lt] !== 60) {
      // an addr-spec, unless a "<" comes later (a display name with other characters: parseNameAddr decides)
      if (byteIndex(b, 60, lt, end) !== -1) return -1;
      // it ends at ";", whitespace or "," and holds no "?" (§20.10; "," ends a list element too)
      let uriEnd = i;
      while (uriEnd < end) {
        const c = b[uriEnd]!;
        if (c === 59 || c === 32 || c === 9 || c === 44) break;
        if (c === 63 /* ? */) return -1;
        uriEnd++;
      }
      if (scanSipUri(b, i, uriEnd) !== uriEnd) return -1;
      found.uriStart = i;
      found.uriEnd = uriEnd;
      return checkParams(b, uriEnd, end, kind);
    }
  }
  const gt = scanSipUri(b, lt + 1, end);
  if (gt === -1 || gt === end || b[gt] !== 62 /* > */) return -1;
  found.uriStart = lt + 1;
  found.uriEnd = gt;
  return checkParams(b, gt + 1, end, kind);
}

/**
 * CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16), the number a 32-bit unsigned value (§8.1.1.5);
 * for a request the method must be the request's (§20.16). Mirrors cseq.parseCSeq.
 */
export function checkCSeq(b: Uint8Array, i: number, end: number, method: string | undefined): boolean {
  let sp = i;
  while (sp < end && b[sp] !== 32 && b[sp] !== 9) sp++;
  if (sp - i > 10) return false;
  const seq = decimal(b, i, sp);
  if (seq < 0 || seq > MAX_UINT32) return false;
  const m = trimStart(b, sp, end);
  if (m === end || tokenEnd(b, m, end) !== end) return false;
  found.seq = seq;
  found.methodStart = m;
  if (method === undefined) return true;
  if (end - m !== method.length) return false;
  for (let k = 0; k < method.length; k++) if (b[m + k] !== method.charCodeAt(k)) return false;
  return true;
}

/** callid = word [ "@" word ] (RFC 3261 §25.1). */
export function checkCallId(b: Uint8Array, i: number, end: number): boolean {
  if (i === end) return false;
  const word = WORD;
  let at = -1;
  for (let k = i; k < end; k++) {
    const c = b[k]!;
    if (word[c] === 1) continue;
    if (c !== 64 /* @ */ || at !== -1 || k === i || k === end - 1) return false;
    at = k;
  }
  return true;
}
