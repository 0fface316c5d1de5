/** The in-process media relay: port pool, per-stream UDP forwarder and its RelayAllocator. */
export { type LatchPolicy, type LocalRelayAllocatorOptions, type LocalRelayStats, LocalRelayAllocator } from './local-relay-allocator.js';
export { type LegPlacement, type MediaStreamRelayInit, type StreamStats, MediaStreamRelay } from './media-stream-relay.js';
export { type BoundPort, type PortPoolOptions, PortPool } from './port-pool.js';
export { type FlowCounters, type LegCounters, type LegRemote, type LegStats, type RelayChannel, RelayLeg } from './relay-leg.js';
export { type SessionStats, RelaySession } from './relay-session.js';
export { type Endpoint, type SourceState, type SourceVerdict, checkSource, sameEndpoint } from './latch.js';
export { isRtcpPacket } from './packet-kind.js';
