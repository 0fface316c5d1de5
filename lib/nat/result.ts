import { formatHost } from '../message/uri.js';
import type { NatTestResult } from './nat-test.js';

/** Builds a NatTestResult, leaving out `detail` when there is none. */
export function natResult(test: string, flag: number | undefined, fired: boolean, expected: string, actual: string, detail?: string): NatTestResult {
  const r: NatTestResult = { test, fired, expected, actual };
  if (flag !== undefined) r.flag = flag;
  if (detail !== undefined) r.detail = detail;
  return r;
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return `${formatHost(host)}:${port}`;
}

/**
 * RFC 3261 §18.2.2 / §19.1.2: the port a sent-by or URI means when it names none: 5061 for TLS
 * (and sips), 5060 otherwise.
 */
export function defaultPort(transport: string | undefined, secure = false): number {
  const t = transport?.toLowerCase();
  return secure || t === 'tls' || t === 'wss' ? 5061 : 5060;
}
