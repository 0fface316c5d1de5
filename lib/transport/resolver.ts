/**
 * Where to send (RFC 3261 §18.1.1 and §8.1.2 with RFC 3263 reduced to what a UDP-only stack needs:
 * a numeric host is used as is, a name goes through `dns.lookup`, the port defaults to 5060) and
 * where responses go (RFC 3261 §18.2.2 with RFC 3581 §4).
 *
 * Both return an Endpoint synchronously when no name has to be looked up, so the common case
 * (numeric hosts, stamped `received`) costs no promise and no tick.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { TransportError } from '../errors.js';
import type { Endpoint } from './transport.js';
import type { ViaRouting } from './via-text.js';
import type { SipRequest } from './message-api.js';

/** Resolves a host name to one address of the given family (0 = any). */
export type LookupFunction = (hostname: string, family: 0 | 4 | 6) => Promise<string>;

export interface ResolveOptions {
  /** Address family of the transport that will send; names are looked up in it. Default: any. */
  family?: 4 | 6 | undefined;
  /** Replaces `dns.lookup` (tests, custom resolvers). */
  lookup?: LookupFunction | undefined;
}

/** The parts of a URI that decide a destination. */
export interface UriTarget {
  scheme: string;
  host: string;
  port: number | undefined;
  params: Record<string, string | null>;
}

/** The default SIP port over UDP (RFC 3261 §19.1.2). */
export const DEFAULT_SIP_PORT = 5060;

const defaultLookup: LookupFunction = async (hostname, family) => {
  const r = await dnsLookup(hostname, { family, verbatim: true });
  return r.address;
};

/** A host as an address: numeric hosts as they are, names through the lookup function. */
export function resolveHost(host: string, options: ResolveOptions = {}): string | Promise<string> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) !== 0) return bare;
  const lookup = options.lookup ?? defaultLookup;
  return lookup(bare, options.family ?? 0).catch((err: unknown) => {
    throw new TransportError(`cannot resolve ${bare}: ${(err as Error).message}`, { cause: err });
  });
}

function endpoint(address: string | Promise<string>, port: number): Endpoint | Promise<Endpoint> {
  return typeof address === 'string' ? { address, port } : address.then((a) => ({ address: a, port }));
}

/**
 * RFC 3261 §18.1.1 / RFC 3263 (reduced): the address and port to send a request for this URI to.
 * A `maddr` parameter names the host to use; otherwise the URI host. The port is the URI port, or
 * 5060. Only UDP is spoken, so the `transport` parameter is not consulted.
 */
export function resolveUri(uri: UriTarget, options: ResolveOptions = {}): Endpoint | Promise<Endpoint> {
  const maddr = uri.params['maddr'];
  const host = typeof maddr === 'string' && maddr !== '' ? maddr : uri.host;
  if (host === '') return Promise.reject(new TransportError(`no host in ${uri.scheme} URI`));
  return endpoint(resolveHost(host, options), uri.port ?? DEFAULT_SIP_PORT);
}

/**
 * RFC 3261 §8.1.2: "If the first element in the route set indicated a strict router ..., the
 * procedures MUST be applied to the Request-URI of the request. Otherwise, the procedures are
 * applied to the first Route header field value in the request (if one exists), or to the
 * request's Request-URI if there is no Route header field present."
 */
export function requestTarget(request: SipRequest): UriTarget {
  const route = request.has('route') ? request.route[0] : undefined;
  if (route !== undefined && 'lr' in route.uri.params) return route.uri;
  return request.uri;
}

/** Where a request goes: §8.1.2 target, then §18.1.1 resolution. */
export function requestDestination(request: SipRequest, options: ResolveOptions = {}): Endpoint | Promise<Endpoint> {
  return resolveUri(requestTarget(request), options);
}

/**
 * Where a response goes, from the top Via of the response (RFC 3261 §18.2.2, RFC 3581 §4).
 */
export function responseDestination(via: ViaRouting, options: ResolveOptions = {}): Endpoint | Promise<Endpoint> {
  const sentByPort = via.port ?? DEFAULT_SIP_PORT;
  // §18.2.2: "Otherwise, if the Via header field value contains a "maddr" parameter, the response
  // MUST be forwarded to the address listed there, using the port indicated in "sent-by", or port
  // 5060 if none is present."
  if (via.maddr !== undefined && via.maddr !== '') return endpoint(resolveHost(via.maddr, options), sentByPort);
  // RFC 3581 §4: "If the "sent-protocol" component indicates an unreliable unicast transport
  // protocol, such as UDP, and there is no "maddr" parameter, but there is both a "received"
  // parameter and an "rport" parameter, the response MUST be sent to the IP address listed in the
  // "received" parameter, and the port in the "rport" parameter."
  if (via.received !== undefined && typeof via.rport === 'number') return { address: via.received, port: via.rport };
  // §18.2.2: "Otherwise (for unreliable unicast transports), if the top Via has a "received"
  // parameter, the response MUST be sent to the address in the "received" parameter, using the port
  // indicated in the "sent-by" value, or using port 5060 if none is specified explicitly."
  if (via.received !== undefined) return { address: via.received, port: sentByPort };
  // §18.2.2: "Otherwise, if it is not receiver-tagged, the response MUST be sent to the address
  // indicated by the "sent-by" value, using the procedures in Section 5 of [4]."
  return endpoint(resolveHost(via.host, options), typeof via.rport === 'number' ? via.rport : sentByPort);
}
