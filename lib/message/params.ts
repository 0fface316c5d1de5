import type { Params } from './types.js';
import { TOKEN, skipWs } from './charset.js';

/**
 * A syntax fault inside one header value. The parser turns it into a SipParseError whose reason
 * names the header ("Bad Via: ...").
 */
export class SyntaxFault extends Error {}

/** Scans a token starting at i; returns its end index (i when there is none). */
export function scanToken(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) break;
    i++;
  }
  return i;
}

/**
 * Scans a quoted-string (RFC 3261 §25.1: DQUOTE *(qdtext / quoted-pair) DQUOTE) whose opening
 * quote is at i; returns the index after the closing quote.
 */
export function scanQuoted(s: string, i: number): number {
  i++;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 92 /* \ */) {
      i += 2;
      continue;
    }
    if (c === 34 /* " */) return i + 1;
    i++;
  }
  throw new SyntaxFault('unterminated quoted string');
}

/** Removes the quotes and quoted-pair escapes of a quoted-string. */
export function unquote(q: string): string {
  if (q.length < 2 || q.charCodeAt(0) !== 34) return q;
  const inner = q.slice(1, -1);
  return inner.indexOf('\\') === -1 ? inner : inner.replace(/\\(.)/g, '$1');
}

/** Quotes a string for use as a quoted-string. */
export function quote(s: string): string {
  return '"' + s.replace(/(["\\])/g, '\\$1') + '"';
}

function isValueChar(c: number): boolean {
  // token characters plus what host (IPv6 references), and gen-value need.
  return (c < 128 && TOKEN[c] === 1) || c === 58 /* : */ || c === 91 /* [ */ || c === 93 /* ] */;
}

/**
 * Parses header parameters `*( SEMI generic-param )` starting at s[i] (RFC 3261 §25.1:
 * generic-param = token [ EQUAL gen-value ], gen-value = token / host / quoted-string).
 * Stops at a comma or the end of the value. Quoted values keep their quotes so they serialize back
 * unchanged. Returns the index where scanning stopped.
 */
export function parseParams(s: string, i: number, into: Params): number {
  for (;;) {
    i = skipWs(s, i);
    if (i >= s.length || s.charCodeAt(i) !== 59 /* ; */) return i;
    i = skipWs(s, i + 1);
    const nameStart = i;
    i = scanToken(s, i);
    if (i === nameStart) throw new SyntaxFault('empty parameter name');
    const name = s.slice(nameStart, i).toLowerCase();
    i = skipWs(s, i);
    if (i < s.length && s.charCodeAt(i) === 61 /* = */) {
      i = skipWs(s, i + 1);
      const valueStart = i;
      if (s.charCodeAt(i) === 34) {
        i = scanQuoted(s, i);
      } else {
        while (i < s.length && isValueChar(s.charCodeAt(i))) i++;
      }
      if (i === valueStart) throw new SyntaxFault(`empty value for parameter ${name}`);
      into[name] = s.slice(valueStart, i);
    } else {
      into[name] = null;
    }
  }
}

/** The parameter map of `*( SEMI generic-param )` read from s[i]. Throws SyntaxFault. */
export function paramMap(s: string, i: number): Params {
  const params: Params = {};
  parseParams(s, i, params);
  return params;
}

/** Serializes a parameter map as `;name=value;flag`. */
export function formatParams(params: Params): string {
  let out = '';
  for (const name in params) {
    const v = params[name];
    out += v === null || v === undefined ? ';' + name : ';' + name + '=' + v;
  }
  return out;
}

/**
 * Splits a header value at top-level commas (RFC 3261 §7.3.1: a header whose grammar is a
 * comma-separated list may be written as several values in one field). Commas inside quotes,
 * angle brackets or a quoted-pair do not split.
 */
export function splitList(value: string): string[] {
  if (value.indexOf(',') === -1) return [value];
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 92) i++;
      else if (c === 34) inQuote = false;
    } else if (c === 34) inQuote = true;
    else if (c === 60) inAngle = true;
    else if (c === 62) inAngle = false;
    else if (c === 44 && !inAngle) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out;
}

/**
 * The value parseParams would store for `name` (lower case) reading s from i: the last
 * occurrence's value, null for a flag, undefined when absent. Only for text already checked
 * (check-header.checkParams): it reads without validating, and slices only the value it returns.
 */
export function findParam(s: string, i: number, name: string): string | null | undefined {
  let found: string | null | undefined;
  for (;;) {
    i = skipWs(s, i);
    if (i >= s.length || s.charCodeAt(i) !== 59 /* ; */) return found;
    i = skipWs(s, i + 1);
    const nameStart = i;
    i = scanToken(s, i);
    const match = sameName(s, nameStart, i, name);
    i = skipWs(s, i);
    if (i < s.length && s.charCodeAt(i) === 61 /* = */) {
      i = skipWs(s, i + 1);
      const valueStart = i;
      if (s.charCodeAt(i) === 34) i = scanQuoted(s, i);
      else while (i < s.length && isValueChar(s.charCodeAt(i))) i++;
      if (match) found = s.slice(valueStart, i);
    } else if (match) found = null;
  }
}

/** Whether token s[start, end) is `lower` in any case (`| 0x20` lower-cases the letters of a token, see scan.nameIs). */
function sameName(s: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) if ((s.charCodeAt(start + k) | 0x20) !== lower.charCodeAt(k)) return false;
  return true;
}
