import { expect } from 'chai';
import { RelayError } from '../../../lib/index.js';
import { RtpengineAllocator, bstr, queryCommand } from '../../../lib/relay/rtpengine/index.js';
import { RtpengineDaemon, rtpengineBinary } from '../../support/rtpengine-daemon.js';
import { UdpPeer, eventually, makeSdp, relayTarget, rtpPacket } from '../helpers.js';

/**
 * The rtpengine allocator against the real thing: rtpengine-daemon from Debian, userspace
 * forwarding, control socket and media on 127.0.0.1, started and stopped (by PID) by the test.
 */
describe('relay/rtpengine against a real rtpengine-daemon', function () {
  this.timeout(20000);
  let binary: string | undefined;
  let daemon: RtpengineDaemon;
  let relay: RtpengineAllocator;
  const peers: UdpPeer[] = [];

  before(async function () {
    binary = rtpengineBinary();
    if (binary === undefined) {
      console.log('    rtpengine-daemon not installed (run .ci/install-deps.sh): skipping');
      this.skip();
    }
    daemon = await RtpengineDaemon.start(binary);
  });
  after(async () => {
    await daemon?.stop();
  });
  beforeEach(() => {
    relay = new RtpengineAllocator({ instances: [{ address: '127.0.0.1', port: daemon.ngPort }], timeout: 1500, retransmitInterval: 250, pingInterval: 0 });
  });
  afterEach(async () => {
    await relay?.close();
    for (const p of peers.splice(0)) p.close();
  });

  function inRange(port: number, d = daemon): boolean {
    return port >= d.portMin && port <= d.portMax;
  }

  it('answers ping with pong', async () => {
    expect(await relay.nodes.ping(relay.nodes.nodes[0]!)).to.equal(true);
    expect(relay.status().instances[0]).to.include({ up: true, calls: 0 });
  });

  it('offer, answer and delete: each party gets SDP naming rtpengine, origin and session c= replaced', async () => {
    const key = { callId: `rt-${Date.now()}`, fromTag: 'caller-1' };
    const offer = makeSdp('192.0.2.10', [{ port: 4000 }]);
    const toCallee = await relay.offer(key, offer, { natted: false, from: 'caller' });
    const a = relayTarget(toCallee);
    expect(a.address).to.equal('127.0.0.1');
    expect(inRange(a.rtpPort)).to.equal(true);
    expect(toCallee.toString()).to.not.include('192.0.2.10');
    expect(toCallee.toString()).to.match(/^o=phone 1234567890 \d+ IN IP4 127\.0\.0\.1/m);

    const answer = makeSdp('198.51.100.20', [{ port: 5000 }]);
    const toCaller = await relay.answer({ ...key, toTag: 'callee-1' }, answer, { natted: false, from: 'callee' });
    const b = relayTarget(toCaller);
    expect(b.address).to.equal('127.0.0.1');
    expect(inRange(b.rtpPort)).to.equal(true);
    expect(b.rtpPort).to.not.equal(a.rtpPort);

    const q = await relay.client.request(relay.nodes.nodes[0]!, queryCommand(key.callId));
    expect(Object.keys(q['tags'] as object).sort()).to.deep.equal(['callee-1', 'caller-1']);

    expect(await relay.release({ ...key, toTag: 'callee-1' })).to.equal(true);
    expect(await relay.release({ ...key, toTag: 'callee-1' })).to.equal(false);
    const gone = await relay.client.request(relay.nodes.nodes[0]!, queryCommand(key.callId)).catch((e: unknown) => e);
    expect(gone).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_UNKNOWN_SESSION' });
  });

  it('rejects an SDP it cannot parse with ERR_RELAY_BAD_SDP (488)', async () => {
    const err = await relay.offer({ callId: `bad-${Date.now()}`, fromTag: 'a' }, Buffer.from('garbage'), { natted: false }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_BAD_SDP', status: 488 });
  });

  it('carries RTP both ways between two loopback sockets, a natted caller reached at its source address', async () => {
    const caller = await UdpPeer.bind('127.0.0.1');
    const callee = await UdpPeer.bind('127.0.0.1');
    peers.push(caller, callee);
    const key = { callId: `media-${Date.now()}`, fromTag: 'alice' };
    // the caller writes a private address into its SDP; its packets come from 127.0.0.1
    const toCallee = await relay.offer(key, makeSdp('127.0.0.99', [{ port: caller.port }]), { natted: true, sourceAddress: '127.0.0.1', from: 'caller' });
    const toCaller = await relay.answer({ ...key, toTag: 'bob' }, makeSdp('127.0.0.1', [{ port: callee.port }]), { natted: false, from: 'callee' });
    const forCallee = relayTarget(toCallee);
    const forCaller = relayTarget(toCaller);
    expect(toCallee.toString()).to.not.include('127.0.0.99');

    // the callee speaks first: rtpengine has not seen a packet from the caller, so it reaches the
    // caller at its SIP source address (SIP-source-address), not at the SDP's 127.0.0.99
    for (let i = 0; i < 10; i++) await callee.send(rtpPacket(i, 0, 'from-bob'), forCallee.rtpPort, forCallee.address);
    await eventually(() => caller.received.length >= 10, 3000, 'RTP from the callee at the natted caller');
    for (let i = 0; i < 10; i++) await caller.send(rtpPacket(i, 0, 'from-alice'), forCaller.rtpPort, forCaller.address);
    await eventually(() => callee.received.length >= 10, 3000, 'RTP from the caller at the callee');
    expect(callee.received[0]!.data.subarray(12).toString()).to.equal('from-alice');
    expect(callee.received[0]!.from.port).to.equal(forCallee.rtpPort);
    expect(caller.received[0]!.data.subarray(12).toString()).to.equal('from-bob');
    expect(caller.received[0]!.from.port).to.equal(forCaller.rtpPort);

    await relay.refreshStats();
    expect(relay.mediaCounters({ ...key, toTag: 'bob' })).to.deep.equal({ fromCaller: 10, fromCallee: 10 });

    // a re-INVITE from the callee (hold): rtpengine keeps the ports, media goes on
    const held = await relay.offer({ ...key, toTag: 'bob' }, makeSdp('127.0.0.1', [{ port: callee.port, direction: 'sendonly' }], { version: 2 }), { natted: false, from: 'callee' });
    expect(relayTarget(held).rtpPort).to.equal(forCaller.rtpPort);
    const reanswer = await relay.answer({ ...key, toTag: 'bob' }, makeSdp('127.0.0.99', [{ port: caller.port, direction: 'recvonly' }], { version: 2 }), { natted: true, sourceAddress: '127.0.0.1', from: 'caller' });
    expect(relayTarget(reanswer).rtpPort).to.equal(forCallee.rtpPort);
    await callee.send(rtpPacket(99, 0, 'on-hold'), forCallee.rtpPort, forCallee.address);
    await eventually(() => caller.received.some((r) => r.data.subarray(12).toString() === 'on-hold'), 3000, 'RTP after the re-INVITE');

    expect(await relay.release({ ...key, toTag: 'bob' })).to.equal(true);
    expect(relay.mediaCounters({ ...key, toTag: 'bob' })).to.equal(undefined);
  });

  describe('two instances, one killed', () => {
    let second: RtpengineDaemon;
    before(async () => {
      second = await RtpengineDaemon.start(binary!);
    });
    after(async () => {
      await second?.stop();
    });

    it('sends new calls to the live one, and fails calls held by the dead one cleanly', async () => {
      await relay.close();
      relay = new RtpengineAllocator({
        instances: [{ address: '127.0.0.1', port: second.ngPort }, { address: '127.0.0.1', port: daemon.ngPort }],
        timeout: 600,
        retransmitInterval: 150,
        pingInterval: 0,
      });
      const sdp = makeSdp('192.0.2.10', [{ port: 4000 }]);
      const stamp = Date.now();
      const keys = [0, 1, 2, 3, 4, 5].map((i) => ({ callId: `fo-${stamp}-${i}`, fromTag: 'a' }));
      const onSecond = relayTarget(await relay.offer(keys[0]!, sdp, { natted: false }));
      const onFirst = relayTarget(await relay.offer(keys[1]!, sdp, { natted: false }));
      expect(inRange(onSecond.rtpPort, second)).to.equal(true);
      expect(inRange(onFirst.rtpPort, daemon)).to.equal(true);

      await second.kill();
      const started = Date.now();
      for (const key of keys.slice(2)) {
        const out = relayTarget(await relay.offer(key, sdp, { natted: false }));
        expect(inRange(out.rtpPort, daemon), 'new call on the live instance').to.equal(true);
        expect(relay.instanceOf(key)).to.equal(`127.0.0.1:${daemon.ngPort}`);
      }
      // one timeout at most: the dead instance is out of the rotation after the first
      expect(Date.now() - started).to.be.below(2500);
      expect(relay.status().instances.map((n) => n.up)).to.deep.equal([false, true]);

      const answer = makeSdp('198.51.100.20', [{ port: 5000 }]);
      const t0 = Date.now();
      const failed = await relay.answer({ ...keys[0]!, toTag: 'b' }, answer, { natted: false }).catch((e: unknown) => e);
      expect(failed).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_TIMEOUT', status: 503 });
      expect(Date.now() - t0).to.be.below(1500);
      const deleted = await relay.release({ ...keys[0]!, toTag: 'b' }).catch((e: unknown) => e);
      expect(deleted).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_TIMEOUT' });

      // the calls on the live instance carry on
      expect(inRange(relayTarget(await relay.answer({ ...keys[1]!, toTag: 'b' }, answer, { natted: false })).rtpPort, daemon)).to.equal(true);
      for (const key of keys.slice(1)) expect(await relay.release(key)).to.equal(true);
      expect(relay.status().calls).to.equal(0);
      const pong = await relay.client.request({ address: '127.0.0.1', port: daemon.ngPort }, { command: 'ping' });
      expect(bstr(pong['result'])).to.equal('pong');
    });
  });
});
