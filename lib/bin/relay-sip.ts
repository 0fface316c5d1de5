import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../errors.js';
import { parseUri } from '../message/uri.js';
import type { RelayAllocator } from '../relay/relay-allocator.js';
import { RelayPool, type RelayPoolMemberOptions } from '../relay/redirect/relay-pool.js';
import { normalizeRelayUri } from '../relay/redirect/redirect-relay-allocator.js';

const PARAMS = ['weight', 'timeout', 'check', 'owner', 'secret-file'] as const;

/**
 * One `--relay sip:relay@HOST:PORT[;weight=N][;timeout=MS][;check=MS][;owner=TOKEN][;secret-file=PATH]`
 * spec as pool member options. The secret comes from `secret-file`, else from the environment
 * variable NATTER_RELAY_SECRET; the owner from `owner`, else NATTER_RELAY_OWNER.
 */
export function relayMemberFromSpec(
  spec: string,
  env: Record<string, string | undefined> = process.env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): RelayPoolMemberOptions {
  let uri;
  try {
    uri = parseUri(spec);
  } catch (err) {
    throw new InvalidArgumentError(`--relay ${spec}: ${(err as Error).message}`);
  }
  for (const name of Object.keys(uri.params)) {
    if (!(PARAMS as readonly string[]).includes(name.toLowerCase())) throw new InvalidArgumentError(`--relay ${spec}: unknown parameter ${name} (${PARAMS.join(', ')})`);
  }
  const param = (name: (typeof PARAMS)[number]): string | undefined => {
    const entry = Object.entries(uri.params).find(([k]) => k.toLowerCase() === name);
    if (entry === undefined) return undefined;
    if (entry[1] === null || entry[1] === '') throw new InvalidArgumentError(`--relay ${spec}: ${name} needs a value`);
    return entry[1];
  };
  const number = (name: 'weight' | 'timeout' | 'check', min: number): number | undefined => {
    const text = param(name);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`--relay ${spec}: bad ${name}=${text}`);
    return n;
  };
  const secretFile = param('secret-file');
  let secret: string | undefined;
  if (secretFile !== undefined) {
    try {
      secret = readFile(secretFile).trim();
    } catch (err) {
      throw new InvalidArgumentError(`--relay ${spec}: cannot read the secret file: ${(err as Error).message}`);
    }
  } else if (env.NATTER_RELAY_SECRET) secret = env.NATTER_RELAY_SECRET;
  const owner = param('owner') ?? env.NATTER_RELAY_OWNER;
  const weight = number('weight', 0);
  const timeout = number('timeout', 1);
  const check = number('check', 0);
  return {
    relay: normalizeRelayUri(spec.split(';')[0]!),
    ...(weight !== undefined ? { weight } : {}),
    ...(timeout !== undefined ? { requestTimeoutMs: timeout } : {}),
    ...(check !== undefined ? { checkIntervalMs: check } : {}),
    ...(owner ? { owner } : {}),
    ...(secret ? { secret } : {}),
  };
}

/** The relay allocator for `--relay sip:...` specs: a pool of relay servers (one or more). */
export async function createSipRelayAllocator(specs: readonly string[]): Promise<RelayAllocator> {
  const relays = specs.map((spec) => relayMemberFromSpec(spec));
  const longest = Math.max(...relays.map((r) => r.requestTimeoutMs ?? 2000));
  return RelayPool.start({ relays, allocationTimeoutMs: 2 * longest });
}
