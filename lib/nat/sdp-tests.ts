import createDebug from 'debug';
import { parse as parseSdp } from 'sdp-transform';
import type { SipRequest } from '../message/message.js';
import type { NatSource, NatTest, NatTestResult } from './nat-test.js';
import { NatFlag } from './nat-test.js';
import { addressScope, canonicalIp, isIpLiteral, NON_PUBLIC_SCOPES } from './private-address.js';
import { natResult } from './result.js';

const debug = createDebug('natter:nat');

/** One connection address of an SDP body and the line it came from. */
export interface SdpConnection {
  address: string;
  /** `session` for the session-level c=, else `media <index> (<type>)`. */
  where: string;
}

const cache = new WeakMap<Buffer, SdpConnection[]>();

/**
 * The c= addresses of the request's SDP body (RFC 4566 §5.7), session level first, then each media
 * description's own. Left out: the unspecified address (hold, RFC 3264 §8.4), names, and the c= of
 * a rejected stream (port 0). Empty when the body is not `application/sdp` or cannot be read.
 * Cached per body Buffer, so several SDP tests parse it once.
 */
export function sdpConnections(request: SipRequest): SdpConnection[] {
  const body = request.body;
  if (body.length === 0) return [];
  const type = request.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/sdp') return [];
  const hit = cache.get(body);
  if (hit !== undefined) return hit;
  const out: SdpConnection[] = [];
  try {
    const sdp = parseSdp(body.toString('utf8'));
    const add = (ip: string | undefined, where: string): void => {
      if (ip === undefined) return;
      const address = ip.split('/')[0]!; // multicast c= carries /ttl[/count]
      if (!isIpLiteral(address) || addressScope(address) === 'unspecified') return;
      out.push({ address: canonicalIp(address), where });
    };
    add(sdp.connection?.ip, 'session');
    (sdp.media ?? []).forEach((m, i) => {
      if (m.port !== 0) add(m.connection?.ip, `media ${i} (${m.type})`);
    });
  } catch (e) {
    debug('unreadable SDP: %s', (e as Error).message);
  }
  cache.set(body, out);
  return out;
}

/** `sdp-private` (Kamailio flag 8): an SDP c= address is private, so media sent there goes nowhere. */
export function sdpPrivateTest(request: SipRequest): NatTestResult | undefined {
  const conns = sdpConnections(request);
  if (conns.length === 0) return undefined;
  for (const c of conns) {
    const scope = addressScope(c.address);
    if (NON_PUBLIC_SCOPES.has(scope)) return natResult('sdp-private', NatFlag.SDP_PRIVATE, true, c.address, scope, `c= at ${c.where}`);
  }
  return natResult('sdp-private', NatFlag.SDP_PRIVATE, false, conns[0]!.address, addressScope(conns[0]!.address));
}

/**
 * `sdp-source` (Kamailio flag 256): an SDP c= address differs from the source address of the
 * signaling. Also fires for a client whose media legitimately comes from another host (a media
 * gateway beside an SBC), so it is not in the default set.
 */
export function sdpSourceTest(request: SipRequest, source: NatSource): NatTestResult | undefined {
  const conns = sdpConnections(request);
  if (conns.length === 0) return undefined;
  const actual = canonicalIp(source.address);
  for (const c of conns) {
    if (c.address !== actual) return natResult('sdp-source', NatFlag.SDP_SOURCE, true, c.address, actual, `c= at ${c.where}`);
  }
  return natResult('sdp-source', NatFlag.SDP_SOURCE, false, conns[0]!.address, actual);
}

export const sdpPrivate: NatTest = {
  name: 'sdp-private',
  flag: NatFlag.SDP_PRIVATE,
  description: 'an SDP c= address (session or media level) is private',
  run: sdpPrivateTest,
};
export const sdpSource: NatTest = {
  name: 'sdp-source',
  flag: NatFlag.SDP_SOURCE,
  description: 'an SDP c= address differs from the source address',
  run: sdpSourceTest,
};
