import createDebug from 'debug';
import { SipProxy } from '../proxy/proxy.js';
import { formatCallRecord } from '../proxy/call-log.js';
import { parseProxyArgs, proxyOptions } from './proxy-config.js';
import { locationFromSpec, relayFromSpecs } from './backends.js';

/**
 * `natter proxy`: runs the NAT-aware proxy until SIGINT/SIGTERM, printing one line per call at
 * info level, then closes it (releasing every relay port) and exits 0.
 */
export async function runProxy(argv: readonly string[]): Promise<void> {
  const config = parseProxyArgs(argv);
  if (config.logLevel === 'debug') createDebug.enable('natter:*');
  const info = config.logLevel === 'info' || config.logLevel === 'debug';
  const relay = await relayFromSpecs(config.relay);
  const locationStore = await locationFromSpec(config.location);
  const proxy = await SipProxy.start({
    ...proxyOptions(config),
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
      `natter proxy listening on ${address}:${port} (udp), relay ${config.relay.join(',')} on ${config.mediaAddress ?? address} ports ${ports}` +
        `${config.relayAlways ? ', relaying every call' : ''}, domains ${config.domains.length > 0 ? config.domains.join(',') : 'any'}\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    if (info) process.stdout.write(`natter proxy stopping (${signal})\n`);
    const closing = proxy.close().then(() => Promise.all([relay?.close(), locationStore?.close()]));
    closing.then(
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
