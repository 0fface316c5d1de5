/**
 * Character classes of RFC 3261 §25.1 as lookup tables, so the scanners test a character with one
 * array read instead of a regular expression. The tables have 256 entries (the upper half zero) so
 * a latin1 byte indexes them directly; code that reads JavaScript strings still checks c < 128.
 */
function table(chars: string, ranges: Array<[string, string]> = []): Uint8Array {
  const t = new Uint8Array(256);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  for (const [from, to] of ranges) {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c++) t[c] = 1;
  }
  return t;
}

const ALNUM: Array<[string, string]> = [['a', 'z'], ['A', 'Z'], ['0', '9']];

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const TOKEN = table("-.!%*_+`'~", ALNUM);
/** word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" ) (Call-ID) */
export const WORD = table('-.!%*_+`\'~()<>:\\"/[]?{}', ALNUM);
/** unreserved / user-unreserved / escaped-start: characters allowed in the user part. */
export const USER = table("-_.!~*'()&=+$,;?/%", ALNUM);
/** password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ) */
export const PASSWORD = table("-_.!~*'()&=+$,%", ALNUM);
/** paramchar = param-unreserved / unreserved / escaped (URI parameters). */
export const URI_PARAM = table("[]/:&+$-_.!~*'()%", ALNUM);
/** hnv-unreserved / unreserved / escaped (URI headers). */
export const URI_HEADER = table("[]/?:+$-_.!~*'()%", ALNUM);
/** hostname characters (alphanum, "-", "."), plus what IPv4 needs. */
export const HOST = table('-.', ALNUM);
/** What a display-name of words holds (§25.1: *(token LWS)): token characters, SP and HTAB. */
export const DISPLAY_WORDS = table("-.!%*_+`'~ \t", ALNUM);
/** gen-value characters outside quotes: token plus what host needs (":" and IPv6 brackets). */
export const PARAM_VALUE = table("-.!%*_+`'~:[]", ALNUM);
/** HEXDIG, for %HH escapes. */
export const HEX = table('', [['0', '9'], ['a', 'f'], ['A', 'F']]);
/**
 * What String.prototype.trim() removes, among latin1 characters (TAB, LF, VT, FF, CR, SP, NBSP).
 * Header values are trimmed with trim(), so the byte scanners trim with the same set.
 */
export const TRIM_WS = new Uint8Array(256);
for (const c of [9, 10, 11, 12, 13, 32, 160]) TRIM_WS[c] = 1;

/** Whether String#trim keeps byte c (TRIM_WS without a table: all of it is at most 32 but NBSP). */
export function keptByTrim(c: number): boolean {
  return c > 32 && c !== 160;
}

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

export function allIn(s: string, t: Uint8Array): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || t[c] === 0) return false;
  }
  return true;
}

export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** LWS characters as they appear after unfolding: SP and HTAB. */
export function isWsp(c: number): boolean {
  return c === 32 || c === 9;
}

/** Skips SP/HTAB from index i. */
export function skipWs(s: string, i: number): number {
  while (i < s.length && isWsp(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Decodes %HH escapes (RFC 3261 §19.1.2). A malformed escape returns undefined so the caller can
 * reject the URI.
 */
export function unescape(s: string): string | undefined {
  if (s.indexOf('%') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

/** Escapes every character of s that is not in the allowed table (used when serializing URIs). */
export function escape(s: string, allowed: Uint8Array): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128 && allowed[c] === 1 && c !== 37 /* % */) out += s[i];
    else out += '%' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
  }
  return out;
}
