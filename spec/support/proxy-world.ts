import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { SipProxy, UserAgent } from '../../lib/index.js';
import type { ProxyOptions, SipResponse, CallRecord } from '../../lib/index.js';

/**
 * A random even port range of `size` ports inside 10000-19999: below the kernel's ephemeral range
 * (32768-60999), so sockets bound to port 0 elsewhere in the suite never take a relay port, and
 * random so parallel runs rarely collide.
 */
export function randomPortRange(size = 40): { min: number; max: number } {
  const min = 10000 + 2 * Math.floor(Math.random() * ((10000 - size) / 2));
  return { min, max: min + size - 1 };
}

/** A proxy on 127.0.0.1, a random port, short timers, no keepalive, a private relay port range. */
export async function startTestProxy(options: ProxyOptions = {}): Promise<{ proxy: SipProxy; records: CallRecord[] }> {
  const records: CallRecord[] = [];
  const proxy = await SipProxy.start({
    listen: { address: '127.0.0.1', port: 0 },
    rtpPorts: randomPortRange(),
    keepalive: false,
    timers: { T1: 50, T2: 400, T4: 500 },
    onCallEnd: (r) => records.push(r),
    ...options,
  });
  return { proxy, records };
}

/**
 * A phone on 127.0.0.1. With `nattedAs`, it writes that (loopback) address into its Via, Contact
 * and SDP while its packets come from 127.0.0.1: to the proxy it looks exactly like a client
 * behind NAT, and nothing ever leaves the loopback network.
 */
export async function startPhone(proxy: SipProxy, user: string, nattedAs?: string): Promise<Phone> {
  const ua = await UserAgent.listen(
    { address: '127.0.0.1', port: 0, ...(nattedAs !== undefined ? { advertisedAddress: nattedAs } : {}) },
    { user, outboundProxy: proxy.address, timers: { T1: 50, T2: 400, T4: 500 } },
  );
  const media = createSocket('udp4');
  await new Promise<void>((resolve) => media.bind(0, '127.0.0.1', resolve));
  return new Phone(ua, media, user, nattedAs ?? '127.0.0.1', proxy);
}

export class Phone {
  readonly received: Buffer[] = [];
  constructor(
    readonly ua: UserAgent,
    readonly media: Socket,
    readonly user: string,
    readonly sdpAddress: string,
    readonly proxy: SipProxy,
  ) {
    media.on('message', (m) => this.received.push(m));
  }

  get aor(): string {
    return `sip:${this.user}@127.0.0.1`;
  }

  get mediaPort(): number {
    return this.media.address().port;
  }

  sdp(version = 1, direction = 'sendrecv'): string {
    return [
      'v=0',
      `o=${this.user} 1000 ${version} IN IP4 ${this.sdpAddress}`,
      's=-',
      `c=IN IP4 ${this.sdpAddress}`,
      't=0 0',
      `m=audio ${this.mediaPort} RTP/AVP 0 8`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      `a=${direction}`,
      '',
    ].join('\r\n');
  }

  async register(expires = 300): Promise<SipResponse> {
    const { address, port } = this.proxy.address;
    const req = this.ua.createRequest({ method: 'REGISTER', uri: `sip:${address}:${port}`, from: this.aor, to: this.aor, contact: this.ua.contact, headers: { Expires: String(expires) } });
    return this.ua.request(req);
  }

  /** Sends `count` fake RTP packets to an address and port. */
  async sendRtp(address: string, port: number, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const pkt = Buffer.alloc(172);
      pkt[0] = 0x80;
      pkt.writeUInt16BE(i, 2);
      pkt.write(this.user, 12);
      await new Promise<void>((resolve, reject) => this.media.send(pkt, port, address, (err) => (err ? reject(err) : resolve())));
    }
  }

  async close(): Promise<void> {
    await this.ua.close();
    await new Promise<void>((resolve) => this.media.close(() => resolve()));
  }
}

/** The c= address and first m= port of an SDP body. */
export function mediaTarget(body: Buffer): { address: string; port: number } {
  const text = body.toString('latin1');
  const c = /^c=IN IP[46] (\S+)/m.exec(text);
  const m = /^m=audio (\d+)/m.exec(text);
  if (c === null || m === null) throw new Error(`no media in SDP: ${text}`);
  return { address: c[1]!, port: Number(m[1]) };
}

/** Resolves when `check` returns true, polling; rejects after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
