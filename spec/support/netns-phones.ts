/**
 * Two phones in one process, for tests that run them inside a network namespace (the test process
 * itself stays in the root namespace): alice and bob register with the proxy, alice calls bob
 * `calls` times (SDP, 200, ACK, a few RTP packets through the relay, BYE), and one JSON line says
 * how it went. Every wait is bounded by the transaction timers (T1 500 ms, Timer B/F 32 s).
 *
 *   node --import tsx spec/support/netns-phones.ts PROXY_IP:PORT LOCAL_IP CALLS
 */
import { createSocket } from 'node:dgram';
import { UserAgent } from '../../lib/index.js';
import type { IncomingRequest } from '../../lib/index.js';
import { mediaTarget } from './proxy-world.js';

const [proxyText, localIp, callsText] = process.argv.slice(2);
const [proxyIp, proxyPort] = (proxyText ?? '').split(':');
const proxy = { address: proxyIp!, port: Number(proxyPort) };
const calls = Number(callsText ?? 3);

async function main(): Promise<void> {
  const result = { registered: 0, calls: 0, succeeded: 0, rtpAtBob: 0, failures: [] as string[] };
  const alice = await UserAgent.listen({ address: localIp!, port: 0 }, { user: 'alice', outboundProxy: proxy });
  const bob = await UserAgent.listen({ address: localIp!, port: 0 }, { user: 'bob', outboundProxy: proxy });
  const aliceMedia = createSocket('udp4');
  const bobMedia = createSocket('udp4');
  await new Promise<void>((r) => aliceMedia.bind(0, localIp, r));
  await new Promise<void>((r) => bobMedia.bind(0, localIp, r));
  bobMedia.on('message', () => result.rtpAtBob++);
  const sdp = (user: string, port: number): string =>
    ['v=0', `o=${user} 1 1 IN IP4 ${localIp}`, 's=-', `c=IN IP4 ${localIp}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
  bob.onRequest((req: IncomingRequest) => void req.respond(200, 'OK', req.method === 'INVITE' ? { body: sdp('bob', bobMedia.address().port), contentType: 'application/sdp' } : {}));
  const domain = proxy.address;
  for (const [ua, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
    const aor = `sip:${user}@${domain}`;
    try {
      const r = await ua.request(ua.createRequest({ method: 'REGISTER', uri: `sip:${domain}:${proxy.port}`, from: aor, to: aor, contact: ua.contact, headers: { Expires: '600' } }));
      if (r.status === 200) result.registered++;
      else result.failures.push(`REGISTER ${user}: ${r.status}`);
    } catch (err) {
      result.failures.push(`REGISTER ${user}: ${(err as Error).message}`);
    }
  }
  for (let i = 0; i < calls; i++) {
    result.calls++;
    try {
      const invite = alice.createRequest({ method: 'INVITE', uri: `sip:bob@${domain}:${proxy.port}`, from: `sip:alice@${domain}`, to: `sip:bob@${domain}`, body: sdp('alice', aliceMedia.address().port) });
      const { response, dialog } = await alice.invite(invite);
      if (response.status !== 200 || dialog === undefined) throw new Error(`INVITE: ${response.status}`);
      const relay = mediaTarget(response.body);
      for (let n = 0; n < 20; n++) {
        await new Promise<void>((r) => aliceMedia.send(Buffer.alloc(172, 0x80), relay.port, relay.address, () => r()));
        await new Promise((r) => setTimeout(r, 5));
      }
      const bye = await dialog.bye();
      if (bye.status !== 200) throw new Error(`BYE: ${bye.status}`);
      result.succeeded++;
    } catch (err) {
      result.failures.push(`call ${i + 1}: ${(err as Error).message}`);
    }
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  await alice.close();
  await bob.close();
  aliceMedia.close();
  bobMedia.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stdout.write(JSON.stringify({ error: (err as Error).message }) + '\n');
    process.exit(1);
  },
);
