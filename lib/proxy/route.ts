import type { SipRequest } from '../message/message.js';
import { parseUri } from '../message/uri.js';
import type { Uri } from '../message/uri.js';
import type { LocalIdentity } from './local-identity.js';
import { isLocalUri } from './local-identity.js';

/**
 * RFC 3261 §16.4 route information preprocessing, applied in place to a request the proxy is
 * about to forward. Returns true when the Request-URI was ours and got replaced (the previous hop
 * was a strict router).
 */
export function preprocessRoute(request: SipRequest, self: LocalIdentity): boolean {
  let strict = false;
  // "If the Request-URI of the request contains a value this proxy previously placed into a
  // Record-Route header field, the proxy MUST replace the Request-URI in the request with the
  // last value from the Route header field, and remove that value from the Route header field."
  const routes = request.route;
  if (isLocalUri(request.uri, self) && request.uri.params['lr'] !== undefined && routes.length > 0) {
    const last = routes[routes.length - 1]!;
    request.uri = last.uri.clone();
    request.set('Route', routes.slice(0, -1).map(String));
    if (routes.length === 1) request.remove('Route');
    strict = true;
  }
  // "If the first value in the Route header field indicates this proxy, the proxy MUST remove
  // that value from the request."
  const first = request.route[0];
  if (first !== undefined && isLocalUri(first.uri, self)) request.shift('Route');
  return strict;
}

/**
 * §16.6 step 6-7 and §16.12: the next hop is the first Route when there is one (loose routing;
 * the Request-URI stays the target), else the Request-URI itself. A URI with `maddr` is reached
 * at that address (§19.1.1).
 */
export function nextHopUri(request: SipRequest): Uri {
  const route = request.route[0];
  return route !== undefined ? route.uri : request.uri;
}

/** Parses a configured URI or throws. */
export function configUri(text: string): Uri {
  return parseUri(text);
}
