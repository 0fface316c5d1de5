import { InvalidArgumentError } from '../errors.js';
import type { LocationStore } from '../proxy/location-store.js';
import { RedisLocationStore, type RedisLocationStoreOptions } from '../proxy/redis-location-store.js';
import { RedisClient } from '../proxy/redis/redis-client.js';

/**
 * The store options a `--location` Redis URL names:
 * `redis://[:PASSWORD@]HOST[:PORT][/DB][?prefix=natter:&owner=NAME&own-bindings-only=1&max-per-aor=N&max-total=N]`.
 */
export function redisStoreOptions(spec: string): RedisLocationStoreOptions {
  const redis = RedisClient.optionsFromUrl(spec);
  const query = new URL(spec).searchParams;
  const options: RedisLocationStoreOptions = { redis };
  const integer = (name: string): number | undefined => {
    const v = query.get(name);
    if (v === null) return undefined;
    if (!/^\d+$/.test(v) || Number(v) === 0) throw new InvalidArgumentError(`--location ${spec}: ${name} must be a positive integer`);
    return Number(v);
  };
  for (const name of query.keys()) {
    if (!['prefix', 'owner', 'own-bindings-only', 'max-per-aor', 'max-total'].includes(name)) throw new InvalidArgumentError(`--location ${spec}: unknown parameter ${name}`);
  }
  const prefix = query.get('prefix');
  if (prefix !== null) options.prefix = prefix;
  const owner = query.get('owner');
  if (owner !== null) options.owner = owner;
  const own = query.get('own-bindings-only');
  if (own !== null) options.ownBindingsOnly = own === '1' || own === 'true';
  const perAor = integer('max-per-aor');
  if (perAor !== undefined) options.maxPerAor = perAor;
  const total = integer('max-total');
  if (total !== undefined) options.maxTotal = total;
  return options;
}

/** The location store for `--location redis://HOST:PORT`: fails at start-up when Redis does not answer. */
export async function createRedisLocationStore(spec: string): Promise<LocationStore> {
  return RedisLocationStore.connect(redisStoreOptions(spec));
}
