import { HEX, HOST, PASSWORD, URI_PARAM, USER } from './charset.js';
import { nameIs } from './scan.js';

/**
 * Parse-time URI check over bytes, in one pass, allocating nothing. It answers "certainly valid"
 * for the common shapes and -1 otherwise; -1 is not a verdict: the caller then runs the full
 * parser (uri.parseUriText), which decides and names the fault. So it accepts only what
 * parseUriText accepts; it turns down rare valid forms (IPv6 references, URI headers, tel and
 * other schemes) to stay short.
 */

/**
 * Where the last scanSipUri found the parts of its URI, as byte indices, valid until the next
 * scan: the scheme's ":", the host, the port (-1: none), the ";" before the parameters (-1:
 * none), the ":" of a password (-1: none), and whether the URI holds an escape. uri-checked's
 * uriFromLayout builds the Uri from them without searching the text again. Module state, like
 * check-header's `found`: parsing is synchronous.
 */
export const uriFound = { colon: 0, hostStart: 0, hostEnd: 0, port: -1, paramsAt: -1, passwordColon: -1, escaped: false };

/** A class table without "%", which run() reads as the start of an escape instead. */
function withoutPercent(table: Uint8Array): Uint8Array {
  const t = table.slice();
  t[37] = 0;
  return t;
}
const USER_CHARS = withoutPercent(USER);
const PASSWORD_CHARS = withoutPercent(PASSWORD);
const PARAM_CHARS = withoutPercent(URI_PARAM);

/**
 * End of a run from i of characters of `table` (a class without "%") and %HH escapes (what
 * charset.unescape decodes), or -1 at a "%" that starts no escape. The hex digits are in every
 * class used here, so an escape never straddles the end of the run.
 */
function run(b: Uint8Array, i: number, end: number, table: Uint8Array): number {
  for (;;) {
    while (i < end && table[b[i]!] === 1) i++;
    if (i >= end || b[i] !== 37 /* % */) return i;
    if (i + 2 >= end || HEX[b[i + 1]!] === 0 || HEX[b[i + 2]!] === 0) return -1;
    uriFound.escaped = true;
    i += 3;
  }
}

/**
 * hostport = host [ ":" port ] (RFC 3261 §25.1) from i, as uri.parseHostPort reads it: a hostname
 * (alphanumerics, "-", ".") or an IPv4 address (a host of only digits and dots must be one), and
 * an optional 1-5 digit port up to 65535. Returns where it stops, or -1. IPv6 references give -1.
 */
export function scanHostPort(b: Uint8Array, i: number, end: number): number {
  const hostStart = i;
  // the leading digits and dots, read as IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
  // (each at most 255) on the way, as uri.isIPv4Address does
  let dots = 0;
  let digits = 0;
  let value = 0;
  let ipv4 = true;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 46 /* . */) {
      if (digits === 0 || value > 255) ipv4 = false;
      dots++;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      if (++digits > 3) ipv4 = false;
      value = value * 10 + (c - 48);
    } else break;
  }
  // the rest of a hostname (alphanumerics, "-", "."): then it is a name, not an address
  const nameStart = i;
  const host = HOST;
  while (i < end && host[b[i]!] === 1) i++;
  if (i === hostStart) return -1;
  if (i === nameStart && (!ipv4 || digits === 0 || value > 255 || dots !== 3)) return -1;
  uriFound.hostStart = hostStart;
  uriFound.hostEnd = i;
  uriFound.port = -1;
  if (i < end && b[i] === 58 /* : */) {
    const portStart = ++i;
    let port = 0;
    for (; i < end && b[i]! >= 48 && b[i]! <= 57; i++) port = port * 10 + (b[i]! - 48);
    if (i === portStart || i - portStart > 5 || port > 65535) return -1;
    uriFound.port = port;
  }
  return i;
}

/**
 * Scans a SIP-URI / SIPS-URI from i (RFC 3261 §19.1.1, §25.1):
 * ("sip" / "sips") ":" [ user [ ":" password ] "@" ] hostport *( ";" uri-parameter )
 * with host a hostname or IPv4 address. Returns where the URI stops (the first character that
 * cannot continue it, or end); the caller checks that this is where the URI must end (">" of a
 * name-addr, the SP after a Request-URI). Returns -1 when the text is not such a URI.
 *
 * Characters none of the classes hold (SP, ">", ",", "?"...) end the URI, so scanning past the
 * URI's end cannot happen; and as no user or password character is an "@", the first
 * non-user character decides whether there is a userinfo, as parseUriText's first "@" does.
 */
export function scanSipUri(b: Uint8Array, i: number, end: number): number {
  if (i + 4 > end || !nameIs(b, i, 'sip')) return -1;
  i += 3;
  if ((b[i]! | 0x20) === 0x73 /* sips */) i++;
  if (i >= end || b[i] !== 58 /* : */) return -1;
  const found = uriFound;
  found.colon = i;
  found.passwordColon = -1;
  found.paramsAt = -1;
  found.escaped = false;
  i++;
  const user = run(b, i, end, USER_CHARS);
  if (user === -1) return -1;
  if (user > i && user < end) {
    if (b[user] === 64 /* @ */) i = user + 1;
    else if (b[user] === 58 /* : */) {
      const password = run(b, user + 1, end, PASSWORD_CHARS);
      if (password !== -1 && password < end && b[password] === 64) {
        found.passwordColon = user;
        i = password + 1;
      }
    }
  }
  i = scanHostPort(b, i, end);
  if (i === -1) return -1;
  if (i >= end || b[i] !== 59 /* ; */) return i;
  found.paramsAt = i;
  // uri-parameters: nothing at all after the ";" is accepted (parseUriParams has it so), else
  // parts split at ";", each `name [ "=" value ]` with a non-empty name
  i++;
  if (i >= end || URI_PARAM[b[i]!] === 0) return i;
  for (;;) {
    const nameStart = i;
    i = run(b, i, end, PARAM_CHARS);
    if (i <= nameStart) return -1;
    if (i < end && b[i] === 61 /* = */) {
      i = run(b, i + 1, end, PARAM_CHARS);
      if (i === -1) return -1;
    }
    if (i >= end || b[i] !== 59) return i;
    i++;
  }
}
