import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { RelayError, RelayHeader } from '../../../lib/index.js';
import type { RedirectRelayAllocator, RelaySessionEnded } from '../../../lib/index.js';
import { Phone, UdpPeer, eventually, makeSdp, relayTarget, rtpPacket } from '../helpers.js';
import { RawClient, type TestRelay, startClient, startRelay } from './world.js';

const KEY = { callId: 'call-7@test', fromTag: 'alice-tag' };
const ANSWER_KEY = { ...KEY, toTag: 'bob-tag' };

/** A UDP hop that holds every datagram for `delayMs`: a relay that answers late. */
async function delayingHop(target: { address: string; port: number }, delayMs: number): Promise<{ port: number; close(): void }> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let client: { address: string; port: number } | undefined;
  let closed = false;
  socket.on('message', (data, from) => {
    const fromTarget = from.port === target.port && from.address === target.address;
    if (!fromTarget) client = { address: from.address, port: from.port };
    const to = fromTarget ? client : target;
    if (to !== undefined) setTimeout(() => closed || socket.send(data, to.port, to.address, () => undefined), delayMs);
  });
  return {
    port: socket.address().port,
    close: () => {
      closed = true;
      socket.close();
    },
  };
}

async function expectRelayError(promise: Promise<unknown>, code: string, status: number): Promise<RelayError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(RelayError);
    expect((err as RelayError).code, (err as Error).message).to.equal(code);
    expect((err as RelayError).status).to.equal(status);
    return err as RelayError;
  }
  throw new Error(`expected ${code}`);
}

describe('relay-by-redirect: the client allocator (RedirectRelayAllocator)', function () {
  this.timeout(10000);
  let relay: TestRelay;
  let allocator: RedirectRelayAllocator;
  let alice: Phone;
  let bob: Phone;
  let ended: RelaySessionEnded[];

  beforeEach(async () => {
    relay = await startRelay();
    allocator = await startClient(relay.server);
    // start() runs one health check at once; wait for it, so that a slow machine cannot have its
    // listing land after the test's first offer and fill in counters the test expects absent.
    await allocator.check();
    ended = [];
    allocator.onSessionEnded((e) => ended.push(e));
    alice = await Phone.create('127.0.0.1');
    bob = await Phone.create('127.0.0.1');
  });

  afterEach(async () => {
    alice.close();
    bob.close();
    await allocator.close();
    await relay.server.close();
  });

  it('offer, answer, media both ways, counters from the listing, release: the RelayAllocator contract', async () => {
    const toBob = relayTarget(await allocator.offer(KEY, makeSdp('127.0.0.99', [{ port: alice.rtp.port }]), { natted: true, sourceAddress: '127.0.0.1' }));
    expect(allocator.resourceUri(KEY)).to.match(/^sip:r[0-9a-f]{20}@127\.0\.0\.1:\d+$/);
    const toAlice = relayTarget(await allocator.answer(ANSWER_KEY, makeSdp('127.0.0.1', [{ port: bob.rtp.port }]), { natted: false }));
    const [resource] = relay.server.resources();
    expect(resource).to.include({ state: 'answered', callId: KEY.callId, fromTag: 'alice-tag', toTag: 'bob-tag', owner: allocator.owner });

    await alice.rtp.send(rtpPacket(1, 0, 'a'), toAlice.rtpPort, toAlice.address);
    await bob.rtp.send(rtpPacket(1, 0, 'b'), toBob.rtpPort, toBob.address);
    await alice.rtp.send(rtpPacket(2, 0, 'a'), toAlice.rtpPort, toAlice.address);
    await bob.rtp.next();
    await alice.rtp.next();
    await eventually(() => relay.server.media.mediaCounters({ callId: resource!.id, fromTag: 'caller' })?.fromCaller === 2, 2000, 'two packets counted');

    expect(allocator.mediaCounters(KEY)).to.equal(undefined);
    const check = await allocator.check();
    expect(check).to.include({ state: 'up', instance: relay.server.instance, listed: 1 });
    expect(allocator.mediaCounters(KEY)).to.deep.equal({ fromCaller: 2, fromCallee: 1 });
    expect(allocator.mediaCounters({ callId: KEY.callId, fromTag: 'bob-tag', toTag: 'alice-tag' })).to.deep.equal({ fromCaller: 2, fromCallee: 1 });

    expect(await allocator.release(KEY)).to.equal(true);
    expect(await allocator.release(KEY)).to.equal(false);
    expect(relay.server.resources()).to.deep.equal([]);
    expect(relay.server.media.stats().portsInUse).to.equal(0);
  });

  it('a re-INVITE from the callee (key seen from its side) updates the same resource and keeps its ports', async () => {
    const first = relayTarget(await allocator.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false }));
    const answer = relayTarget(await allocator.answer(ANSWER_KEY, makeSdp('127.0.0.1', [{ port: bob.rtp.port }]), { natted: false }));
    const calleeKey = { callId: KEY.callId, fromTag: 'bob-tag', toTag: 'alice-tag' };
    const toAlice = relayTarget(await allocator.offer(calleeKey, makeSdp('127.0.0.1', [{ port: bob.rtp.port, direction: 'sendonly' }], { version: 2 }), { natted: false }));
    expect(toAlice.rtpPort).to.equal(answer.rtpPort);
    const toBob = relayTarget(await allocator.answer(calleeKey, makeSdp('127.0.0.1', [{ port: alice.rtp.port, direction: 'recvonly' }], { version: 2 }), { natted: false }));
    expect(toBob.rtpPort).to.equal(first.rtpPort);
    expect(relay.server.resources()).to.have.length(1);
    const updates = relay.events.filter((e) => e.type === 'updated').map((e) => (e.type === 'updated' ? `${e.party}:${e.sdp}` : ''));
    expect(updates).to.deep.equal(['callee:answer', 'callee:offer', 'caller:answer']);
  });

  it('maps the relay\'s errors to RelayError: 503 no ports, 488 bad SDP, 481 unknown session, 403 forbidden', async () => {
    const small = await startRelay({}, 4);
    const client = await startClient(small.server);
    try {
      await client.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false });
      await expectRelayError(client.offer({ callId: 'other', fromTag: 'x' }, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false }), 'ERR_RELAY_NO_PORTS', 503);
    } finally {
      await client.close();
      await small.server.close();
    }
    await expectRelayError(allocator.offer(KEY, Buffer.from('not sdp'), { natted: false }), 'ERR_RELAY_BAD_SDP', 488);
    await expectRelayError(allocator.answer(KEY, makeSdp('127.0.0.1', [{ port: bob.rtp.port }]), { natted: false }), 'ERR_RELAY_UNKNOWN_SESSION', 481);

    const secure = await startRelay({ secret: 'right' });
    const wrong = await startClient(secure.server, { secret: 'wrong' });
    const right = await startClient(secure.server, { secret: 'right' });
    try {
      await expectRelayError(wrong.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false }), 'ERR_RELAY_FORBIDDEN', 503);
      await right.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false });
      expect(await right.release(KEY)).to.equal(true);
    } finally {
      await wrong.close();
      await right.close();
      await secure.server.close();
    }
  });

  it('a relay that does not answer: ERR_RELAY_TIMEOUT within the timeout, state down, no hang', async () => {
    const silent = await UdpPeer.bind('127.0.0.1');
    const client = await startClient(`sip:relay@127.0.0.1:${silent.port}`, { requestTimeoutMs: 300 });
    try {
      const started = Date.now();
      await expectRelayError(client.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false }), 'ERR_RELAY_TIMEOUT', 503);
      expect(Date.now() - started).to.be.within(250, 1000);
      expect(client.state).to.equal('down');
      expect(silent.received.length).to.be.greaterThan(1); // the INVITE was retransmitted (Timer A)
    } finally {
      await client.close();
      silent.close();
    }
  });

  it('a 302 that comes after the client gave up is released at once (BYE), so nothing leaks', async () => {
    const hop = await delayingHop(relay.server.address, 300);
    const client = await startClient(`sip:relay@127.0.0.1:${hop.port}`, { requestTimeoutMs: 150 });
    try {
      await expectRelayError(client.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false }), 'ERR_RELAY_TIMEOUT', 503);
      expect(client.has(KEY)).to.equal(false);
      // the late 302 names the relay's own address, so the BYE goes straight to the relay
      await eventually(() => relay.events.some((e) => e.type === 'released' && e.reason === 'bye'), 3000, 'the late resource released');
      expect(relay.server.resources()).to.deep.equal([]);
    } finally {
      await client.close();
      hop.close();
    }
  });

  it('a relay that is gone (maxFailures unanswered) ends its sessions with relay-down; a restarted relay (new instance) too', async () => {
    const port = relay.server.address.port;
    const client = await startClient(relay.server, { requestTimeoutMs: 150, maxFailures: 2, cleanup: false });
    const events: RelaySessionEnded[] = [];
    client.onSessionEnded((e) => events.push(e));
    try {
      await client.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false });
      await relay.server.close();
      await client.check();
      expect(client.state).to.equal('down');
      expect(events).to.deep.equal([]);
      await client.check();
      expect(events).to.deep.equal([{ key: KEY, reason: 'relay-down' }]);
      expect(client.has(KEY)).to.equal(false);
      // the proxy releasing the call afterwards is harmless
      expect(await client.release(KEY)).to.equal(false);

      // the relay comes back on the same port with a new instance: a session of the old one ends
      relay = await startRelay({ listen: { address: '127.0.0.1', port } });
      await client.check();
      expect(client.state).to.equal('up');
      await client.offer({ callId: 'c2', fromTag: 't2' }, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false });
      const old = relay.server;
      await old.close();
      relay = await startRelay({ listen: { address: '127.0.0.1', port } });
      await client.check();
      expect(events.at(-1)).to.deep.equal({ key: { callId: 'c2', fromTag: 't2' }, reason: 'relay-down' });
      expect(client.instance).to.equal(relay.server.instance);
    } finally {
      await client.close();
    }
  });

  it('a session the relay reaped (media timeout) ends at the next check with media-timeout and its last counters', async () => {
    const quick = await startRelay({ mediaTimeoutMs: 200 });
    const client = await startClient(quick.server);
    const events: RelaySessionEnded[] = [];
    client.onSessionEnded((e) => events.push(e));
    try {
      await client.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false });
      const toAlice = relayTarget(await client.answer(ANSWER_KEY, makeSdp('127.0.0.1', [{ port: bob.rtp.port }]), { natted: false }));
      await alice.rtp.send(rtpPacket(1), toAlice.rtpPort, toAlice.address);
      await bob.rtp.next();
      await client.check();
      expect(client.mediaCounters(KEY)).to.deep.equal({ fromCaller: 1, fromCallee: 0 });
      await eventually(() => quick.server.resources().length === 0, 3000, 'relay reaps the resource');
      await client.check();
      expect(events).to.deep.equal([{ key: ANSWER_KEY, reason: 'media-timeout', counters: { fromCaller: 1, fromCallee: 0 } }]);
    } finally {
      await client.close();
      await quick.server.close();
    }
  });

  it('after a restart the client releases the leftovers of its owner (listing + BYE) and leaves other owners alone', async () => {
    const raw = await RawClient.start();
    try {
      const sdp = makeSdp('127.0.0.1', [{ port: alice.rtp.port }]);
      // resources left by "proxy-x" before it crashed, and one of another proxy
      for (const owner of ['proxy-x', 'proxy-x', 'proxy-y']) {
        const r = await raw.send('INVITE', relay.server.uri, { [RelayHeader.owner]: owner, [RelayHeader.call]: `old-${owner}-${Math.random()};from-tag=t` }, sdp);
        expect(r.status).to.equal(302);
      }
      const restarted = await startClient(relay.server, { owner: 'proxy-x' });
      try {
        await eventually(() => relay.server.resources().length === 1, 3000, 'leftovers released');
        expect(relay.server.resources()[0]!.owner).to.equal('proxy-y');
        expect(await restarted.cleanup()).to.equal(0);
      } finally {
        await restarted.close();
      }
    } finally {
      await raw.close();
    }
  });

  it('close() releases every session and later calls reject with ERR_RELAY_CLOSED', async () => {
    await allocator.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false });
    await allocator.offer({ callId: 'c2', fromTag: 't' }, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false });
    expect(relay.server.resources()).to.have.length(2);
    await allocator.close();
    expect(relay.server.resources()).to.deep.equal([]);
    await expectRelayError(allocator.offer(KEY, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]), { natted: false }), 'ERR_RELAY_CLOSED', 503);
  });
});
