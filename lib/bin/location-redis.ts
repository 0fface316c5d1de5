import { InvalidArgumentError } from '../errors.js';
import type { LocationStore } from '../proxy/location-store.js';

/** The location store for `--location redis://HOST:PORT`. Not built yet: Redis (issue 6). */
export async function createRedisLocationStore(spec: string): Promise<LocationStore> {
  throw new InvalidArgumentError(`--location ${spec}: the Redis location store is not built yet`);
}
