import type { PartialHeaders } from '../errors.js';
import { SipParseError } from '../errors.js';
import { WORD, isDigits, isToken } from './charset.js';
import { LIST_HEADERS, SINGLE_HEADERS, canonicalName, headerKey, knownHeaderKey } from './header-names.js';
import { HeaderEntry, SipRequest, SipResponse } from './message.js';
import { parseNameAddr } from './name-addr.js';
import { SyntaxFault, splitList } from './params.js';
import { parseUriText } from './uri.js';
import { parseVia } from './via.js';
import { parseCSeq } from './cseq.js';
import type { NameAddr } from './name-addr.js';

/** delta-seconds and other 32-bit scalar fields (RFC 3261 §20.19: Expires up to 2**32-1). */
const MAX_DELTA = 4294967295;
/** Parser limits: a datagram is at most 65 535 bytes anyway; these bound work on hostile input. */
export const MAX_HEADERS = 512;
export const MAX_MESSAGE = 65535;


class Fault extends Error {
  constructor(
    readonly reason: string,
    readonly status = 400,
  ) {
    super(reason);
  }
}

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

/** Checks an unsigned 32-bit decimal (delta-seconds, §25.1). */
function isDelta(v: string): boolean {
  return isDigits(v) && v.length <= 10 && Number(v) <= MAX_DELTA;
}

/**
 * Parses one SIP message from a datagram (RFC 3261 §7). Returns a SipRequest or SipResponse, or
 * throws SipParseError with the status a server should answer (400, or 505 for an unsupported
 * version) and whatever could be read of Via, From, To, Call-ID and CSeq to build that answer.
 *
 * The start line, framing and the headers every element reads (Via, From, To, Call-ID, CSeq,
 * Contact, Max-Forwards, Expires, Content-Length) are validated here; other headers are kept raw
 * and parsed when read.
 */
export function parse(input: Buffer | string): SipRequest | SipResponse {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (buf.length > MAX_MESSAGE) throw new SipParseError('Message Too Large', { status: 513 });

  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  let start = 0;
  while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;

  // the header section ends at the first empty line
  let headEnd = buf.indexOf('\r\n\r\n', start, 'latin1');
  let bodyStart: number;
  if (headEnd !== -1) bodyStart = headEnd + 4;
  else {
    headEnd = buf.indexOf('\n\n', start, 'latin1');
    if (headEnd !== -1) bodyStart = headEnd + 2;
    else {
      headEnd = buf.length;
      bodyStart = buf.length;
    }
  }
  const head = buf.toString('latin1', start, headEnd);

  let lineEnd = head.indexOf('\n');
  if (lineEnd === -1) lineEnd = head.length;
  const startLine = head.charCodeAt(lineEnd - 1) === 13 ? head.slice(0, lineEnd - 1) : head.slice(0, lineEnd);
  const isResponse = startLine.length >= 4 && startLine.slice(0, 4).toUpperCase() === 'SIP/';
  const isRequest = !isResponse;

  const headers: HeaderEntry[] = [];
  try {
    splitHeaders(head, lineEnd + 1, headers);
  } catch (e) {
    if (e instanceof Fault) throw new SipParseError(e.reason, { status: e.status, isRequest, headers: partial(headers) });
    throw e;
  }

  try {
    const msg = isResponse ? parseStatusLine(startLine) : parseRequestLine(startLine);
    msg._headers = headers;
    validate(msg, buf, bodyStart, start);
    return msg;
  } catch (e) {
    if (e instanceof Fault) throw new SipParseError(e.reason, { status: e.status, isRequest, headers: partial(headers) });
    throw e;
  }
}

/** Splits header lines, undoing folding (§7.3.1: a line starting with SP or HTAB continues the previous one). */
function splitHeaders(head: string, pos: number, out: HeaderEntry[]): void {
  let name = '';
  let key = '';
  let value = '';
  let have = false;
  while (pos < head.length) {
    let end = head.indexOf('\n', pos);
    if (end === -1) end = head.length;
    const lineEnd = head.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const c0 = head.charCodeAt(pos);
    if (c0 === 32 || c0 === 9) {
      if (!have) throw new Fault('Continuation line before any header');
      value += ' ' + head.slice(pos, lineEnd).trim();
      pos = end + 1;
      continue;
    }
    if (have) out.push(new HeaderEntry(name, value, key));
    const colon = head.indexOf(':', pos);
    if (colon === -1 || colon >= lineEnd || colon === pos) {
      throw new Fault(lineEnd === pos ? 'Empty line in headers' : `Header without colon: ${head.slice(pos, Math.min(lineEnd, pos + 40))}`);
    }
    name = head.slice(pos, colon);
    // HCOLON = *( SP / HTAB ) ":" SWS
    const before = head.charCodeAt(colon - 1);
    if (before === 32 || before === 9) name = name.trimEnd();
    const known = knownHeaderKey(name);
    if (known !== undefined) key = known;
    else {
      if (!isToken(name)) throw new Fault(`Bad header name: ${name.slice(0, 40)}`);
      key = headerKey(name);
    }
    value = head.slice(colon + 1, lineEnd).trim();
    have = true;
    if (out.length >= MAX_HEADERS) throw new Fault('Too many headers');
    pos = end + 1;
  }
  if (have) out.push(new HeaderEntry(name, value, key));
}

/** Request-Line = Method SP Request-URI SP SIP-Version (§7.1): single spaces, nothing else. */
function parseRequestLine(line: string): SipRequest {
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
  const req = new SipRequest({ method, uri: uriText });
  req._setParsedUri(uriText, uri);
  return req;
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; anything but 2.0 is answered 505 (§8.2.2... §21.5.6). */
function checkVersion(version: string): void {
  const m = /^SIP\/(\d+)\.(\d+)$/i.exec(version);
  if (m === null) throw new Fault(`Bad SIP version: ${version.slice(0, 20)}`);
  if (Number(m[1]) !== 2 || Number(m[2]) !== 0) throw new Fault('Version Not Supported', 505);
}

/** Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2); an empty reason is tolerated. */
function parseStatusLine(line: string): SipResponse {
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

/**
 * One pass over the headers: presence of the mandatory ones, single-instance headers, the
 * body cut at Content-Length, and the parsed views of what every element reads (stored on the
 * message so reading them later costs nothing).
 */
function validate(msg: SipRequest | SipResponse, buf: Buffer, bodyStart: number, start: number): void {
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
  for (const h of msg._headers) {
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
  const available = buf.length - bodyStart;
  let bodyLength = available;
  if (length !== undefined) {
    if (!isDigits(length) || length.length > 10) throw new Fault(`Bad Content-Length: ${length.slice(0, 20)}`);
    bodyLength = Number(length);
    if (bodyLength > available) throw new Fault('Content-Length larger than message');
  }
  msg.body = bodyLength === available ? buf.subarray(bodyStart) : buf.subarray(bodyStart, bodyStart + bodyLength);

  const vias = field('Via', () => viaValues.map(parseVia));
  const fromView = field('From', () => parseNameAddr(from));
  const toView = field('To', () => parseNameAddr(to));
  const cseq = field('CSeq', () => parseCSeq(cseqText));
  // callid = word [ "@" word ] (§25.1)
  if (!isCallId(callId)) throw new Fault('Bad Call-ID header');
  let contacts: NameAddr[] | undefined;
  if (contactValues !== undefined) {
    const values = contactValues;
    contacts = field('Contact', () => {
      const list = values.map((v) => parseNameAddr(v, true));
      for (const c of list) {
        const exp = c.params['expires'];
        if (exp !== undefined && (exp === null || !isDelta(exp))) throw new SyntaxFault('bad expires parameter');
      }
      if (list.length > 1 && list.some((c) => c.wildcard)) throw new SyntaxFault('* mixed with other contacts');
      return list;
    });
  }
  // Max-Forwards = 1*DIGIT, 0-255 (§20.22)
  if (maxForwards !== undefined && (!isDigits(maxForwards) || maxForwards.length > 10 || Number(maxForwards) > 255)) {
    throw new Fault('Bad Max-Forwards header');
  }
  if (expires !== undefined && !isDelta(expires)) throw new Fault('Bad Expires header');
  // §20.16: the CSeq method MUST match the method of the request
  if (msg.isRequest && cseq.method !== msg.method) throw new Fault('CSeq method does not match Request-Line');
  msg._setViews(vias, fromView, toView, cseq, contacts);
  // an unchanged message serializes to the bytes it came from, when those carry a right Content-Length
  if (length !== undefined && start === 0 && bodyStart + bodyLength === buf.length) msg._raw = buf;
}
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

export { LIST_HEADERS };
