import type { Params } from './types.js';
import { unescape } from './charset.js';
import { Uri } from './uri.js';

/**
 * Builds the Uri of text that check-uri.scanSipUri accepted, with the values uri.parseUriText
 * gives it, but without checking again: `("sip" / "sips") ":" [ user [ ":" password ] "@" ]
 * host [ ":" port ] *( ";" name [ "=" value ] )`, the host a name or an IPv4 address, no headers.
 * Escapes are known to be well-formed, so decoding cannot fail.
 */
export function uriFromChecked(text: string): Uri {
  const colon = text.indexOf(':');
  const uri = new Uri({ scheme: colon === 3 && text.startsWith('sip') ? 'sip' : text.slice(0, colon) });
  let hostStart = colon + 1;
  // no character of a user, password, host or parameter is an "@": the first one ends userinfo
  const at = text.indexOf('@', hostStart);
  if (at !== -1) {
    const pc = text.indexOf(':', hostStart);
    if (pc !== -1 && pc < at) {
      uri.user = decoded(text.slice(hostStart, pc));
      uri.password = decoded(text.slice(pc + 1, at));
    } else uri.user = decoded(text.slice(hostStart, at));
    hostStart = at + 1;
  }
  let semi = text.indexOf(';', hostStart);
  if (semi === -1) semi = text.length;
  const portColon = text.indexOf(':', hostStart);
  if (portColon !== -1 && portColon < semi) {
    uri.host = text.slice(hostStart, portColon);
    let port = 0;
    for (let i = portColon + 1; i < semi; i++) port = port * 10 + (text.charCodeAt(i) - 48);
    uri.port = port;
  } else uri.host = text.slice(hostStart, semi);
  if (semi < text.length - 1) addParams(text, semi + 1, uri.params);
  return uri;
}

/** URI parameter names common enough to be worth a shared string (a new one must be interned as a property key). */
const COMMON_PARAMS = ['transport', 'lr', 'user', 'maddr', 'ttl', 'method', 'ob', 'rinstance', 'gr'];

/** text[start, end) as a property key: a shared string when it is a common parameter name. */
function paramName(text: string, start: number, end: number): string {
  for (const name of COMMON_PARAMS) if (name.length === end - start && text.startsWith(name, start)) return name;
  return decoded(text.slice(start, end)).toLowerCase();
}

/** uri-parameters after the first ";", as uri.parseUriParams stores them (names decoded and lower-cased). */
function addParams(text: string, i: number, into: Params): void {
  while (i <= text.length) {
    let end = text.indexOf(';', i);
    if (end === -1) end = text.length;
    const eq = text.indexOf('=', i);
    if (eq !== -1 && eq < end) into[paramName(text, i, eq)] = decoded(text.slice(eq + 1, end));
    else into[paramName(text, i, end)] = null;
    i = end + 1;
  }
}

function decoded(s: string): string {
  return s.indexOf('%') === -1 ? s : unescape(s)!;
}
