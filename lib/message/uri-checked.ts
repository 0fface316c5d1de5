import type { Params } from './types.js';
import { unescape } from './charset.js';
import { Uri } from './uri.js';
import type { UriLayout } from './marks.js';

/**
 * Builds the Uri of text[start, end) that check-uri.scanSipUri accepted, with the values
 * uri.parseUriText gives it, but without checking again: `("sip" / "sips") ":" [ user [ ":"
 * password ] "@" ] host [ ":" port ] *( ";" name [ "=" value ] )`, the host a name or an IPv4
 * address, no headers. Escapes are known to be well-formed, so decoding cannot fail. The text
 * after `end` may hold anything (a name-addr's ">" and header parameters). It finds where the parts
 * lie and leaves the building to uriFromLayout.
 */
export function uriFromChecked(text: string, start = 0, end = text.length): Uri {
  const colon = text.indexOf(':', start);
  // most URIs hold no escape: then no part needs decoding
  const pct = text.indexOf('%', colon);
  let hostStart = colon + 1;
  let passwordColon = -1;
  // no character of a user, password, host or parameter is an "@": the first one ends userinfo
  const at = text.indexOf('@', hostStart);
  if (at !== -1 && at < end) {
    const pc = text.indexOf(':', hostStart);
    if (pc !== -1 && pc < at) passwordColon = pc;
    hostStart = at + 1;
  }
  let semi = text.indexOf(';', hostStart);
  if (semi === -1 || semi > end) semi = end;
  let hostEnd = semi;
  let port = -1;
  const portColon = text.indexOf(':', hostStart);
  if (portColon !== -1 && portColon < semi) {
    hostEnd = portColon;
    port = 0;
    for (let i = portColon + 1; i < semi; i++) port = port * 10 + (text.charCodeAt(i) - 48);
  }
  return uriFromLayout(text, {
    uriStart: start,
    uriEnd: end,
    colon,
    hostStart,
    hostEnd,
    port,
    paramsAt: semi === end ? -1 : semi,
    passwordColon,
    escaped: pct !== -1 && pct < end,
  });
}

/**
 * The Uri of a URI the parser checked, from where its parts lie in `text` (marks.UriLayout): the
 * parser marks them while it checks a Contact (check-header.markedUri), uriFromChecked finds them
 * by searching.
 */
export function uriFromLayout(text: string, l: UriLayout): Uri {
  const start = l.uriStart;
  const colon = l.colon;
  const uri = new Uri({ scheme: colon - start === 3 ? 'sip' : text.slice(start, colon) });
  const escaped = l.escaped;
  const userStart = colon + 1;
  if (l.hostStart > userStart) {
    // userinfo = user [ ":" password ] "@", the "@" just before the host
    const pc = l.passwordColon;
    if (pc !== -1) {
      uri.user = part(text, userStart, pc, escaped);
      uri.password = part(text, pc + 1, l.hostStart - 1, escaped);
    } else uri.user = part(text, userStart, l.hostStart - 1, escaped);
  }
  uri.host = text.slice(l.hostStart, l.hostEnd);
  if (l.port !== -1) uri.port = l.port;
  const end = l.uriEnd;
  const semi = l.paramsAt;
  if (semi !== -1 && semi < end - 1) addParams(text, semi + 1, end, uri.params, escaped);
  return uri;
}

/** URI parameter names common enough to be worth a shared string (a new one must be interned as a property key). */
const COMMON_PARAMS = ['transport', 'lr', 'user', 'maddr', 'ttl', 'method', 'ob', 'rinstance', 'gr'];

/** text[start, end) as a property key: a shared string when it is a common parameter name. */
function paramName(text: string, start: number, end: number, escaped: boolean): string {
  const length = end - start;
  for (let k = 0; k < COMMON_PARAMS.length; k++) {
    const name = COMMON_PARAMS[k]!;
    if (name.length === length && text.startsWith(name, start)) return name;
  }
  return part(text, start, end, escaped).toLowerCase();
}

/** uri-parameters from i to end (after the first ";"), as uri.parseUriParams stores them (names decoded and lower-cased). */
function addParams(text: string, i: number, end: number, into: Params, escaped: boolean): void {
  while (i <= end) {
    let stop = text.indexOf(';', i);
    if (stop === -1 || stop > end) stop = end;
    const eq = text.indexOf('=', i);
    if (eq !== -1 && eq < stop) into[paramName(text, i, eq, escaped)] = part(text, eq + 1, stop, escaped);
    else into[paramName(text, i, stop, escaped)] = null;
    i = stop + 1;
  }
}

/** text[start, end), decoded when the URI holds escapes. */
function part(text: string, start: number, end: number, escaped: boolean): string {
  const s = text.slice(start, end);
  return escaped && s.indexOf('%') !== -1 ? unescape(s)! : s;
}
