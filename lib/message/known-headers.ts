import { COMPACT, canonicalName } from './header-names.js';

/**
 * Long names (lower case) the parser recognises from the bytes of a header line without building
 * the name's lower-case form or looking it up in a map (split.ts): the headers RFC 3261 defines,
 * plus common extensions. Any other name goes through header-names.headerKey.
 */
const COMMON = [
  'accept', 'accept-encoding', 'accept-language', 'alert-info', 'allow', 'allow-events', 'authentication-info',
  'authorization', 'call-id', 'call-info', 'contact', 'content-disposition', 'content-encoding',
  'content-language', 'content-length', 'content-type', 'cseq', 'date', 'error-info', 'event', 'expires', 'from',
  'in-reply-to', 'max-forwards', 'min-expires', 'mime-version', 'organization', 'p-asserted-identity',
  'p-preferred-identity', 'path', 'priority', 'proxy-authenticate', 'proxy-authorization', 'proxy-require', 'rack',
  'reason', 'record-route', 'refer-to', 'referred-by', 'reply-to', 'require', 'retry-after', 'route', 'rseq',
  'server', 'service-route', 'session-expires', 'subject', 'subscription-state', 'supported', 'timestamp', 'to',
  'unsupported', 'user-agent', 'via', 'warning', 'www-authenticate',
];

/** The header names the parser recognises from bytes (each COMMON name and compact form) and their keys. */
const KNOWN_NAMES = [...COMMON, ...Object.keys(COMPACT)];
export const KNOWN_KEYS: readonly string[] = KNOWN_NAMES.map((name) => COMPACT[name] ?? name);
/**
 * How natter spells each of KNOWN_NAMES (`Call-ID`, `v`): a name received in that very spelling
 * is held as this one shared string rather than a new slice of every message.
 */
export const KNOWN_SPELLINGS: readonly string[] = KNOWN_NAMES.map((name) => (name.length === 1 ? name : canonicalName(name)));

/**
 * Where a name of this length, first and last byte would sit in the lookup table. `c | 0x20`
 * lower-cases the letters of a token (and maps no other token character onto a letter or "-"),
 * so every spelling of a name has the same shape. Four bits of the length and five of each byte
 * are kept: at most two of the names share a shape.
 */
function shape(length: number, first: number, last: number): number {
  return ((length & 15) << 10) | (((first | 0x20) & 31) << 5) | ((last | 0x20) & 31);
}

// KNOWN_NAMES as a chained table by shape: SLOT[shape] is the first index, NEXT the rest (NONE
// ends a chain). The bytes of every name, lower-cased and as spelled, are in LOWER and SPELLED,
// name i at OFFSET[i].
const NONE = 255;
/** The length of each of KNOWN_NAMES, read from a byte table rather than from each string. */
export const KNOWN_LENGTHS = Uint8Array.from(KNOWN_NAMES, (name) => name.length);
if (KNOWN_NAMES.length >= NONE) throw new Error('known-headers: too many names for one-byte indices');
const SLOT = new Uint8Array(1 << 14).fill(NONE);
const NEXT = new Uint8Array(KNOWN_NAMES.length).fill(NONE);
const OFFSET = new Int32Array(KNOWN_NAMES.length);
const LOWER = Buffer.from(KNOWN_NAMES.join(''), 'latin1');
const SPELLED = Buffer.from(KNOWN_SPELLINGS.join(''), 'latin1');
let offset = 0;
for (let i = 0; i < KNOWN_NAMES.length; i++) {
  const name = KNOWN_NAMES[i]!;
  const at = shape(name.length, name.charCodeAt(0), name.charCodeAt(name.length - 1));
  NEXT[i] = SLOT[at]!;
  SLOT[at] = i;
  OFFSET[i] = offset;
  offset += name.length;
}

/** knownHeader's answer for a name spelled otherwise than KNOWN_SPELLINGS: the index plus this. */
export const RESPELLED = KNOWN_NAMES.length;

/**
 * The index in KNOWN_KEYS of the header name in bytes [start, end) (token characters, at least
 * one) when it is spelled as in KNOWN_SPELLINGS; that index plus RESPELLED when it
 * is the same name in other case; -1 when it is none of KNOWN_NAMES.
 */
export function knownHeader(b: Uint8Array, start: number, end: number): number {
  const length = end - start;
  next: for (let i = SLOT[shape(length, b[start]!, b[end - 1]!)]!; i !== NONE; i = NEXT[i]!) {
    if (KNOWN_LENGTHS[i] !== length) continue;
    const at = OFFSET[i]!;
    let exact = true;
    for (let k = 0; k < length; k++) {
      const c = b[start + k]!;
      if (c === SPELLED[at + k]) continue;
      if ((c | 0x20) !== LOWER[at + k]) continue next;
      exact = false;
    }
    return exact ? i : i + RESPELLED;
  }
  return -1;
}

// KNOWN_SPELLINGS chained by their first two bytes (a one-letter compact name with the ":" after
// it), for spelledHeaderAt: the header line need not be searched for its ":" first.
const SLOT2 = new Uint8Array(1 << 14).fill(NONE);
const NEXT2 = new Uint8Array(KNOWN_NAMES.length).fill(NONE);
const pairOf = (b0: number, b1: number): number => ((b0 & 127) << 7) | (b1 & 127);
for (let i = KNOWN_NAMES.length - 1; i >= 0; i--) {
  const spelled = KNOWN_SPELLINGS[i]!;
  const at = pairOf(spelled.charCodeAt(0), spelled.length === 1 ? 58 : spelled.charCodeAt(1));
  NEXT2[i] = SLOT2[at]!;
  SLOT2[at] = i;
}

/**
 * The index in KNOWN_KEYS of the header name at `pos` when it is spelled exactly as in
 * KNOWN_SPELLINGS and a ":" follows it at once (before lineEnd), else -1: then the caller finds
 * the name's end itself, and knownHeader reads it.
 */
export function spelledHeaderAt(b: Uint8Array, pos: number, lineEnd: number): number {
  if (pos + 1 >= lineEnd) return -1;
  const spelled = SPELLED;
  const lengths = KNOWN_LENGTHS;
  next: for (let i = SLOT2[pairOf(b[pos]!, b[pos + 1]!)]!; i !== NONE; i = NEXT2[i]!) {
    const length = lengths[i]!;
    if (pos + length >= lineEnd || b[pos + length] !== 58 /* : */) continue;
    const at = OFFSET[i]!;
    for (let k = 2; k < length; k++) if (b[pos + k] !== spelled[at + k]) continue next;
    return i;
  }
  return -1;
}
