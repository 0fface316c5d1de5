import type { SipRequest } from '../message/message.js';
import { Uri } from '../message/uri.js';
import { NameAddr } from '../message/name-addr.js';
import { Via } from '../message/via.js';
import type { LocalIdentity } from './local-identity.js';

/** Methods whose initial request creates a dialog, so the proxy record-routes them (§16.6 step 4). */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

/** The URI this proxy puts into Record-Route: its own address with `lr` (RFC 3261 §16.6 step 4, §19.1.1). */
export function recordRouteUri(self: LocalIdentity): Uri {
  return new Uri({ host: self.host, port: self.port, params: { lr: null } });
}

export interface ForwardOptions {
  /** The target's URI (§16.5): the new Request-URI. Undefined keeps it (loose routing). */
  target?: Uri;
  /** The branch for this proxy's Via (§16.6 step 8). */
  branch: string;
  /** Record-route this request (initial dialog-creating requests, when enabled). */
  recordRoute: boolean;
}

/** True for a request outside a dialog that creates one, which a record-routing proxy record-routes. */
export function createsDialog(request: SipRequest): boolean {
  return DIALOG_CREATING.has(request.method) && request.to.tag === undefined;
}

/**
 * RFC 3261 §16.6 "Request Forwarding", steps 1-8, for one target: a copy of the request with the
 * Request-URI set to the target, Max-Forwards decremented (or set to 70), this proxy's
 * Record-Route and Via added. The original request is not changed.
 */
export function forwardRequest(request: SipRequest, self: LocalIdentity, options: ForwardOptions): SipRequest {
  // 1. "Make a copy of the received request"
  const copy = request.clone();
  // 2. "Update the Request-URI": replaced with the target
  if (options.target !== undefined) copy.uri = options.target.clone();
  // 3. "If the copy contains a Max-Forwards header field, the proxy MUST decrement its value by
  // one (1). If the copy does not contain a Max-Forwards header field, the proxy MUST add one
  // with a field value, which SHOULD be 70."
  const mf = copy.maxForwards;
  copy.set('Max-Forwards', String(mf === undefined ? 70 : Math.max(0, mf - 1)));
  // 4. "If this proxy wishes to remain on the path of future requests in a dialog created by this
  // request ... it MUST insert a Record-Route header field value"
  if (options.recordRoute) copy.prepend('Record-Route', new NameAddr(recordRouteUri(self)).toString());
  // 8. "The proxy MUST insert a Via header field value into the copy before the existing Via
  // header field values." rport asks the next hop to answer to our source port (RFC 3581).
  const via = new Via({ host: self.host, port: self.port, params: { branch: options.branch, rport: null } });
  copy.prepend('Via', via.toString());
  return copy;
}
