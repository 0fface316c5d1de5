import { TOKEN, TRIM_WS } from './charset.js';

/**
 * Zero-allocation scanners over a byte range [i, end) of a message buffer (header text is latin1,
 * one byte per character). The parse-time checkers use them to test the grammar of a header
 * without slicing strings or building objects. Each returns an index; -1 means "not valid here".
 */

/** Skips SP / HTAB (the LWS left once folding is undone). */
export function wsEnd(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i]!;
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

/** First index in [i, end) that String.prototype.trim() would keep. */
export function trimStart(b: Uint8Array, i: number, end: number): number {
  const ws = TRIM_WS;
  while (i < end && ws[b[i]!] === 1) i++;
  return i;
}

/** End of [start, end) once what String.prototype.trim() removes is cut off the right. */
export function trimEnd(b: Uint8Array, start: number, end: number): number {
  const ws = TRIM_WS;
  while (end > start && ws[b[end - 1]!] === 1) end--;
  return end;
}

/** End of the token starting at i (i itself when there is none). */
export function tokenEnd(b: Uint8Array, i: number, end: number): number {
  const token = TOKEN;
  while (i < end && token[b[i]!] === 1) i++;
  return i;
}

/**
 * quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE (RFC 3261 §25.1) with the opening quote
 * at i: the index after the closing quote, or -1 when unterminated. Same rule as params.scanQuoted.
 */
export function quotedEnd(b: Uint8Array, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = b[i]!;
    if (c === 92 /* \ */) i += 2;
    else if (c === 34 /* " */) return i + 1;
    else i++;
  }
  return -1;
}

/** Index of byte c in [i, end), or -1. (Buffer#indexOf is a native call: slower on short ranges.) */
export function byteIndex(b: Uint8Array, c: number, i: number, end: number): number {
  for (; i < end; i++) if (b[i] === c) return i;
  return -1;
}

/**
 * Whether the bytes from i spell `lower` in any case (the caller has checked there are enough).
 * `c | 0x20` lower-cases a letter; for the names compared here (letters and "-") no other byte a
 * name may hold maps onto one of their characters, except CR onto "-", which no caller passes.
 */
export function nameIs(b: Uint8Array, i: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) if ((b[i + k]! | 0x20) !== lower.charCodeAt(k)) return false;
  return true;
}

/** The value of the decimal digits [i, end), or -1 when the range is empty or holds a non-digit. */
export function decimal(b: Uint8Array, i: number, end: number): number {
  if (i >= end) return -1;
  let v = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

