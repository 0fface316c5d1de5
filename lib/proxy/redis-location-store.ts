import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import createDebug from 'debug';
import { ClosedError, InvalidArgumentError } from '../errors.js';
import { type Binding, sameBinding } from './binding.js';
import { LocationFullError, type LocationStore } from './location-store.js';
import { RedisClient, type RedisClientOptions, RedisScript } from './redis/redis-client.js';
import { RedisError, type RespValue } from './redis/resp.js';

const debug = createDebug('natter:registrar:redis');

export interface RedisLocationStoreOptions {
  /** `redis://[:password@]HOST[:PORT][/DB]`; or give `redis` options, or a `client`. */
  url?: string;
  redis?: RedisClientOptions;
  /** A client to use (not closed by close()); the store otherwise makes and owns one. */
  client?: RedisClient;
  /** Prefix of every key (default `natter:`): several natter clusters can share one Redis. */
  prefix?: string;
  /** Most bindings one AOR may have (default 10), enforced atomically. */
  maxPerAor?: number;
  /** Most bindings in the store (default 100000). */
  maxTotal?: number;
  /** Time source, ms since the epoch (default Date.now); binding expiry times are in this scale. */
  clock?: { now(): number };
  /** Name of this store's process, recorded with each binding it saves (default `HOST:PID`). */
  owner?: string;
  /**
   * `all()` returns only the bindings this owner saved, so that each proxy's NAT keepalive pings
   * only the phones that registered through it (whose NAT lets its pings in). Default false.
   */
  ownBindingsOnly?: boolean;
  /** Attempts of an optimistic update that loses to concurrent writers (default 10). */
  maxRetries?: number;
}

/** What is stored under a binding key: the binding and the owner that saved it. */
interface Stored {
  o: string;
  b: Binding;
}

/*
 * Keys, for AOR `a` and binding id `i` (prefix `natter:`):
 *   natter:binding:a#i  the binding as JSON, with a TTL equal to its expiry (SET ... PX)
 *   natter:aor:a        sorted set: binding ids of `a`, scored by expiry (ms); TTL = the latest expiry
 *   natter:aorver:a     the AOR's version: a fresh value of natter:seq on each change, same TTL
 *   natter:bindings     sorted set of every `a#i`, scored by expiry (for all() and the total cap)
 *   natter:seq          the counter versions come from
 * A change reads the AOR (READ), decides in TypeScript (sameBinding's URI comparison cannot be
 * done in Lua), and applies with a script that first checks the version it read: an optimistic,
 * atomic per-AOR update that retries when another proxy changed the AOR in between.
 */

const READ = new RedisScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
local out = { redis.call('GET', KEYS[2]) or '0' }
for _, id in ipairs(ids) do
  local v = redis.call('GET', ARGV[2] .. id)
  if v then out[#out + 1] = id; out[#out + 1] = v end
end
return out
`);

const SAVE = new RedisScript(`
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return {'conflict'} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
if ARGV[10] == '1' then
  local n = redis.call('ZCARD', KEYS[1])
  if n >= tonumber(ARGV[8]) then return {'per-aor', n} end
  local t = redis.call('ZCARD', KEYS[3])
  if t >= tonumber(ARGV[9]) then return {'total', t} end
end
redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[6])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local ttl = string.format('%d', tonumber(last[2]) - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], redis.call('INCR', KEYS[5]), 'PX', ttl)
return {'ok'}
`);

const REMOVE = new RedisScript(`
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return {'conflict'} end
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[4])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[2], redis.call('INCR', KEYS[5]), 'PX', ttl)
else
  redis.call('DEL', KEYS[1], KEYS[2])
end
return {'ok', removed}
`);

const REMOVE_ALL = new RedisScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local live = 0
for i = 1, #ids, 2 do
  local id = ids[i]
  local existed = redis.call('DEL', ARGV[2] .. id)
  if existed == 1 and tonumber(ids[i + 1]) > tonumber(ARGV[1]) then live = live + 1 end
  redis.call('ZREM', KEYS[3], ARGV[3] .. id)
end
redis.call('DEL', KEYS[1], KEYS[2])
return live
`);

function byPreference(a: Binding, b: Binding): number {
  return (b.q ?? 1) - (a.q ?? 1) || b.expiresAt - a.expiresAt;
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * A LocationStore in Redis, so that several natter proxies serving one SIP domain share their
 * registrations: a phone registered through one proxy is reachable through any other. Each
 * binding is a key whose TTL is its expiry, so Redis forgets it on time even when no proxy is
 * left running; updates of an AOR are atomic (an optimistic version check inside a Lua script),
 * with the per-AOR cap checked in the same script. Needs a single Redis (or a Sentinel-managed
 * primary): the scripts touch keys of several AORs, which Redis Cluster does not allow.
 */
export class RedisLocationStore implements LocationStore {
  readonly limits: { readonly maxPerAor: number; readonly maxTotal: number };
  readonly client: RedisClient;
  readonly prefix: string;
  readonly owner: string;
  readonly #ownsClient: boolean;
  readonly #clock: { now(): number };
  readonly #ownOnly: boolean;
  readonly #maxRetries: number;
  #closed = false;

  constructor(options: RedisLocationStoreOptions = {}) {
    this.#ownsClient = options.client === undefined;
    this.client = options.client ?? new RedisClient({ ...(options.url !== undefined ? RedisClient.optionsFromUrl(options.url) : {}), ...options.redis });
    this.prefix = options.prefix ?? 'natter:';
    this.owner = options.owner ?? `${hostname()}:${process.pid}`;
    this.limits = {
      maxPerAor: positiveInteger('maxPerAor', options.maxPerAor ?? 10),
      maxTotal: positiveInteger('maxTotal', options.maxTotal ?? 100000),
    };
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#ownOnly = options.ownBindingsOnly ?? false;
    this.#maxRetries = positiveInteger('maxRetries', options.maxRetries ?? 10);
  }

  /** Makes a store and checks that Redis answers (PING), so a bad address fails at start-up. */
  static async connect(options: RedisLocationStoreOptions = {}): Promise<RedisLocationStore> {
    const store = new RedisLocationStore(options);
    try {
      await store.client.call('PING');
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async lookup(aor: string): Promise<Binding[]> {
    this.#open();
    const { entries } = await this.#read(aor);
    return entries.map((e) => e.binding).sort(byPreference);
  }

  async save(binding: Binding): Promise<void> {
    this.#open();
    const aor = binding.aor;
    for (let attempt = 0; attempt < this.#maxRetries; attempt++) {
      const now = this.#clock.now();
      const { version, entries } = await this.#read(aor, now);
      const existing = entries.find((e) => sameBinding(e.binding, binding));
      const ttl = Math.ceil(binding.expiresAt - now);
      if (ttl <= 0) {
        // already expired: saving it is forgetting it
        if (existing === undefined || (await this.#remove(aor, existing.id, version)) !== 'conflict') return;
        continue;
      }
      const id = existing?.id ?? randomBytes(8).toString('hex');
      const stored: Stored = { o: this.owner, b: binding };
      const reply = await this.client.eval(SAVE, [this.#aorKey(aor), this.#verKey(aor), this.#allKey(), this.#bindingKey(aor, id), this.#seqKey()], [
        version,
        now,
        binding.expiresAt,
        ttl,
        id,
        `${aor}#${id}`,
        JSON.stringify(stored),
        this.limits.maxPerAor,
        this.limits.maxTotal,
        existing === undefined ? '1' : '0',
      ]);
      const [status, count] = Array.isArray(reply) ? reply : [];
      if (status === 'ok') return;
      if (status === 'per-aor') throw new LocationFullError('per-aor', `${aor} already has ${String(count)} bindings (maxPerAor ${this.limits.maxPerAor})`);
      if (status === 'total') throw new LocationFullError('total', `location store holds ${String(count)} bindings (maxTotal ${this.limits.maxTotal})`);
      debug('save of %s -> %s lost to a concurrent change, retrying', aor, binding.contact);
    }
    throw new RedisError('ERR_REDIS_CONFLICT', `save of ${aor} kept losing to concurrent changes (${this.#maxRetries} attempts)`);
  }

  async remove(aor: string, contact: string): Promise<boolean> {
    this.#open();
    for (let attempt = 0; attempt < this.#maxRetries; attempt++) {
      const { version, entries } = await this.#read(aor);
      const existing = entries.find((e) => sameBinding(e.binding, { contact }));
      if (existing === undefined) return false;
      const result = await this.#remove(aor, existing.id, version);
      if (result !== 'conflict') return result;
    }
    throw new RedisError('ERR_REDIS_CONFLICT', `remove from ${aor} kept losing to concurrent changes (${this.#maxRetries} attempts)`);
  }

  async removeAll(aor: string): Promise<number> {
    this.#open();
    const reply = await this.client.eval(REMOVE_ALL, [this.#aorKey(aor), this.#verKey(aor), this.#allKey()], [this.#clock.now(), this.#bindingKey(aor, ''), `${aor}#`]);
    return typeof reply === 'number' ? reply : 0;
  }

  async all(): Promise<Binding[]> {
    this.#open();
    const now = this.#clock.now();
    const members = await this.client.call('ZRANGEBYSCORE', this.#allKey(), `(${now}`, '+inf');
    const out: Binding[] = [];
    const list = Array.isArray(members) ? members.filter((m): m is string => typeof m === 'string') : [];
    for (let i = 0; i < list.length; i += 500) {
      const values = await this.client.call('MGET', ...list.slice(i, i + 500).map((m) => `${this.prefix}binding:${m}`));
      for (const v of Array.isArray(values) ? values : []) {
        const stored = typeof v === 'string' ? parse(v) : undefined;
        if (stored === undefined || stored.b.expiresAt <= now) continue;
        if (this.#ownOnly && stored.o !== this.owner) continue;
        out.push(stored.b);
      }
    }
    return out;
  }

  /** Closes the connection (when the store made it); later calls reject with ClosedError. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) await this.client.close();
  }

  // ---- internals ------------------------------------------------------------------------

  async #read(aor: string, now = this.#clock.now()): Promise<{ version: string; entries: { id: string; binding: Binding }[] }> {
    const reply = await this.client.eval(READ, [this.#aorKey(aor), this.#verKey(aor)], [now, this.#bindingKey(aor, '')]);
    const items = Array.isArray(reply) ? reply : [];
    const version = typeof items[0] === 'string' ? items[0] : String(items[0] ?? '0');
    const entries: { id: string; binding: Binding }[] = [];
    for (let i = 1; i + 1 < items.length; i += 2) {
      const id = items[i];
      const stored = typeof items[i + 1] === 'string' ? parse(items[i + 1] as string) : undefined;
      if (typeof id === 'string' && stored !== undefined && stored.b.expiresAt > now) entries.push({ id, binding: stored.b });
    }
    return { version, entries };
  }

  async #remove(aor: string, id: string, version: string): Promise<boolean | 'conflict'> {
    const reply = await this.client.eval(REMOVE, [this.#aorKey(aor), this.#verKey(aor), this.#allKey(), this.#bindingKey(aor, id), this.#seqKey()], [version, id, `${aor}#${id}`]);
    const [status, removed] = Array.isArray(reply) ? (reply as RespValue[]) : [];
    if (status === 'conflict') return 'conflict';
    return removed === 1;
  }

  #aorKey(aor: string): string {
    return `${this.prefix}aor:${aor}`;
  }

  #verKey(aor: string): string {
    return `${this.prefix}aorver:${aor}`;
  }

  #bindingKey(aor: string, id: string): string {
    return `${this.prefix}binding:${aor}#${id}`;
  }

  #allKey(): string {
    return `${this.prefix}bindings`;
  }

  #seqKey(): string {
    return `${this.prefix}seq`;
  }

  #open(): void {
    if (this.#closed) throw new ClosedError('location store is closed');
  }
}

function parse(json: string): Stored | undefined {
  try {
    const v = JSON.parse(json) as Stored;
    return typeof v === 'object' && v !== null && typeof v.b === 'object' && v.b !== null ? v : undefined;
  } catch {
    return undefined;
  }
}
