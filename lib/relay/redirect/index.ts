/** Relay-by-redirect: the relay server, its client allocator, a pool of relays, and the protocol's vocabulary. */
export { RelayServer, type RelayServerOptions, type RelayServerEvent, type RelayServerStats, type ResourceEndReason } from './relay-server.js';
export {
  RedirectRelayAllocator,
  normalizeRelayUri,
  type RedirectRelayAllocatorOptions,
  type RelayCheck,
  type RelayState,
} from './redirect-relay-allocator.js';
export { RelayPool, type RelayPoolOptions, type RelayPoolMember, type RelayPoolMemberOptions, type RelayPoolMemberStatus } from './relay-pool.js';
export { AllowList, SignatureChecker, signRequest, signedText, type SignatureCheckOptions } from './auth.js';
export {
  RelayHeader,
  RELAY_USER,
  LISTING_CONTENT_TYPE,
  formatResourceLine,
  parseResourceLine,
  type RelayResourceInfo,
  type RelayLoad,
  type RelaySdpRole,
  type RelayCallId,
} from './protocol.js';
