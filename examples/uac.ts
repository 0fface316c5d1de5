/**
 * A user agent client: places calls (INVITE with an SDP offer, ACK, BYE after a short hold) and
 * ends with `calls: N succeeded, M failed`; exits 0 when every call succeeded, 1 otherwise.
 * Retransmissions (RFC 3261 §17 timers) are the transaction layer's job.
 *
 *   npx tsx examples/uac.ts --to sip:uas@127.0.0.1:5060 [--calls 1] [--rate 10] [--hold 1000]
 *                           [--local IP:PORT]
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { UserAgent, parseUri } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    to: { type: 'string' },
    calls: { type: 'string', default: '1' },
    rate: { type: 'string', default: '10' }, // new calls per second
    hold: { type: 'string', default: '1000' }, // ms between the ACK and the BYE
    local: { type: 'string' }, // IP:PORT to bind; default: the address that routes to --to, any port
  },
});
if (values.to === undefined) throw new Error('usage: uac.ts --to sip:USER@IP:PORT [--calls N] [--rate R] [--hold MS] [--local IP:PORT]');
const to = values.to;
const calls = Number(values.calls);
const rate = Number(values.rate);
const holdMs = Number(values.hold);
if (!(calls >= 1 && rate > 0 && holdMs >= 0)) throw new Error('--calls, --rate and --hold want positive numbers');

const target = parseUri(to);
const local = values.local !== undefined ? splitHostPort(values.local) : { host: await routeTo(target.host), port: 0 };
const ua = await UserAgent.listen({ address: local.host, port: local.port }, { user: 'uac', userAgent: 'natter-example-uac' });
const me = ua.transport.sentBy;
console.log(`uac: bound to ${ua.transport.localAddress}:${ua.transport.localPort}, calling ${to} ${calls} time(s)`);

async function call(n: number): Promise<boolean> {
  const invite = ua.createRequest({ method: 'INVITE', uri: to, from: ua.contact, to, body: offer(me.host) });
  try {
    const { response, dialog } = await ua.invite(invite);
    if (dialog === undefined) {
      console.log(`uac: call ${n}: ${response.status} ${response.reason}`);
      return false;
    }
    await new Promise((r) => setTimeout(r, holdMs));
    if (dialog.state === 'terminated') return true; // the callee hung up first
    const bye = await dialog.bye();
    if (bye.status >= 300) console.log(`uac: call ${n}: BYE answered ${bye.status} ${bye.reason}`);
    return bye.status < 300;
  } catch (err) {
    console.log(`uac: call ${n}: ${(err as Error).message}`); // Timer B/F timeout, transport error
    return false;
  }
}

const results: Promise<boolean>[] = [];
for (let n = 1; n <= calls; n++) {
  results.push(call(n));
  if (n < calls) await new Promise((r) => setTimeout(r, 1000 / rate));
}
const ok = (await Promise.all(results)).filter(Boolean).length;
await ua.close();
console.log(`calls: ${ok} succeeded, ${calls - ok} failed`);
process.exitCode = ok === calls ? 0 : 1;

function offer(addr: string): string {
  const ip = addr.includes(':') ? 'IP6' : 'IP4';
  const id = Date.now();
  return [
    'v=0',
    `o=natter ${id} ${id} IN ${ip} ${addr}`,
    's=natter',
    `c=IN ${ip} ${addr}`,
    't=0 0',
    'm=audio 49170 RTP/AVP 0 8',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

/** The local address the system would send from to reach `host` (a connected UDP socket, no packet sent). */
async function routeTo(host: string): Promise<string> {
  const socket = dgram.createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(5060, host, resolve);
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (m === null) throw new Error(`--local wants IP:PORT (or [IPv6]:PORT), got ${s}`);
  return { host: m[1]!, port: Number(m[2]) };
}
