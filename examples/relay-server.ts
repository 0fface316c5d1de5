/**
 * A relay server built from the library: the media forwarder behind the relay-by-redirect
 * protocol (docs/relay-protocol.md), one log line per allocation, answer, release and refusal.
 * A natter proxy uses it with `--relay sip:relay@IP:PORT` (several for a pool).
 *
 *   npx tsx examples/relay-server.ts [IP:PORT] [MEDIA-IP] [MIN-MAX]
 *   npx tsx examples/relay-server.ts 127.0.0.1:5070 127.0.0.1 31000-31999
 *
 * NATTER_RELAY_SECRET in the environment makes it require signed requests.
 */
import { RelayServer, formatResourceLine, parseHostPortOption, parsePortRange } from '../lib/index.js';

const listen = parseHostPortOption(process.argv[2] ?? '127.0.0.1:5070');
const server = await RelayServer.start({
  listen,
  mediaAddress: process.argv[3] ?? listen.address,
  rtpPorts: parsePortRange(process.argv[4] ?? '31000-31999'),
  ...(process.env.NATTER_RELAY_SECRET ? { secret: process.env.NATTER_RELAY_SECRET } : {}),
  onEvent: (event) => {
    if (event.type === 'refused') console.log(`refused ${event.method} from ${event.source.address}: ${event.status} ${event.reason}`);
    else if (event.type === 'released') console.log(`released (${event.reason}) ${formatResourceLine(event.resource)}`);
    else console.log(`${event.type} ${formatResourceLine(event.resource)}`);
  },
});
console.log(`relay server ${server.uri} (instance ${server.instance})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
