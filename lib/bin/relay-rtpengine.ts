import { InvalidArgumentError } from '../errors.js';
import type { RelayAllocator } from '../relay/relay-allocator.js';

/** The relay allocator for `--relay` specs of this kind. Not built yet: rtpengine (issue 6). */
export async function createRtpengineAllocator(specs: readonly string[]): Promise<RelayAllocator> {
  throw new InvalidArgumentError(`--relay ${specs.join(',')}: the rtpengine (issue 6) back end is not built yet`);
}
