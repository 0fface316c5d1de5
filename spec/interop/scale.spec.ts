import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { join, resolve } from 'node:path';
import { RedisClient, UserAgent } from '../../lib/index.js';
import type { Endpoint, SipResponse } from '../../lib/index.js';
import { RedisServer, redisServerBinary } from '../support/redis-server.js';
import { RtpengineDaemon, freeUdpPort, rtpengineBinary } from '../support/rtpengine-daemon.js';
import { eventually, mediaTarget } from '../support/proxy-world.js';

const root = resolve(import.meta.dirname, '..', '..');
const TIMERS = { T1: 50, T2: 400, T4: 500 };
const DOMAIN = 'example.test';

/** A `natter proxy` child process, stopped by its own PID. */
class ProxyProcess {
  out = '';
  readonly exited: Promise<number | null>;
  constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }

  static async start(args: string[]): Promise<ProxyProcess> {
    const port = await freeUdpPort();
    const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'lib', 'bin', 'natter.ts'), 'proxy', '--listen', `127.0.0.1:${port}`, ...args], { cwd: root });
    const p = new ProxyProcess(child, port);
    const deadline = Date.now() + 15000;
    while (!p.out.includes('listening on') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!p.out.includes(`listening on 127.0.0.1:${port}`)) {
      child.kill('SIGKILL');
      throw new Error(`natter proxy did not start:\n${p.out}`);
    }
    return p;
  }

  get address(): Endpoint {
    return { address: '127.0.0.1', port: this.port };
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      const code = await this.exited;
      clearTimeout(timer);
      return code;
    }
    return this.exited;
  }
}

/** A phone on 127.0.0.1 using one proxy as its outbound proxy; `nattedAs` makes it look behind NAT. */
class ScalePhone {
  readonly received: Buffer[] = [];
  private constructor(
    readonly ua: UserAgent,
    readonly media: Socket,
    readonly user: string,
    readonly sdpAddress: string,
  ) {
    media.on('message', (m) => this.received.push(m));
  }

  static async start(user: string, proxy: Endpoint, nattedAs?: string): Promise<ScalePhone> {
    const ua = await UserAgent.listen({ address: '127.0.0.1', port: 0, ...(nattedAs !== undefined ? { advertisedAddress: nattedAs } : {}) }, { user, outboundProxy: proxy, timers: TIMERS });
    const media = createSocket('udp4');
    await new Promise<void>((r) => media.bind(0, '127.0.0.1', r));
    return new ScalePhone(ua, media, user, nattedAs ?? '127.0.0.1');
  }

  get aor(): string {
    return `sip:${this.user}@${DOMAIN}`;
  }

  sdp(): string {
    const port = this.media.address().port;
    return ['v=0', `o=${this.user} 1 1 IN IP4 ${this.sdpAddress}`, 's=-', `c=IN IP4 ${this.sdpAddress}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');
  }

  register(expires: number): Promise<SipResponse> {
    return this.ua.request(this.ua.createRequest({ method: 'REGISTER', uri: `sip:${DOMAIN}`, from: this.aor, to: this.aor, contact: this.ua.contact, headers: { Expires: String(expires) } }));
  }

  async sendRtp(to: { address: string; port: number }, count: number, text: string): Promise<void> {
    for (let i = 0; i < count; i++) {
      const pkt = Buffer.alloc(12 + text.length);
      pkt[0] = 0x80;
      pkt.writeUInt16BE(i, 2);
      pkt.write(text, 12);
      await new Promise<void>((r, j) => this.media.send(pkt, to.port, to.address, (e) => (e ? j(e) : r())));
    }
  }

  async close(): Promise<void> {
    await this.ua.close();
    await new Promise<void>((r) => this.media.close(() => r()));
  }
}

/**
 * Several natter proxies behind one SIP domain, sharing registrations in Redis, with media on
 * rtpengine: two `natter proxy` processes (different ports, one redis-server, one rtpengine, all
 * started by the test on loopback). A phone registers through proxy 1 and is called through
 * proxy 2; the media flows through rtpengine.
 */
describe('interop: two natter proxies sharing Redis, media on rtpengine', function () {
  this.timeout(40000);
  let redis: RedisServer | undefined;
  let rtpengine: RtpengineDaemon | undefined;
  const proxies: ProxyProcess[] = [];
  const phones: ScalePhone[] = [];
  const prefix = `scale${Math.random().toString(36).slice(2, 8)}:`;

  before(async function () {
    const redisBin = redisServerBinary();
    const rtpBin = rtpengineBinary();
    if (redisBin === undefined || rtpBin === undefined) {
      console.log(`    ${[redisBin === undefined ? 'redis-server' : '', rtpBin === undefined ? 'rtpengine-daemon' : ''].filter(Boolean).join(' and ')} not installed (run .ci/install-deps.sh): skipping`);
      this.skip();
    }
    [redis, rtpengine] = await Promise.all([RedisServer.start(redisBin), RtpengineDaemon.start(rtpBin)]);
    const args = ['--domain', DOMAIN, '--location', `${redis.url}?prefix=${prefix}`, '--relay', rtpengine.spec, '--nat-ping-interval', '0'];
    proxies.push(...(await Promise.all([ProxyProcess.start(args), ProxyProcess.start(args)])));
  });

  after(async () => {
    for (const p of phones.splice(0)) await p.close();
    const codes = await Promise.all(proxies.map((p) => p.stop()));
    await Promise.all([redis?.stop(), rtpengine?.stop()]);
    expect(codes.every((c) => c === 0), 'proxies exit 0 on SIGTERM').to.equal(true);
  });

  it('a phone registered through proxy 1 is called through proxy 2, with RTP both ways through rtpengine', async () => {
    const [p1, p2] = proxies as [ProxyProcess, ProxyProcess];
    const bob = await ScalePhone.start('bob', p1.address);
    const alice = await ScalePhone.start('alice', p2.address, '127.0.0.99');
    phones.push(bob, alice);
    let sdpAtBob: Buffer | undefined;
    bob.ua.onRequest((req) => {
      if (req.method !== 'INVITE') return void req.respond(200);
      sdpAtBob = req.request.body;
      req.respond(200, 'OK', { body: bob.sdp(), contentType: 'application/sdp' });
    });

    expect((await bob.register(300)).status).to.equal(200);
    // the binding is in Redis, with a TTL of its expiry
    const client = new RedisClient({ port: redis!.port });
    try {
      const keys = (await client.call('KEYS', `${prefix}binding:sip:bob@${DOMAIN}#*`)) as string[];
      expect(keys).to.have.length(1);
      expect(await client.call('PTTL', keys[0]!)).to.be.within(290000, 300000);
    } finally {
      await client.close();
    }

    const invite = alice.ua.createRequest({ method: 'INVITE', uri: bob.aor, from: alice.aor, to: bob.aor, body: alice.sdp() });
    const { response, dialog } = await alice.ua.invite(invite);
    expect(response.status).to.equal(200);
    // both parties got SDP naming rtpengine's media ports, never the natted caller's address
    const forAlice = mediaTarget(response.body);
    const forBob = mediaTarget(sdpAtBob!);
    for (const t of [forAlice, forBob]) {
      expect(t.address).to.equal('127.0.0.1');
      expect(t.port).to.be.within(rtpengine!.portMin, rtpengine!.portMax);
    }
    expect(sdpAtBob!.toString()).to.not.include('127.0.0.99');

    // bob speaks first: rtpengine reaches alice at her SIP source address, not the SDP's 127.0.0.99
    await bob.sendRtp(forBob, 10, 'bob');
    await eventually(() => alice.received.length >= 10, 3000, 'RTP from bob at alice');
    await alice.sendRtp(forAlice, 10, 'alice');
    await eventually(() => bob.received.length >= 10, 3000, 'RTP from alice at bob');
    expect(bob.received[0]!.subarray(12).toString()).to.equal('alice');
    expect(alice.received[0]!.subarray(12).toString()).to.equal('bob');

    expect((await dialog!.bye()).status).to.equal(200);
    await eventually(() => p2.out.includes('result=bye'), 3000, 'the call line of proxy 2');
    expect(p2.out).to.match(/call sip:alice@example\.test -> .* nat=yes.* relay=\d+\/\d+ .*result=bye/);
  });

  it('an unregistration through proxy 2 is seen by proxy 1 (480 for a call through it)', async () => {
    const [p1, p2] = proxies as [ProxyProcess, ProxyProcess];
    const carol = await ScalePhone.start('carol', p2.address);
    const dave = await ScalePhone.start('dave', p1.address);
    phones.push(carol, dave);
    expect((await carol.register(300)).status).to.equal(200);
    carol.ua.onRequest((req) => void req.respond(486));
    const busy = await dave.ua.request(dave.ua.createRequest({ method: 'INVITE', uri: carol.aor, from: dave.aor, to: carol.aor, body: dave.sdp() }));
    expect(busy.status).to.equal(486);
    expect((await carol.register(0)).status).to.equal(200);
    const gone = await dave.ua.request(dave.ua.createRequest({ method: 'INVITE', uri: carol.aor, from: dave.aor, to: carol.aor, body: dave.sdp() }));
    expect(gone.status).to.equal(480);
  });
});
