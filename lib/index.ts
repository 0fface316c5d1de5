/**
 * natter's public API. Everything a user imports comes from here; nothing else is public.
 */
export * from './message/index.js';
export {
  SipError,
  SipParseError,
  InvalidArgumentError,
  TransportError,
  TimeoutError,
  ClosedError,
  RelayError,
} from './errors.js';
export type { PartialHeaders } from './errors.js';
export * from './nat/index.js';
export { Registrar, REGISTRAR_NAT_TESTS, formatBindingContact } from './proxy/registrar.js';
export type { RegistrarOptions } from './proxy/registrar.js';
export { MemoryLocationStore, LocationFullError } from './proxy/location-store.js';
export { FileLocationStore } from './proxy/file-location-store.js';
export type { LocationStore, MemoryLocationStoreOptions } from './proxy/location-store.js';
export { canonicalAor, receivedUri, remainingSeconds, sameBinding } from './proxy/binding.js';
export type { Binding, BindingSource } from './proxy/binding.js';
export * from './transport/index.js';
export * from './transaction/index.js';
export * from './ua/index.js';
export { SipProxy, createProxy } from './proxy/proxy.js';
export type { ProxyStats, SecurityStats } from './proxy/proxy.js';
export type { ProxyOptions, ProxyAuthOptions } from './proxy/proxy-options.js';
export * from './auth/index.js';
export * from './security/index.js';
export { parseHostPortOption, parsePortRange } from './proxy/proxy-options.js';
export type { CallRecord } from './proxy/call-log.js';
export { formatCallRecord } from './proxy/call-log.js';
export type { RelayAllocator, MediaCounters, RelaySessionKey, RelayOfferOptions, RelayAnswerOptions, RelayParty, RelaySessionEnded, RelaySessionEndReason } from './relay/relay-allocator.js';
export { LocalRelayAllocator } from './relay/local/local-relay-allocator.js';
export type { LocalRelayAllocatorOptions, LocalRelayStats, LatchPolicy } from './relay/local/local-relay-allocator.js';
export { fixNatedContact } from './nat/contact-fixup.js';
export { RelayServer, RedirectRelayAllocator, RelayPool, normalizeRelayUri, AllowList, SignatureChecker, signRequest, RelayHeader, formatResourceLine, parseResourceLine } from './relay/redirect/index.js';
export type { RelayServerOptions, RelayServerEvent, RelayServerStats, ResourceEndReason, RedirectRelayAllocatorOptions, RelayCheck, RelayState, RelayPoolOptions, RelayPoolMember, RelayPoolMemberOptions, RelayPoolMemberStatus, SignatureCheckOptions, RelayResourceInfo, RelayLoad, RelaySdpRole, RelayCallId } from './relay/redirect/index.js';
export { RtpengineAllocator, NgClient, bencode, bdecode, BencodeError } from './relay/rtpengine/index.js';
export type {
  RtpengineAllocatorOptions,
  RtpengineAllocatorStatus,
  RtpengineNodeSpec,
  RtpengineNodeStatus,
  NgClientOptions,
  NgCommand,
  NgTarget,
  NgFlagOptions,
  NgIceMode,
  NgRtcpMuxMode,
  BencodeInput,
  BencodeValue,
  BencodeDict,
} from './relay/rtpengine/index.js';
export { RedisLocationStore } from './proxy/redis-location-store.js';
export type { RedisLocationStoreOptions } from './proxy/redis-location-store.js';
export { RedisClient } from './proxy/redis/redis-client.js';
export type { RedisClientOptions } from './proxy/redis/redis-client.js';
export { RedisError } from './proxy/redis/resp.js';
export type { RedisErrorCode, RespValue } from './proxy/redis/resp.js';
