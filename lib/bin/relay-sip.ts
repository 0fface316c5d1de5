import { InvalidArgumentError } from '../errors.js';
import type { RelayAllocator } from '../relay/relay-allocator.js';

/** The relay allocator for `--relay` specs of this kind. Not built yet: relay-by-redirect (issue 5). */
export async function createSipRelayAllocator(specs: readonly string[]): Promise<RelayAllocator> {
  throw new InvalidArgumentError(`--relay ${specs.join(',')}: the relay-by-redirect (issue 5) back end is not built yet`);
}
