/** SDP helpers for relays and NAT repair, over sdp-transform (RFC 4566, RFC 3264, RFC 3605, RFC 5761, RFC 8839). */
export {
  type AddressType,
  addressTypeOf,
  canonicalAddress,
  isPrivateAddress,
  isUnspecifiedAddress,
  sameAddress,
  unspecifiedAddress,
} from './address.js';
export { type IcePolicy, isIceLine, isPrivateCandidate } from './ice.js';
export { type MediaLine, parseMediaLine } from './media-line.js';
export { type MediaDirection, type MediaStream, readMediaStreams } from './media-streams.js';
export { type NatFixOptions, fixNatedSdp } from './nat-fix.js';
export { type Origin, type OriginMemory, formatOrigin, nextOriginVersion, parseOrigin } from './origin.js';
export { type RelayEndpoint, type RelayRewrite, type RelayRewriteResult, rewriteForRelay } from './relay-rewrite.js';
export { type SessionDescription, type MediaDescription, badSdp, parseSessionDescription } from './session-description.js';
