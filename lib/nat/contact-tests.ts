import createDebug from 'debug';
import type { SipRequest } from '../message/message.js';
import type { Uri } from '../message/uri.js';
import type { NatSource, NatTest, NatTestOptions, NatTestResult } from './nat-test.js';
import { NatFlag } from './nat-test.js';
import { addressScope, canonicalIp, isIpLiteral, NON_PUBLIC_SCOPES } from './private-address.js';
import { defaultPort, hostPort, natResult } from './result.js';

const debug = createDebug('natter:nat');

/** The SIP/SIPS URIs of the Contact header fields (`*` and other schemes left out). */
export function contactUris(request: SipRequest): Uri[] {
  try {
    return request.contact.filter((c) => !c.wildcard && c.uri.isSip).map((c) => c.uri);
  } catch (e) {
    debug('unreadable Contact: %s', (e as Error).message);
    return [];
  }
}

function contactPort(uri: Uri): number {
  return uri.port ?? defaultPort(uri.transport, uri.scheme === 'sips');
}

/**
 * `contact-private` (Kamailio flag 1): a Contact host is a private address, so the client cannot be
 * reached at the address it registered or asked to be called back on. Reports the first such
 * Contact. On its own it also fires for a phone on the proxy's own LAN, where no NAT is in the way.
 */
export function contactPrivateTest(request: SipRequest): NatTestResult | undefined {
  const uris = contactUris(request).filter((u) => isIpLiteral(u.host));
  if (uris.length === 0) return undefined;
  for (const uri of uris) {
    const scope = addressScope(uri.host);
    if (NON_PUBLIC_SCOPES.has(scope)) return natResult('contact-private', NatFlag.CONTACT_PRIVATE, true, canonicalIp(uri.host), scope, `Contact ${uri.toString()}`);
  }
  return natResult('contact-private', NatFlag.CONTACT_PRIVATE, false, canonicalIp(uris[0]!.host), addressScope(uris[0]!.host));
}

/**
 * `contact-source` (no Kamailio flag): a Contact host differs from the source address. The same
 * comparison as `via-sent-by`, made on the address the client wants requests sent to.
 */
export function contactSourceTest(request: SipRequest, source: NatSource, options: NatTestOptions = {}): NatTestResult | undefined {
  const uris = contactUris(request);
  if (uris.length === 0) return undefined;
  const actual = canonicalIp(source.address);
  for (const uri of uris) {
    if (!isIpLiteral(uri.host)) {
      if (options.nameDiffers === true) return natResult('contact-source', undefined, true, uri.host, actual, 'Contact host is a name (nameDiffers)');
      continue;
    }
    const expected = canonicalIp(uri.host);
    if (expected !== actual) return natResult('contact-source', undefined, true, expected, actual, `Contact ${uri.toString()}`);
  }
  const first = uris[0]!;
  return natResult('contact-source', undefined, false, isIpLiteral(first.host) ? canonicalIp(first.host) : first.host, actual);
}

/** `contact-port` (Kamailio flag 128): a Contact port (5060 when absent, 5061 for sips/TLS) differs from the source port. */
export function contactPortTest(request: SipRequest, source: NatSource): NatTestResult | undefined {
  const uris = contactUris(request);
  if (uris.length === 0) return undefined;
  const actual = hostPort(canonicalIp(source.address), source.port);
  for (const uri of uris) {
    const port = contactPort(uri);
    if (port !== source.port) return natResult('contact-port', NatFlag.CONTACT_PORT, true, hostPort(uri.host, port), actual, `Contact ${uri.toString()}`);
  }
  return natResult('contact-port', NatFlag.CONTACT_PORT, false, hostPort(uris[0]!.host, contactPort(uris[0]!)), actual);
}

export const contactPrivate: NatTest = {
  name: 'contact-private',
  flag: NatFlag.CONTACT_PRIVATE,
  description: 'a Contact host is a private address',
  run: contactPrivateTest,
};
export const contactSource: NatTest = {
  name: 'contact-source',
  description: 'a Contact host differs from the source address',
  run: contactSourceTest,
};
export const contactPortDiffers: NatTest = {
  name: 'contact-port',
  flag: NatFlag.CONTACT_PORT,
  description: 'a Contact port (default 5060) differs from the source port',
  run: contactPortTest,
};
