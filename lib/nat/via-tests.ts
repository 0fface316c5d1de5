import createDebug from 'debug';
import type { SipRequest } from '../message/message.js';
import type { Via } from '../message/via.js';
import type { NatSource, NatTest, NatTestOptions, NatTestResult } from './nat-test.js';
import { NatFlag } from './nat-test.js';
import { addressScope, canonicalIp, isIpLiteral, NON_PUBLIC_SCOPES } from './private-address.js';
import { defaultPort, hostPort, natResult } from './result.js';

const debug = createDebug('natter:nat');

/** The top Via, or undefined when the request has none or it cannot be read. */
export function topVia(request: SipRequest): Via | undefined {
  try {
    return request.via[0];
  } catch (e) {
    debug('unreadable Via: %s', (e as Error).message);
    return undefined;
  }
}

/**
 * `via-sent-by` (Kamailio flag 2, the "received" test): the comparison of claims 1 and 7. The top
 * Via's sent-by host is the IP address the client says it sends from (RFC 3261 §18.2.1 calls a
 * difference the reason to add `received`); the source address of the datagram is where it really
 * sent from. Fires when they differ. IPv6 addresses compare in canonical form and an IPv4-mapped
 * source equals its IPv4 address. A host name is not compared unless `nameDiffers` is set.
 */
export function viaSentByTest(request: SipRequest, source: NatSource, options: NatTestOptions = {}): NatTestResult | undefined {
  const via = topVia(request);
  if (via === undefined) return undefined;
  const actual = canonicalIp(source.address);
  if (!isIpLiteral(via.host)) {
    const fired = options.nameDiffers === true;
    return natResult('via-sent-by', NatFlag.VIA_RECEIVED, fired, via.host, actual, fired ? 'sent-by is a host name (nameDiffers)' : 'sent-by is a host name; not compared');
  }
  const expected = canonicalIp(via.host);
  return natResult('via-sent-by', NatFlag.VIA_RECEIVED, expected !== actual, expected, actual);
}

/**
 * `via-port` (Kamailio flag 16, the "rport" test): the top Via's port (5060 when absent, 5061 for
 * TLS) against the source port. A NAT that keeps the address but maps the port fires this one
 * alone.
 */
export function viaPortTest(request: SipRequest, source: NatSource): NatTestResult | undefined {
  const via = topVia(request);
  if (via === undefined) return undefined;
  const port = via.port ?? defaultPort(via.transport);
  const detail = via.port === undefined ? `sent-by has no port; ${port} assumed` : undefined;
  return natResult('via-port', NatFlag.VIA_PORT, port !== source.port, hostPort(via.host, port), hostPort(canonicalIp(source.address), source.port), detail);
}

/** `via-private` (Kamailio flag 4): the top Via's sent-by host is a private address. */
export function viaPrivateTest(request: SipRequest): NatTestResult | undefined {
  const via = topVia(request);
  if (via === undefined || !isIpLiteral(via.host)) return undefined;
  const scope = addressScope(via.host);
  return natResult('via-private', NatFlag.VIA_PRIVATE, NON_PUBLIC_SCOPES.has(scope), canonicalIp(via.host), scope);
}

export const viaSentBy: NatTest = {
  name: 'via-sent-by',
  flag: NatFlag.VIA_RECEIVED,
  description: 'top Via sent-by host differs from the source address',
  run: viaSentByTest,
};
export const viaPort: NatTest = {
  name: 'via-port',
  flag: NatFlag.VIA_PORT,
  description: 'top Via port (default 5060) differs from the source port',
  run: viaPortTest,
};
export const viaPrivate: NatTest = {
  name: 'via-private',
  flag: NatFlag.VIA_PRIVATE,
  description: 'top Via sent-by host is a private address',
  run: viaPrivateTest,
};
