export type { MessageInfo, Transport, TransportCounters, TransportListener, TransportProtocol } from './transport.js';
export { UdpTransport, createUdpTransport, MAX_UDP_PAYLOAD } from './udp-transport.js';
export type { UdpTransportOptions } from './udp-transport.js';
export { resolveUri, resolveHost, requestTarget, requestDestination, responseDestination, DEFAULT_SIP_PORT } from './resolver.js';
export type { LookupFunction, ResolveOptions, UriTarget } from './resolver.js';
export type { ViaRouting } from './via-text.js';
