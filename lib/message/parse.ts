import type { PartialHeaders } from '../errors.js';
import { SipParseError } from '../errors.js';
import { isDigits, isToken } from './charset.js';
import { scanSipUri } from './check-uri.js';
import { Fault, MAX_HEADERS, MAX_MESSAGE } from './fault.js';
import { LIST_HEADERS } from './header-names.js';
import { Marks } from './marks.js';
import type { HeaderEntry } from './header-entry.js';
import { SipRequest, SipResponse } from './message.js';
import { SyntaxFault } from './params.js';
import { tokenEnd } from './scan.js';
import { BAIL, splitHeaders } from './split.js';
import { parseUriText } from './uri.js';
import { NO_LENGTH, UNSURE, quickValidate } from './validate.js';
import { fullValidate } from './validate-full.js';

export { MAX_HEADERS, MAX_MESSAGE };

/**
 * The bytes as latin1 text. Buffer#latin1Slice is what toString('latin1') ends in, without the
 * encoding lookup and argument checks on the way (~30 ns a message); it is not in Node's
 * documented API, so toString stands in where a Node lacks it.
 */
const latin1: (b: Buffer) => string =
  typeof (Buffer.prototype as { latin1Slice?: unknown }).latin1Slice === 'function'
    ? (b) => (b as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(0, b.length)
    : (b) => b.toString('latin1');

function partial(headers: HeaderEntry[]): PartialHeaders {
  const p: PartialHeaders = { via: [] };
  for (const h of headers) {
    switch (h.key) {
      case 'via':
        p.via.push(h.value);
        break;
      case 'from':
        p.from ??= h.value;
        break;
      case 'to':
        p.to ??= h.value;
        break;
      case 'call-id':
        p.callId ??= h.value;
        break;
      case 'cseq':
        p.cseq ??= h.value;
        break;
    }
  }
  return p;
}

/**
 * Parses one SIP message from a datagram (RFC 3261 §7). Returns a SipRequest or SipResponse, or
 * throws SipParseError with the status a server should answer (400, or 505 for an unsupported
 * version) and whatever could be read of Via, From, To, Call-ID and CSeq to build that answer.
 *
 * The start line, framing and the headers every element reads (Via, From, To, Call-ID, CSeq,
 * Contact, Max-Forwards, Expires, Content-Length) are validated here (validate.ts), reading the
 * bytes in place; the parsed views (via, from, uri...) are built when first read.
 */
export function parse(input: Buffer | string): SipRequest | SipResponse {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (buf.length > MAX_MESSAGE) throw new SipParseError('Message Too Large', { status: 513 });

  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  let start = 0;
  while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;

  // The whole datagram as latin1 text (one character per byte, so text and byte indices agree):
  // header names and values are slices of it.
  const s = latin1(buf);
  let lineEnd = s.indexOf('\n', start);
  if (lineEnd === -1) lineEnd = buf.length;
  const headers: HeaderEntry[] = [];
  let bodyStart = BAIL;
  let startEnd = lineEnd - 1;
  // the start line ends in CRLF (and not CR CRLF): splitHeaders finds the end of the headers itself
  if (lineEnd < buf.length && buf[startEnd] === 13 && buf[startEnd - 1] !== 13) bodyStart = split(s, buf, lineEnd + 1, -1, headers, start, startEnd);
  if (bodyStart === BAIL) {
    // the header section ends at the first empty line: CRLF CRLF, else LF LF
    let headEnd = s.indexOf('\r\n\r\n', start);
    if (headEnd !== -1) bodyStart = headEnd + 4;
    else {
      headEnd = s.indexOf('\n\n', start);
      if (headEnd !== -1) bodyStart = headEnd + 2;
      else {
        headEnd = buf.length;
        bodyStart = buf.length;
      }
    }
    if (lineEnd > headEnd) lineEnd = headEnd;
    startEnd = lineEnd > start && buf[lineEnd - 1] === 13 ? lineEnd - 1 : lineEnd;
    headers.length = 0;
    split(s, buf, lineEnd + 1, headEnd, headers, start, startEnd);
  }
  const isResponse = isStatusLine(buf, start, startEnd);
  const isRequest = !isResponse;

  try {
    const msg = isResponse ? parseStatusLine(s, buf, start, startEnd) : parseRequestLine(s, buf, start, startEnd);
    const method = msg.isRequest ? msg.method : undefined;
    const available = buf.length - bodyStart;
    const marks = new Marks();
    let length = quickValidate(headers, buf, available, method, marks);
    const checked = length !== UNSURE;
    if (!checked) length = fullValidate(headers, available, method);
    const bodyEnd = length === NO_LENGTH ? buf.length : bodyStart + length;
    // an unchanged message serializes to the bytes it came from, when those carry a right Content-Length
    const raw = length !== NO_LENGTH && start === 0 && bodyEnd === buf.length ? buf : undefined;
    msg._parsed(headers, buf, bodyStart, bodyEnd, checked ? marks : undefined, raw);
    return msg;
  } catch (e) {
    if (e instanceof Fault) throw new SipParseError(e.reason, { status: e.status, isRequest, headers: partial(headers) });
    throw e;
  }
}

/** "SIP/" in any case starts a Status-Line (§7.2). */
function isStatusLine(b: Uint8Array, start: number, end: number): boolean {
  return end - start >= 4 && (b[start]! | 0x20) === 0x73 && (b[start + 1]! | 0x20) === 0x69 && (b[start + 2]! | 0x20) === 0x70 && b[start + 3] === 47;
}

/** splitHeaders, its faults thrown as SipParseError. */
function split(s: string, b: Uint8Array, pos: number, headEnd: number, out: HeaderEntry[], start: number, startEnd: number): number {
  try {
    return splitHeaders(s, b, pos, headEnd, out);
  } catch (e) {
    if (e instanceof Fault) {
      throw new SipParseError(e.reason, { status: e.status, isRequest: !isStatusLine(b, start, startEnd), headers: partial(out) });
    }
    throw e;
  }
}

/**
 * Request-Line = Method SP Request-URI SP SIP-Version (§7.1) in s[start, end). The usual shape
 * (a token method, a SIP URI that scanSipUri accepts, "SIP/2.0") is checked on the bytes;
 * anything else goes through requestLine, which decides and names the fault.
 */
function parseRequestLine(s: string, b: Uint8Array, start: number, end: number): SipRequest {
  const sp1 = tokenEnd(b, start, end);
  const sp2 = s.indexOf(' ', sp1 + 1);
  if (
    sp1 > start && b[sp1] === 32 && sp2 !== -1 && sp2 < end &&
    s.startsWith('SIP/2.0', sp2 + 1) && sp2 + 8 === end &&
    scanSipUri(b, sp1 + 1, sp2) === sp2
  ) {
    const req = new SipRequest({ method: s.slice(start, sp1), uri: s.slice(sp1 + 1, sp2) });
    req._checkedUri();
    return req;
  }
  return requestLine(s.slice(start, end));
}

/** The Request-Line rules in full, faults named. */
function requestLine(line: string): SipRequest {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1) throw new Fault('Malformed Request-Line');
  const method = line.slice(0, sp1);
  const uriText = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  checkVersion(version);
  if (!isToken(method)) throw new Fault('Bad method in Request-Line');
  if (uriText.length === 0 || /\s/.test(uriText) || /\s/.test(method)) {
    throw new Fault('Malformed Request-Line (extra whitespace)');
  }
  let uri;
  try {
    uri = parseUriText(uriText);
  } catch (e) {
    if (e instanceof SyntaxFault) throw new Fault(`Bad Request-URI: ${e.message}`);
    throw e;
  }
  // §19.1.1 (table of where URI components may appear): headers are not allowed in a Request-URI
  if (Object.keys(uri.headers).length > 0) throw new Fault('Bad Request-URI: headers are not allowed in a Request-URI');
  return new SipRequest({ method, uri: uriText });
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; anything but 2.0 is answered 505 (§8.2.2... §21.5.6). */
function checkVersion(version: string): void {
  if (version === 'SIP/2.0') return;
  const m = /^SIP\/(\d+)\.(\d+)$/i.exec(version);
  if (m === null) throw new Fault(`Bad SIP version: ${version.slice(0, 20)}`);
  if (Number(m[1]) !== 2 || Number(m[2]) !== 0) throw new Fault('Version Not Supported', 505);
}

/**
 * Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2) in s[start, end). The usual
 * shape ("SIP/2.0", a code 100-699, SP and the reason, or nothing) is read from the bytes;
 * anything else goes through statusLine, which decides and names the fault.
 */
function parseStatusLine(s: string, b: Uint8Array, start: number, end: number): SipResponse {
  const c = start + 8;
  if (end >= c + 3 && s.startsWith('SIP/2.0 ', start) && b[c]! >= 49 && b[c]! <= 54 && isDigit(b[c + 1]!) && isDigit(b[c + 2]!) && (end === c + 3 || b[c + 3] === 32)) {
    const status = (b[c]! - 48) * 100 + (b[c + 1]! - 48) * 10 + (b[c + 2]! - 48);
    return new SipResponse({ status, reason: end === c + 3 ? '' : s.slice(c + 4, end) });
  }
  return statusLine(s.slice(start, end));
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The Status-Line rules in full, faults named; an empty reason is tolerated. */
function statusLine(line: string): SipResponse {
  const sp1 = line.indexOf(' ');
  if (sp1 === -1) throw new Fault('Malformed Status-Line');
  checkVersion(line.slice(0, sp1));
  let sp2 = line.indexOf(' ', sp1 + 1);
  if (sp2 === -1) sp2 = line.length;
  const code = line.slice(sp1 + 1, sp2);
  if (code.length !== 3 || !isDigits(code) || code.charCodeAt(0) < 49 /* 1 */ || code.charCodeAt(0) > 54 /* 6 */) {
    throw new Fault(`Bad status code: ${code.slice(0, 20)}`);
  }
  return new SipResponse({ status: Number(code), reason: line.slice(sp2 + 1) });
}

export { LIST_HEADERS };
