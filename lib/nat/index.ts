/** NAT detection (the comparison engine of claims 1 and 7) and NAT keepalive. */
export type { NatSource, NatTest, NatTestFunction, NatTestOptions, NatTestResult, NatFlagValue } from './nat-test.js';
export { NatFlag } from './nat-test.js';
export type { AddressScope } from './private-address.js';
export { addressScope, canonicalIp, isIpLiteral, isPrivateNetworkAddress, sameIp } from './private-address.js';
export type { NatDetector, NatDetectorOptions, NatEndpoint, NatTestSelection, NatVerdict } from './detector.js';
export { BUILTIN_NAT_TESTS, DEFAULT_NAT_TESTS, DefaultNatDetector, builtinTest, natMask, natTestsFromMask, resolveNatTests } from './detector.js';
export { viaPort, viaPortTest, viaPrivate, viaPrivateTest, viaSentBy, viaSentByTest } from './via-tests.js';
export { contactPortDiffers, contactPortTest, contactPrivate, contactPrivateTest, contactSource, contactSourceTest } from './contact-tests.js';
export type { SdpConnection } from './sdp-tests.js';
export { sdpConnections, sdpPrivate, sdpPrivateTest, sdpSource, sdpSourceTest } from './sdp-tests.js';
export { sourcePrivate, sourcePrivateTest, websocket, websocketTest } from './source-tests.js';
export type { KeepaliveClock, NatKeepaliveOptions, KeepaliveSend } from './keepalive.js';
export { NatKeepalive } from './keepalive.js';
export type { TimerClock } from './clock.js';
export { systemTimerClock } from './clock.js';
