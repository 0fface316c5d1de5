import createDebug from 'debug';
import { SipProxy } from '../proxy/proxy.js';
import { formatCallRecord } from '../proxy/call-log.js';
import { LocalRelayAllocator } from '../relay/local/local-relay-allocator.js';
import { parseProxyArgs, proxyOptions } from './proxy-config.js';
import { locationFromSpec, relayFromSpecs } from './backends.js';
import { JsonFileCredentialSource } from '../auth/credentials.js';

/**
 * `natter proxy`: runs the NAT-aware proxy until SIGINT/SIGTERM, printing one line per call at
 * info level, then closes it (releasing every relay port) and exits 0.
 */
export async function runProxy(argv: readonly string[]): Promise<void> {
  const config = parseProxyArgs(argv);
  if (config.logLevel === 'debug') createDebug.enable('natter:*');
  const info = config.logLevel === 'info' || config.logLevel === 'debug';
  const relay = await relayFromSpecs(config.relay);
  const locationStore = await locationFromSpec(config.location, config.maxBindings);
  const credentials = config.users !== undefined ? new JsonFileCredentialSource(config.users) : undefined;
  const options = proxyOptions(config);
  if (options.floodGuard) {
    options.floodGuard = { ...options.floodGuard, onBlock: (address, until) => info && process.stdout.write(`blocked ${address} until ${new Date(until).toISOString()}\n`) };
  }
  const proxy = await SipProxy.start({
    ...options,
    ...(credentials !== undefined ? { auth: { credentials, algorithms: config.authAlgorithms, ...(config.realm !== undefined ? { realm: config.realm } : {}) } } : {}),
    ...(relay !== undefined ? { relay } : {}),
    ...(locationStore !== undefined ? { locationStore } : {}),
    onCallEnd: (record) => {
      if (info) process.stdout.write(formatCallRecord(record) + '\n');
    },
  });
  const { address, port } = proxy.address;
  const ports = config.rtpPorts ? `${config.rtpPorts.min}-${config.rtpPorts.max}` : '30000-39999';
  if (info) {
    process.stdout.write(
      `natter proxy listening on ${address}:${port} (udp), ` +
        (relay === undefined ? `relay local on ${config.mediaAddress?.join(',') ?? address} ports ${ports}` : `relay ${config.relay.join(',')}`) +
        `${config.relayAlways ? ', relaying every call' : ''}, domains ${config.domains.length > 0 ? config.domains.join(',') : credentials !== undefined ? 'own addresses' : 'any'}\n`,
    );
    const auth = proxy.authenticator;
    process.stdout.write(
      `security: ${auth !== undefined ? `digest auth realm "${auth.realm}" (${credentials!.size} users, ${auth.algorithms.join(', ')})` : 'no authentication'}, ` +
        `${config.domains.length > 0 || credentials !== undefined ? 'no open relay' : 'OPEN RELAY (give --domain or --users)'}, ` +
        `flood limit ${config.floodLimit > 0 ? `${config.floodLimit}/2s block ${config.floodBlock}s` : 'off'}, scanners ${config.dropScanners ? 'dropped' : 'allowed'}, ` +
        `max message ${config.maxMessageSize} bytes\n`,
    );
  }
  if (credentials !== undefined) {
    process.on('SIGHUP', () => {
      credentials.reload().then(
        (n) => info && process.stdout.write(`users reloaded: ${n}\n`),
        (err: unknown) => process.stderr.write(`users not reloaded: ${(err as Error).message}\n`),
      );
    });
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    if (info) process.stdout.write(`natter proxy stopping (${signal})\n`);
    const closing = printStats()
      .then(() => proxy.close())
      .then(() => Promise.all([relay?.close(), locationStore?.close()]));
    closing.then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  // one JSON line of proxy.stats() (what it holds, what it refused), on SIGUSR2 and at the end
  const printStats = (): Promise<void> =>
    proxy.stats().then(
      (stats) => {
        const local = proxy.relay instanceof LocalRelayAllocator ? proxy.relay.stats() : undefined;
        const relayStats = local !== undefined ? { relay: { sessions: local.sessionCount, portsInUse: local.portsInUse } } : {};
        if (info) process.stdout.write(`natter proxy stats ${JSON.stringify({ ...stats, ...relayStats, rss: process.memoryUsage.rss() })}\n`);
      },
      () => undefined,
    );
  process.on('SIGUSR2', () => void printStats());
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
