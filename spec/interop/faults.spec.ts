/**
 * Faults: what a proxy on a public address meets besides attackers. Each test ends by checking
 * that what the proxy holds (calls, relay ports, transactions) returns to zero.
 *
 * - in-process: a callee that never answers (Timer C / Timer B), a callee that rings forever
 *   (Timer C, CANCEL), a client that vanishes without BYE (the relay's media timeout), a relay
 *   that dies mid-call (release never answers; re-INVITEs get an answer, not a hang);
 * - through a lossy, reordering network: `tc netem` on the links of the test's own network
 *   namespaces (spec/support/netns.ts), registrations and calls complete by retransmission;
 * - a restart (SIGKILL, a crash) of `natter proxy --location file:PATH` loses no registration.
 */
import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalRelayAllocator, RelayError } from '../../lib/index.js';
import type { CallRecord, IncomingRequest, RelayAllocator, RelayAnswerOptions, RelayOfferOptions, RelaySessionKey, SipProxy, SipRequest } from '../../lib/index.js';
import { startTestProxy, startPhone, mediaTarget, eventually, randomPortRange } from '../support/proxy-world.js';
import type { Phone } from '../support/proxy-world.js';
import { buildNatTopology, canMakeNamespaces, type NatTopology } from '../support/netns.js';
import { ProxyChild } from '../support/proxy-process.js';
import { freeUdpPort } from '../support/sipp.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

async function drained(proxy: SipProxy, ms = 8000): Promise<void> {
  await eventually(
    async () => {
      const s = await proxy.stats();
      const relay = proxy.relay instanceof LocalRelayAllocator ? proxy.relay.stats().portsInUse : 0;
      return s.calls === 0 && s.transactions === 0 && relay === 0;
    },
    ms,
    'calls, transactions and relay ports back to zero',
  );
}

describe('faults: timeouts release everything (in-process)', function () {
  this.timeout(30000);
  let proxy: SipProxy;
  let records: CallRecord[];
  let alice: Phone;
  let bob: Phone;
  let vanished = false;
  afterEach(async () => {
    if (!vanished) {
      await alice?.close();
      await bob?.close();
    }
    vanished = false;
    await proxy?.close();
  });
  // short timers, Timer D included, so that "nothing held" is reached in seconds
  const timers = { T1: 50, T2: 400, T4: 500, D: 500 };

  function invite(): SipRequest {
    const { address, port } = proxy.address;
    return alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() });
  }

  it('a callee that never answers at all: Timer C gives the caller 408 and the relay is released', async () => {
    ({ proxy, records } = await startTestProxy({ timerC: 1000, timers }));
    alice = await startPhone(proxy, 'alice', '127.0.0.99');
    bob = await startPhone(proxy, 'bob');
    // bob's binding points at a socket that swallows everything
    const silent: Socket = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    try {
      await alice.register();
      const { address, port } = proxy.address;
      const reg = bob.ua.createRequest({ method: 'REGISTER', uri: `sip:${address}:${port}`, from: bob.aor, to: bob.aor, contact: `sip:bob@127.0.0.1:${silent.address().port}` });
      expect((await bob.ua.request(reg)).status).to.equal(200);
      const r = await alice.ua.request(invite());
      expect(r.status).to.equal(408);
      expect(records.at(-1)!.result).to.equal('408');
      await drained(proxy);
    } finally {
      silent.close();
    }
  });

  it('a callee that rings forever: Timer C cancels it, the caller gets 487, the relay is released', async () => {
    ({ proxy, records } = await startTestProxy({ timerC: 1000, timers }));
    alice = await startPhone(proxy, 'alice', '127.0.0.99');
    bob = await startPhone(proxy, 'bob');
    let cancelled = false;
    bob.ua.onRequest((req: IncomingRequest) => {
      req.oncancel = () => (cancelled = true);
      req.respond(180);
    });
    await alice.register();
    await bob.register();
    const r = await alice.ua.request(invite(), { onProvisional: () => undefined });
    expect(r.status).to.equal(487);
    expect(cancelled).to.equal(true);
    await drained(proxy);
  });

  it('a client that vanishes without BYE: the relay\'s media timeout ends the call and frees its ports', async () => {
    ({ proxy, records } = await startTestProxy({ mediaTimeoutMs: 600, timers }));
    alice = await startPhone(proxy, 'alice', '127.0.0.99');
    bob = await startPhone(proxy, 'bob');
    let sdpAtBob: Buffer | undefined;
    bob.ua.onRequest((req: IncomingRequest) => {
      if (req.method === 'INVITE') sdpAtBob = req.request.body;
      req.respond(200, 'OK', req.method === 'INVITE' ? { body: bob.sdp(), contentType: 'application/sdp' } : {});
    });
    await alice.register();
    await bob.register();
    const { response } = await alice.ua.invite(invite());
    expect(response.status).to.equal(200);
    const relayForAlice = mediaTarget(response.body);
    const relayForBob = mediaTarget(sdpAtBob!);
    await alice.sendRtp(relayForAlice.address, relayForAlice.port, 5);
    await bob.sendRtp(relayForBob.address, relayForBob.port, 5);
    // both phones disappear: no BYE, no media, sockets gone
    await alice.close();
    await bob.close();
    vanished = true;
    await eventually(() => records.length === 1, 5000, 'the call ended by the media timeout');
    expect(records[0]!.result).to.equal('media-timeout');
    // (the record's packet counts need the local relay to put its counters into the
    // session-ended event, RelaySessionEnded.counters: it does not yet)
    await drained(proxy);
  });

  it('a caller that never ACKs the 200 (a vanished or hostile client): the call is forgotten after 64*T1 and its relay released', async () => {
    ({ proxy, records } = await startTestProxy({ relayAlways: true, timers }));
    alice = await startPhone(proxy, 'alice');
    bob = await startPhone(proxy, 'bob');
    bob.ua.onRequest((req: IncomingRequest) => void req.respond(200, 'OK', req.method === 'INVITE' ? { body: bob.sdp(), contentType: 'application/sdp' } : {}));
    await bob.register();
    const raw: Socket = createSocket('udp4');
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', r));
    let answered = false;
    raw.on('message', (m) => void (m.toString().startsWith('SIP/2.0 200') && (answered = true)));
    try {
      const { address, port } = proxy.address;
      const body = alice.sdp();
      raw.send(
        `INVITE sip:bob@${address}:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${raw.address().port};branch=z9hG4bKnoack1;rport\r\nMax-Forwards: 70\r\n` +
          `From: <sip:ghost@elsewhere.example>;tag=g1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: no-ack-1\r\nCSeq: 1 INVITE\r\nContact: <sip:ghost@127.0.0.1:${raw.address().port}>\r\n` +
          `Content-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        port,
        address,
      );
      await eventually(() => answered, 3000, 'the 200 at the caller');
      expect(proxy.calls.size).to.equal(1);
      await eventually(() => records.length === 1, 6000, 'the call forgotten');
      // the proxy's own no-ACK timer and the callee's (it gives up on the ACK after 64*T1 too,
      // RFC 3261 §13.3.1.4, and sends BYE) run on the same T1: either may end the call first
      expect(records[0]!.result).to.be.oneOf(['no-ack', 'bye']);
      await drained(proxy, 10000);
    } finally {
      raw.close();
    }
  });

  it('an answered call without a relay whose BYE never comes: forgotten after maxCallDuration', async () => {
    ({ proxy, records } = await startTestProxy({ maxCallDuration: 500, timers }));
    alice = await startPhone(proxy, 'alice');
    bob = await startPhone(proxy, 'bob');
    bob.ua.onRequest((req: IncomingRequest) => void req.respond(200, 'OK', req.method === 'INVITE' ? { body: bob.sdp(), contentType: 'application/sdp' } : {}));
    await alice.register();
    await bob.register();
    const { response } = await alice.ua.invite(invite());
    expect(response.status).to.equal(200);
    expect(proxy.calls.size).to.equal(1);
    await eventually(() => records.length === 1, 3000, 'the call forgotten');
    expect(records[0]!.result).to.equal('max-duration');
    await drained(proxy);
  });

  it('a relay that dies mid-call: the BYE still goes through and the call is forgotten; a re-INVITE gets an answer, not a hang', async () => {
    const dying = new DyingRelay(randomPortRange(40));
    ({ proxy, records } = await startTestProxy({ relay: dying, relayAlways: true, timers }));
    alice = await startPhone(proxy, 'alice');
    bob = await startPhone(proxy, 'bob');
    bob.ua.onRequest((req: IncomingRequest) => void req.respond(200, 'OK', req.method === 'INVITE' ? { body: bob.sdp(2), contentType: 'application/sdp' } : {}));
    await alice.register();
    await bob.register();
    const { response, dialog } = await alice.ua.invite(invite());
    expect(response.status).to.equal(200);
    expect(dying.offers).to.equal(1);
    await dying.die();
    const reinvite = await dialog!.request('INVITE', { body: alice.sdp(2), contentType: 'application/sdp' });
    expect(reinvite.status).to.be.within(500, 599);
    expect((await dialog!.bye()).status).to.equal(200);
    await eventually(() => proxy.calls.size === 0, 3000, 'the call forgotten');
    expect(records.at(-1)!.result).to.equal('bye');
    await eventually(async () => (await proxy.stats()).transactions === 0, 8000, 'transactions ended');
    await dying.close();
  });
});

/** A relay that works until `die()`: then it answers nothing (offers fail, releases never return). */
class DyingRelay implements RelayAllocator {
  offers = 0;
  #dead = false;
  readonly #inner: LocalRelayAllocator;
  constructor(range: { min: number; max: number }) {
    this.#inner = new LocalRelayAllocator({ mediaAddress: '127.0.0.1', portMin: range.min, portMax: range.max });
  }
  async die(): Promise<void> {
    this.#dead = true;
    await this.#inner.close();
  }
  offer(key: RelaySessionKey, sdp: Buffer, options: RelayOfferOptions): Promise<Buffer> {
    this.offers++;
    if (this.#dead) return new Promise((_, reject) => setTimeout(() => reject(new RelayError('ERR_RELAY_TIMEOUT', 'relay did not answer', 503)), 200));
    return this.#inner.offer(key, sdp, options);
  }
  answer(key: RelaySessionKey, sdp: Buffer, options: RelayAnswerOptions): Promise<Buffer> {
    if (this.#dead) return new Promise((_, reject) => setTimeout(() => reject(new RelayError('ERR_RELAY_TIMEOUT', 'relay did not answer', 503)), 200));
    return this.#inner.answer(key, sdp, options);
  }
  release(key: RelaySessionKey): Promise<boolean> {
    if (this.#dead) return new Promise(() => undefined); // a dead relay never answers
    return this.#inner.release(key);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

describe('faults: a restart of the proxy with a persistent location store loses no registration', function () {
  this.timeout(60000);
  let dir: string;
  let proxy: ProxyChild | undefined;
  let alice: Phone | undefined;
  let bob: Phone | undefined;
  after(async () => {
    await proxy?.stop();
    await alice?.close();
    await bob?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('registrations made before a crash (SIGKILL) route calls after the restart, without registering again', async () => {
    dir = mkdtempSync(join(tmpdir(), 'natter-restart-'));
    const port = await freeUdpPort();
    const range = randomPortRange(20);
    const args = ['--listen', `127.0.0.1:${port}`, '--rtp-ports', `${range.min}-${range.max}`, '--location', `file:${join(dir, 'location.json')}`, '--nat-ping-interval', '0'];
    proxy = await ProxyChild.start(args);
    // the phones only need the proxy's address; they outlive the process
    const target = { address: { address: '127.0.0.1', port } } as unknown as SipProxy;
    alice = await startPhone(target, 'alice', '127.0.0.99');
    bob = await startPhone(target, 'bob');
    bob.ua.onRequest((req: IncomingRequest) => void req.respond(200, 'OK', req.method === 'INVITE' ? { body: bob!.sdp(), contentType: 'application/sdp' } : {}));
    expect((await alice.register()).status).to.equal(200);
    expect((await bob.register()).status).to.equal(200);

    proxy.child.kill('SIGKILL');
    await proxy.exited;
    proxy = await ProxyChild.start(args);

    const inv = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@127.0.0.1:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() });
    const { response, dialog } = await alice.ua.invite(inv);
    expect(response.status, proxy.output).to.equal(200);
    expect(mediaTarget(response.body).port).to.not.equal(bob.mediaPort); // alice is behind NAT: relayed
    expect((await dialog!.bye()).status).to.equal(200);
    expect(await proxy.stop()).to.equal(0);
    expect(proxy.output).to.match(/"bindings":2/);
  });
});

describe('faults: registrations and calls through a lossy, reordering network (tc netem)', function () {
  this.timeout(180000);
  let topo: NatTopology | undefined;

  before(async function () {
    const can = await canMakeNamespaces();
    if (!can.ok) {
      console.log(`      (skipped: ${can.reason})`);
      return this.skip();
    }
    topo = await buildNatTopology();
  });
  after(async () => {
    await topo?.teardown();
  });

  it('with 20% loss each way (and reordering, where the kernel has netem) between the phones and the proxy, every registration and call completes and the proxy ends holding nothing', async () => {
    const t = topo!;
    try {
      await t.run('core', 'tc', ['-V']);
    } catch {
      console.log('      (skipped: tc not found: install iproute2)');
      return;
    }
    // both directions of the pub2 <-> core link: pub2's wan and core's bridge port toward it.
    // netem loses and reorders; a kernel built without netem (CONFIG_NET_SCH_NETEM) gets the same
    // loss from iptables' statistic match, and no reordering.
    let impairment = 'netem loss 20% delay 10ms reorder 25% 50%';
    try {
      for (const [ns, dev] of [
        ['pub2', 'wan'],
        ['core', 'p-pub2'],
      ] as const) {
        await t.run(ns, 'tc', ['qdisc', 'add', 'dev', dev, 'root', 'netem', 'loss', '20%', 'delay', '10ms', 'reorder', '25%', '50%']);
      }
    } catch (err) {
      if (!/unknown/i.test((err as Error).message)) throw err;
      impairment = 'iptables statistic: 20% of UDP dropped each way (this kernel has no netem: no reordering)';
      // dropped on the way in (a drop on OUTPUT would be an EPERM to the sender, not a loss)
      await t.run('pub2', 'iptables', ['-A', 'INPUT', '-i', 'wan', '-p', 'udp', '-m', 'statistic', '--mode', 'random', '--probability', '0.2', '-j', 'DROP']);
      await t.run('core', 'iptables', ['-A', 'INPUT', '-s', t.addr.pub2, '-p', 'udp', '-m', 'statistic', '--mode', 'random', '--probability', '0.2', '-j', 'DROP']);
    }
    console.log(`      (impairment: ${impairment})`);
    const range = { min: 30000, max: 30099 };
    const proxyChild = t.execIn('core', process.execPath, ['--import', 'tsx', join(ROOT, 'lib', 'bin', 'natter.ts'), 'proxy', '--listen', `${t.addr.core}:5060`, '--rtp-ports', `${range.min}-${range.max}`, '--relay-always', '--nat-ping-interval', '0'], { cwd: ROOT });
    let out = '';
    proxyChild.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proxyChild.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 20000;
    while (!out.includes('listening on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(out).to.include('listening on');

    const phones = t.execIn('pub2', process.execPath, ['--import', 'tsx', join(ROOT, 'spec', 'support', 'netns-phones.ts'), `${t.addr.core}:5060`, t.addr.pub2, '5'], { cwd: ROOT });
    let result = '';
    phones.stdout!.on('data', (d: Buffer) => (result += d.toString()));
    const code = await new Promise<number | null>((r) => {
      const timer = setTimeout(() => phones.kill('SIGKILL'), 150000);
      phones.on('exit', (c) => {
        clearTimeout(timer);
        r(c);
      });
    });
    expect(code, result).to.equal(0);
    const r = JSON.parse(result.trim().split('\n').pop()!) as { registered: number; calls: number; succeeded: number; rtpAtBob: number; failures: string[] };
    expect(r.failures, JSON.stringify(r)).to.deep.equal([]);
    expect(r.registered).to.equal(2);
    expect(r.succeeded).to.equal(5);
    expect(r.rtpAtBob).to.be.greaterThan(0);

    // what the proxy holds once the lost packets' retransmissions are over
    let stats: { calls: number; relay?: { sessions: number; portsInUse: number } } | undefined;
    const until = Date.now() + 10000;
    while (Date.now() < until) {
      const from = out.length;
      proxyChild.kill('SIGUSR2');
      await new Promise((res) => setTimeout(res, 500));
      const line = out.slice(from).split('\n').find((l) => l.startsWith('natter proxy stats '));
      if (line !== undefined) stats = JSON.parse(line.slice('natter proxy stats '.length)) as typeof stats;
      if (stats !== undefined && stats.calls === 0 && stats.relay?.portsInUse === 0) break;
    }
    expect(stats, out).to.not.equal(undefined);
    expect(stats!.calls).to.equal(0);
    expect(stats!.relay).to.deep.equal({ sessions: 0, portsInUse: 0 });
    expect(out.match(/^call .* result=bye/gm) ?? []).to.have.length(5);
    proxyChild.kill('SIGTERM');
  });
});

