/**
 * The natter proxy built from the library in a few lines: registrar, NAT detection, the local
 * media relay for calls with a party behind NAT, one line per call.
 *
 *   npx tsx examples/proxy.ts [IP:PORT]
 */
import { SipProxy, formatCallRecord, parseHostPortOption } from '../lib/index.js';

const listen = parseHostPortOption(process.argv[2] ?? '127.0.0.1:5060');
const proxy = await SipProxy.start({
  listen,
  rtpPorts: { min: 30000, max: 30999 },
  onCallEnd: (call) => console.log(formatCallRecord(call)),
});
console.log(`proxy on ${proxy.address.address}:${proxy.address.port}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void proxy.close().then(() => process.exit(0));
  });
}
