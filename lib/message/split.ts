import { TOKEN, isToken, keptByTrim } from './charset.js';
import { Fault, MAX_HEADERS } from './fault.js';
import { headerKey } from './header-names.js';
import { KNOWN_KEYS, KNOWN_LENGTHS, KNOWN_SPELLINGS, RESPELLED, knownHeader, spelledHeaderAt } from './known-headers.js';
import { HeaderEntry } from './header-entry.js';
import { trimEnd, trimStart, wsEnd } from './scan.js';

/**
 * Where each header value lies in the message bytes, by index in the header list, for the
 * parse-time checks (validate.ts) to read the bytes without slicing. Start is -1 when the value
 * was unfolded (§7.3.1) and so is not one range of the bytes. Module state, rewritten by every
 * parse: parsing is synchronous, so no two parses interleave.
 */
export const valueStart = new Int32Array(MAX_HEADERS);
export const valueEnd = new Int32Array(MAX_HEADERS);
/** The index in known-headers.KNOWN_KEYS of each header's name, or -1. */
export const knownIndex = new Int32Array(MAX_HEADERS);

/** splitHeaders could not find the end of the header section on its own: see there. */
export const BAIL = -1;

/**
 * Splits the header lines of a message into name/value fields (RFC 3261 §7.3), from `pos` (the
 * line after the start line): `s` is the message as latin1 text and `b` its bytes, at the same
 * indices. A line starting with SP or HTAB continues the previous one (§7.3.1). Values are
 * trimmed as String#trim trims.
 *
 * With `headEnd` given, the header section is [pos, headEnd) and the result is headEnd. With
 * headEnd -1, the section ends at the first empty line, and the result is where the body starts.
 * That walk stands for parse's rule (the section ends at the first CRLF CRLF, else the first
 * LF LF) only while every line ends in a single CRLF: at an LF-only empty line, or a line ending
 * in CR CR LF, it returns BAIL, and the caller finds the end by the rule and splits again.
 */
export function splitHeaders(s: string, b: Uint8Array, pos: number, headEnd: number, out: HeaderEntry[]): number {
  const findEnd = headEnd === -1;
  const limit = findEnd ? b.length : headEnd;
  while (pos < limit) {
    let end = s.indexOf('\n', pos);
    if (end === -1 || end > limit) end = limit;
    const lineEnd = b[end - 1] === 13 ? end - 1 : end;
    if (findEnd) {
      // the empty line: CRLF after a line ending in CRLF (b[pos - 1] is that line's LF)
      if (lineEnd === pos) return end < limit && b[pos] === 13 && b[pos - 2] === 13 ? end + 1 : BAIL;
      if (b[lineEnd - 1] === 13) return BAIL;
    }
    const c0 = b[pos];
    if (c0 === 32 || c0 === 9) {
      unfold(s, pos, lineEnd, out);
      pos = end + 1;
      continue;
    }
    let name: string;
    let key: string;
    // the usual line: a name natter knows, spelled as natter spells it, with the ":" right after it.
    // Those bytes equal a token's, so they need no scan of their own.
    let known = spelledHeaderAt(b, pos, lineEnd);
    let colon = known === -1 ? -1 : pos + KNOWN_LENGTHS[known]!;
    if (known !== -1) {
      name = KNOWN_SPELLINGS[known]!;
      key = KNOWN_KEYS[known]!;
    } else {
      // header-name = token, then HCOLON = *( SP / HTAB ) ":" SWS
      let nameEnd = pos;
      while (nameEnd < lineEnd && TOKEN[b[nameEnd]!] === 1) nameEnd++;
      colon = wsEnd(b, nameEnd, lineEnd);
      known = -1;
      if (nameEnd > pos && colon < lineEnd && b[colon] === 58 /* : */) {
        known = knownHeader(b, pos, nameEnd);
        if (known === -1) {
          name = s.slice(pos, nameEnd);
          key = headerKey(name);
        } else {
          if (known >= RESPELLED) known -= RESPELLED;
          name = s.slice(pos, nameEnd);
          key = KNOWN_KEYS[known]!;
        }
      } else {
        colon = s.indexOf(':', pos);
        name = oddName(s, b, pos, colon, lineEnd);
        key = headerKey(name);
      }
    }
    // the usual value: one SP after the colon, and no whitespace at either end of it
    let vs = colon + 1;
    if (vs + 1 < lineEnd && b[vs] === 32 && keptByTrim(b[vs + 1]!)) vs++;
    else vs = trimStart(b, vs, lineEnd);
    const ve = keptByTrim(b[lineEnd - 1]!) ? lineEnd : trimEnd(b, vs, lineEnd);
    const n = out.length;
    if (n >= MAX_HEADERS) throw new Fault('Too many headers');
    valueStart[n] = vs;
    valueEnd[n] = ve;
    knownIndex[n] = known;
    out.push(HeaderEntry._parsed(name, s, vs, ve, key));
    pos = end + 1;
  }
  return limit;
}

/** A continuation line: appended to the previous value after one space (§7.3.1). */
function unfold(s: string, pos: number, lineEnd: number, out: HeaderEntry[]): void {
  const last = out.length - 1;
  if (last < 0) throw new Fault('Continuation line before any header');
  const h = out[last]!;
  out[last] = new HeaderEntry(h.name, h.value + ' ' + s.slice(pos, lineEnd).trim(), h.key);
  valueStart[last] = -1;
}

/**
 * The name of a line that is not `token *WSP ":"`: a fault, or a name followed by other
 * whitespace that trimEnd removes.
 */
function oddName(s: string, b: Uint8Array, pos: number, colon: number, lineEnd: number): string {
  if (colon === -1 || colon >= lineEnd || colon === pos) {
    throw new Fault(lineEnd === pos ? 'Empty line in headers' : `Header without colon: ${s.slice(pos, Math.min(lineEnd, pos + 40))}`);
  }
  let name = s.slice(pos, colon);
  if (b[colon - 1] === 32 || b[colon - 1] === 9) name = name.trimEnd();
  if (!isToken(name)) throw new Fault(`Bad header name: ${name.slice(0, 40)}`);
  return name;
}
