import { InvalidArgumentError } from '../errors.js';
import type { RelayAllocator } from '../relay/relay-allocator.js';
import { RtpengineAllocator } from '../relay/rtpengine/rtpengine-allocator.js';
import type { RtpengineNodeSpec } from '../relay/rtpengine/node-set.js';

/**
 * Reads one `--relay` spec of the rtpengine kind: `rtpengine:udp:HOST:PORT[=WEIGHT]` (Kamailio's
 * rtpengine_sock syntax behind a `rtpengine:` scheme), HOST an IPv4 literal or a bracketed IPv6
 * one, e.g. `rtpengine:udp:127.0.0.1:2223=2` or `rtpengine:udp:[::1]:2223`.
 */
export function parseRtpengineSpec(spec: string): RtpengineNodeSpec {
  const m = /^rtpengine:udp:(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})(?:=(\d+))?$/.exec(spec);
  if (m === null) throw new InvalidArgumentError(`--relay ${spec}: rtpengine:udp:HOST:PORT[=WEIGHT], HOST an IP address ([...] for IPv6)`);
  const node: RtpengineNodeSpec = { address: (m[1] ?? m[2])!, port: Number(m[3]) };
  if (m[4] !== undefined) node.weight = Number(m[4]);
  return node;
}

/**
 * The relay allocator for `--relay rtpengine:...` specs (repeatable): one RtpengineAllocator over
 * every instance named, with health pings every 10 s and packet counters for the call lines
 * refreshed every 15 s. Instances that do not answer a first ping are reported on stderr; the
 * proxy starts anyway and takes them into the rotation when they answer.
 */
export async function createRtpengineAllocator(specs: readonly string[]): Promise<RelayAllocator> {
  const relay = new RtpengineAllocator({ instances: specs.map(parseRtpengineSpec), pingInterval: 10000, statsInterval: 15000 });
  await relay.nodes.pingAll();
  for (const n of relay.status().instances) {
    if (!n.up) process.stderr.write(`natter proxy: rtpengine ${n.address}:${n.port} does not answer ping (${n.lastError ?? 'no reply'}); new calls go to the others\n`);
  }
  return relay;
}
