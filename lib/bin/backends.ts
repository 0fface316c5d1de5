import { InvalidArgumentError } from '../errors.js';
import type { RelayAllocator } from '../relay/relay-allocator.js';
import type { LocationStore } from '../proxy/location-store.js';
import { createSipRelayAllocator } from './relay-sip.js';
import { createRtpengineAllocator } from './relay-rtpengine.js';
import { createRedisLocationStore } from './location-redis.js';
import { FileLocationStore } from '../proxy/file-location-store.js';
import { MemoryLocationStore } from '../proxy/location-store.js';

/**
 * Builds the relay allocator that `--relay` names: undefined for `local` (the proxy makes its own
 * local relay), a relay-by-redirect pool for `sip:` URIs, an rtpengine set for `rtpengine:` specs.
 */
export async function relayFromSpecs(specs: readonly string[]): Promise<RelayAllocator | undefined> {
  if (specs.length === 0 || (specs.length === 1 && specs[0] === 'local')) return undefined;
  const sip = specs.filter((s) => s.startsWith('sip:'));
  const rtpengine = specs.filter((s) => s.startsWith('rtpengine:'));
  if (sip.length + rtpengine.length !== specs.length || (sip.length > 0 && rtpengine.length > 0)) {
    throw new InvalidArgumentError(`--relay ${specs.join(',')}: give either local, sip:relay@HOST:PORT URIs, or rtpengine:udp:HOST:PORT specs`);
  }
  return sip.length > 0 ? createSipRelayAllocator(sip) : createRtpengineAllocator(rtpengine);
}

/**
 * Builds the location store that `--location` names: undefined for `memory` (the proxy's default),
 * a JSON file that survives restarts for `file:PATH`, Redis for `redis://HOST:PORT`.
 */
export async function locationFromSpec(spec: string, maxTotal?: number): Promise<LocationStore | undefined> {
  if (spec === 'memory') return maxTotal === undefined ? undefined : new MemoryLocationStore({ maxTotal });
  if (spec.startsWith('file:') && spec.length > 5) return FileLocationStore.open(spec.slice(5), maxTotal === undefined ? {} : { maxTotal });
  if (spec.startsWith('redis://')) return createRedisLocationStore(spec);
  throw new InvalidArgumentError(`--location ${spec}: memory, file:PATH or redis://HOST:PORT`);
}
