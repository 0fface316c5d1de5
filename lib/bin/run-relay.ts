import { readFileSync } from 'node:fs';
import createDebug from 'debug';
import { InvalidArgumentError } from '../errors.js';
import { parseHostPortOption, parsePortRange } from '../proxy/proxy-options.js';
import { RelayServer, type RelayServerEvent, type RelayServerOptions } from '../relay/redirect/relay-server.js';
import { formatResourceLine } from '../relay/redirect/protocol.js';
import type { LogLevel } from './proxy-config.js';

/** What `natter relay` runs with. */
export interface RelayCommandConfig {
  listen: { address: string; port: number };
  advertise: string | undefined;
  mediaAddress: string[];
  advertisedMediaAddress: string[];
  rtpPorts: { min: number; max: number };
  mediaTimeout: number;
  offerTimeout: number;
  allow: string[];
  secret: string | undefined;
  logLevel: LogLevel;
}

const FLAGS = ['listen', 'advertise', 'media-address', 'advertised-media-address', 'rtp-ports', 'media-timeout', 'offer-timeout', 'allow', 'secret-file', 'log-level'] as const;
type Flag = (typeof FLAGS)[number];

/**
 * Reads `natter relay` arguments: `--listen IP:PORT` (default 127.0.0.1:5070), `--advertise HOST`,
 * `--media-address IP[,IP6]` (default the listen address), `--advertised-media-address IP[,IP6]`,
 * `--rtp-ports MIN-MAX` (default 30000-39999), `--media-timeout S` (60), `--offer-timeout S` (300),
 * `--allow ADDR|PREFIX` (repeatable), `--secret-file FILE` (else NATTER_RELAY_SECRET),
 * `--log-level LEVEL`. Off loopback, one of --allow and a secret is required. Throws
 * InvalidArgumentError.
 */
export function parseRelayArgs(
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): RelayCommandConfig {
  const values = new Map<Flag, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new InvalidArgumentError(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (!(FLAGS as readonly string[]).includes(name)) throw new InvalidArgumentError(`unknown option --${name}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new InvalidArgumentError(`--${name} needs a value`);
    const list = value.split(',').map((v) => v.trim()).filter((v) => v.length > 0);
    values.set(name as Flag, [...(values.get(name as Flag) ?? []), ...list]);
  }
  const one = (k: Flag): string | undefined => values.get(k)?.at(-1);
  const seconds = (k: Flag, fallback: number): number => {
    const text = one(k);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`bad --${k} ${text}: seconds, 0 for never`);
    return n;
  };
  const level = one('log-level') ?? 'info';
  if (!['error', 'warn', 'info', 'debug'].includes(level)) throw new InvalidArgumentError(`bad --log-level ${level}: error, warn, info or debug`);
  const listen = parseHostPortOption(one('listen') ?? '127.0.0.1:5070', '--listen');
  if (one('listen') !== undefined && !/:\d+$/.test(one('listen')!)) listen.port = 5070;
  const secretFile = one('secret-file');
  let secret: string | undefined;
  if (secretFile !== undefined) {
    try {
      secret = readFile(secretFile).trim();
    } catch (err) {
      throw new InvalidArgumentError(`cannot read --secret-file ${secretFile}: ${(err as Error).message}`);
    }
    if (secret === '') throw new InvalidArgumentError(`--secret-file ${secretFile} is empty`);
  } else if (env.NATTER_RELAY_SECRET) secret = env.NATTER_RELAY_SECRET;
  const allow = values.get('allow') ?? [];
  // docs/relay-protocol.md section 8: a relay restricts who may use it
  if (allow.length === 0 && secret === undefined && !isLoopback(listen.address)) {
    throw new InvalidArgumentError(
      `refusing to run an open relay on ${listen.address}: give --allow ADDR|PREFIX or a shared secret (--secret-file, NATTER_RELAY_SECRET); --allow 0.0.0.0/0 allows anyone`,
    );
  }
  return {
    listen,
    advertise: one('advertise'),
    mediaAddress: values.get('media-address') ?? [listen.address],
    advertisedMediaAddress: values.get('advertised-media-address') ?? [],
    rtpPorts: parsePortRange(one('rtp-ports') ?? '30000-39999'),
    mediaTimeout: seconds('media-timeout', 60),
    offerTimeout: seconds('offer-timeout', 300),
    allow,
    secret,
    logLevel: level as LogLevel,
  };
}

function isLoopback(address: string): boolean {
  return address === '::1' || /^127\./.test(address);
}

/** The library options for a command configuration. */
export function relayServerOptions(config: RelayCommandConfig): RelayServerOptions {
  return {
    listen: config.listen,
    ...(config.advertise !== undefined ? { advertisedAddress: config.advertise } : {}),
    mediaAddress: config.mediaAddress,
    ...(config.advertisedMediaAddress.length > 0 ? { advertisedMediaAddress: config.advertisedMediaAddress } : {}),
    rtpPorts: config.rtpPorts,
    mediaTimeoutMs: config.mediaTimeout * 1000,
    offerTimeoutMs: config.offerTimeout * 1000,
    ...(config.allow.length > 0 ? { allow: config.allow } : {}),
    ...(config.secret !== undefined ? { secret: config.secret } : {}),
  };
}

/** One log line per relay event: allocations, updates and releases at info, refusals at warn. */
export function formatRelayEvent(event: RelayServerEvent): string {
  switch (event.type) {
    case 'allocated':
      return `allocate from ${event.source.address}:${event.source.port} ${formatResourceLine(event.resource)}`;
    case 'updated':
      return `${event.sdp} from ${event.party} ${formatResourceLine(event.resource)}`;
    case 'released':
      return `release reason=${event.reason} ${formatResourceLine(event.resource)}`;
    case 'refused':
      return `refuse ${event.method} from ${event.source.address}:${event.source.port}: ${event.status} ${event.reason}`;
  }
}

/**
 * `natter relay`: runs a relay server (the local media forwarder behind the relay-by-redirect
 * protocol) until SIGINT/SIGTERM, logging one line per allocation, update, release and refusal;
 * then frees every resource and exits 0.
 */
export async function runRelay(argv: readonly string[]): Promise<void> {
  const config = parseRelayArgs(argv);
  if (config.logLevel === 'debug') createDebug.enable('natter:*');
  const info = config.logLevel === 'info' || config.logLevel === 'debug';
  const warn = info || config.logLevel === 'warn';
  const server = await RelayServer.start({
    ...relayServerOptions(config),
    onEvent: (event) => {
      if (event.type === 'refused' ? warn : info) process.stdout.write(formatRelayEvent(event) + '\n');
    },
  });
  const { address, port } = server.address;
  if (info) {
    const auth = [config.allow.length > 0 ? `allow ${config.allow.join(',')}` : 'allow any', config.secret !== undefined ? 'signed requests' : 'unsigned requests'];
    process.stdout.write(
      `natter relay listening on ${address}:${port} (udp) as ${server.uri}, media ${config.mediaAddress.join(',')} ports ` +
        `${config.rtpPorts.min}-${config.rtpPorts.max}, instance ${server.instance}, ${auth.join(', ')}\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    if (info) process.stdout.write(`natter relay stopping (${signal})\n`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
