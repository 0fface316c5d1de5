import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../errors.js';
import { parseHostPortOption, parsePortRange } from '../proxy/proxy-options.js';
import type { ProxyOptions } from '../proxy/proxy-options.js';
import { parseAlgorithm } from '../auth/digest.js';
import type { DigestAlgorithm } from '../auth/digest.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** What `natter proxy` runs with, from flags and an optional JSON config file. */
export interface ProxyCommandConfig {
  listen: { address: string; port: number };
  domains: string[];
  /** `local` (default), or relay specs for other back ends (`sip:relay@HOST:PORT`, `rtpengine:udp:HOST:PORT`). */
  relay: string[];
  /** Location store spec: `memory` (default) or `redis://HOST:PORT`. */
  location: string;
  /** One IPv4 and/or one IPv6 media address (comma-separated or repeated). */
  mediaAddress: string[] | undefined;
  /** Listen on one dual-stack IPv6 socket for IPv4 and IPv6 clients. */
  dualStack: boolean;
  /** The host written into Via and Record-Route (with --dual-stack: a name with A and AAAA records). */
  advertise: string | undefined;
  rtpPorts: { min: number; max: number } | undefined;
  relayAlways: boolean;
  logLevel: LogLevel;
  /** Seconds between NAT keepalive pings of NATed bindings; 0 turns them off. */
  natPingInterval: number;
  /** `--users FILE`: the users JSON; digest authentication is on when given. */
  users: string | undefined;
  /** `--realm NAME`: the digest realm (default: the first domain, else the listen address). */
  realm: string | undefined;
  /** `--auth-algorithms LIST`: digest algorithms offered, most preferred first (default SHA-256,MD5). */
  authAlgorithms: DigestAlgorithm[];
  /** `--flood-limit N`: requests per source per 2 s before it is blocked; 0 turns flood protection off. */
  floodLimit: number;
  /** `--flood-block SECONDS`: how long a flooding source is ignored. */
  floodBlock: number;
  /** `--scanners drop|allow`: drop requests from well-known scanners (and block their source). */
  dropScanners: boolean;
  /** `--max-message-size BYTES`: larger requests get 513. */
  maxMessageSize: number;
  /** `--max-bindings N`: bindings the memory or file location store holds at most (default 100 000). */
  maxBindings: number;
}

/** The keys accepted both as `--flag` and in the `--config` file (camelCase or kebab-case). */
const KEYS = [
  'listen',
  'domain',
  'relay',
  'location',
  'media-address',
  'rtp-ports',
  'relay-always',
  'dual-stack',
  'advertise',
  'log-level',
  'nat-ping-interval',
  'users',
  'realm',
  'auth-algorithms',
  'flood-limit',
  'flood-block',
  'scanners',
  'max-message-size',
  'max-bindings',
] as const;
type Key = (typeof KEYS)[number];

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/**
 * Reads `natter proxy` arguments: `--listen IP:PORT`, `--domain NAME` (repeatable),
 * `--relay local|SPEC` (repeatable), `--location memory|SPEC`, `--media-address IP`, `--rtp-ports MIN-MAX`, `--relay-always`,
 * `--log-level LEVEL`, `--nat-ping-interval SECONDS` (0: off), `--users FILE`, `--realm NAME`, `--auth-algorithms LIST`,
 * `--flood-limit N` (0: off), `--flood-block SECONDS`, `--scanners drop|allow`,
 * `--max-message-size BYTES`, `--max-bindings N`, `--config FILE`. Flags win over the file. Throws InvalidArgumentError.
 */
export function parseProxyArgs(argv: readonly string[], readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): ProxyCommandConfig {
  const values = new Map<Key, string[]>();
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new InvalidArgumentError(`unexpected argument ${arg}`);
    const [rawName, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (rawName === 'config') {
      configFile = inline ?? argv[++i];
      continue;
    }
    const name = rawName as Key;
    if (!KEYS.includes(name)) throw new InvalidArgumentError(`unknown option --${rawName}`);
    if (name === 'relay-always' || name === 'dual-stack') {
      values.set(name, ['true']);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new InvalidArgumentError(`--${name} needs a value`);
    values.set(name, [...(values.get(name) ?? []), ...value.split(',').map((v) => v.trim()).filter((v) => v.length > 0)]);
  }
  if (configFile !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFile(configFile));
    } catch (e) {
      throw new InvalidArgumentError(`cannot read config ${configFile}: ${(e as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidArgumentError('the config file must hold a JSON object');
    for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
      const name = (kebab(k) === 'domains' ? 'domain' : kebab(k)) as Key;
      if (!KEYS.includes(name)) throw new InvalidArgumentError(`unknown key ${k} in ${configFile}`);
      if (values.has(name)) continue;
      const list = Array.isArray(v) ? v.map(String) : [String(v)];
      values.set(name, list);
    }
  }
  const one = (k: Key): string | undefined => values.get(k)?.at(-1);
  const level = one('log-level') ?? 'info';
  if (!['error', 'warn', 'info', 'debug'].includes(level)) throw new InvalidArgumentError(`bad --log-level ${level}: error, warn, info or debug`);
  const relay = values.get('relay') ?? ['local'];
  if (relay.includes('local') && relay.length > 1) throw new InvalidArgumentError('--relay local cannot be combined with other relays');
  for (const r of relay) {
    if (r !== 'local' && !r.startsWith('sip:') && !r.startsWith('rtpengine:')) {
      throw new InvalidArgumentError(`--relay ${r}: local, sip:relay@HOST:PORT or rtpengine:udp:HOST:PORT`);
    }
  }
  const rtp = one('rtp-ports');
  const ping = Number(one('nat-ping-interval') ?? '30');
  if (!Number.isInteger(ping) || ping < 0) throw new InvalidArgumentError(`bad --nat-ping-interval ${one('nat-ping-interval')}: whole seconds, 0 for off`);
  const whole = (key: Key, fallback: number, min: number, what: string): number => {
    const text = one(key);
    const n = Number(text ?? fallback);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`bad --${key} ${text}: ${what}`);
    return n;
  };
  const scanners = one('scanners') ?? 'drop';
  if (scanners !== 'drop' && scanners !== 'allow') throw new InvalidArgumentError(`bad --scanners ${scanners}: drop or allow`);
  const maxMessageSize = whole('max-message-size', 32768, 1024, 'bytes, 1024 to 65507');
  if (maxMessageSize > 65507) throw new InvalidArgumentError(`bad --max-message-size ${maxMessageSize}: bytes, 1024 to 65507`);
  return {
    users: one('users'),
    realm: one('realm'),
    authAlgorithms: (values.get('auth-algorithms') ?? ['SHA-256', 'MD5']).map((a) => {
      const alg = parseAlgorithm(a);
      if (alg === undefined) throw new InvalidArgumentError(`bad --auth-algorithms ${a}: SHA-512-256, SHA-256 or MD5`);
      return alg;
    }),
    floodLimit: whole('flood-limit', 200, 0, 'requests per source per 2 s, 0 for off'),
    floodBlock: whole('flood-block', 60, 1, 'whole seconds'),
    dropScanners: scanners === 'drop',
    maxMessageSize,
    maxBindings: whole('max-bindings', 100000, 1, 'bindings, at least 1'),
    natPingInterval: ping,
    listen: parseHostPortOption(one('listen') ?? '127.0.0.1:5060', '--listen'),
    domains: values.get('domain') ?? [],
    relay,
    location: one('location') ?? 'memory',
    mediaAddress: values.get('media-address'),
    dualStack: one('dual-stack') === 'true',
    advertise: one('advertise'),
    rtpPorts: rtp !== undefined ? parsePortRange(rtp) : undefined,
    relayAlways: one('relay-always') === 'true',
    logLevel: level as LogLevel,
  };
}

/** The library options for a command configuration. */
export function proxyOptions(config: ProxyCommandConfig): ProxyOptions {
  return {
    listen: config.listen,
    domains: config.domains,
    relayAlways: config.relayAlways,
    keepalive: config.natPingInterval === 0 ? false : { interval: config.natPingInterval * 1000 },
    floodGuard: config.floodLimit === 0 ? false : { limit: config.floodLimit, windowMs: 2000, blockMs: config.floodBlock * 1000 },
    dropScanners: config.dropScanners,
    maxMessageSize: config.maxMessageSize,
    ...(config.mediaAddress !== undefined ? { mediaAddress: config.mediaAddress.length === 1 ? config.mediaAddress[0]! : config.mediaAddress } : {}),
    ...(config.dualStack ? { dualStack: true } : {}),
    ...(config.advertise !== undefined ? { advertisedAddress: config.advertise } : {}),
    ...(config.rtpPorts !== undefined ? { rtpPorts: config.rtpPorts } : {}),
  };
}
