import type { SipRequest } from '../message/message.js';
import type { NatSource, NatTest, NatTestResult } from './nat-test.js';
import { NatFlag } from './nat-test.js';
import { addressScope, canonicalIp, NON_PUBLIC_SCOPES } from './private-address.js';
import { natResult } from './result.js';

/**
 * `source-private` (Kamailio flag 32): the packet's source address is itself private: the proxy
 * sits inside the same private network (or a carrier-grade NAT) as the client.
 */
export function sourcePrivateTest(_request: SipRequest, source: NatSource): NatTestResult | undefined {
  const scope = addressScope(source.address);
  return natResult('source-private', NatFlag.SOURCE_PRIVATE, NON_PUBLIC_SCOPES.has(scope), canonicalIp(source.address), scope);
}

/**
 * `websocket` (Kamailio flag 64): the request came over WebSocket (RFC 7118). A browser client is
 * never reachable at the address it names, so such requests always count as NATed. natter's
 * transports are UDP; the test only reads `source.transport`.
 */
export function websocketTest(_request: SipRequest, source: NatSource): NatTestResult | undefined {
  const t = (source.transport ?? 'udp').toLowerCase();
  return natResult('websocket', NatFlag.WEBSOCKET, t === 'ws' || t === 'wss', 'udp, tcp, tls or sctp', t);
}

export const sourcePrivate: NatTest = {
  name: 'source-private',
  flag: NatFlag.SOURCE_PRIVATE,
  description: 'the source address is a private address',
  run: sourcePrivateTest,
};
export const websocket: NatTest = {
  name: 'websocket',
  flag: NatFlag.WEBSOCKET,
  description: 'the request came over WebSocket',
  run: websocketTest,
};
