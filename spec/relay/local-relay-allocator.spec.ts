import { expect } from 'chai';
import { LocalRelayAllocator, type LocalRelayAllocatorOptions } from '../../lib/relay/local/index.js';
import type { RelaySessionEnded, RelaySessionKey } from '../../lib/relay/relay-allocator.js';
import { readMediaStreams } from '../../lib/sdp/index.js';
import { Phone, UdpPeer, eventually, ipv6Available, makeSdp, randomPortRange, relayTarget, rtcpPacket, rtpPacket } from './helpers.js';

const invite: RelaySessionKey = { callId: 'call-1@test', fromTag: 'alice-tag' };
const dialog: RelaySessionKey = { ...invite, toTag: 'bob-tag' };
/** The key of a request the callee sends in the dialog (re-INVITE, BYE): its own tag is the From tag. */
const fromCallee: RelaySessionKey = { callId: invite.callId, fromTag: 'bob-tag', toTag: 'alice-tag' };

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; status?: number }> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: { code?: string; status?: number }) => error,
  );
}

describe('relay/local/local-relay-allocator', () => {
  let allocator: LocalRelayAllocator;
  const phones: Phone[] = [];
  const peers: UdpPeer[] = [];

  function start(options: Partial<LocalRelayAllocatorOptions> = {}, size = 24): LocalRelayAllocator {
    allocator = new LocalRelayAllocator({ mediaAddress: '127.0.0.1', ...randomPortRange(size), ...options });
    return allocator;
  }

  async function phone(address = '127.0.0.1'): Promise<Phone> {
    const p = await Phone.create(address);
    phones.push(p);
    return p;
  }

  async function peer(address = '127.0.0.1'): Promise<UdpPeer> {
    const p = await UdpPeer.bind(address);
    peers.push(p);
    return p;
  }

  /** Alice calls Bob through the relay; returns the phones and where each must send. */
  async function call(options: { aliceMux?: boolean; bobMux?: boolean } = {}) {
    const alice = await phone();
    const bob = await phone();
    const offer = makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port, rtcpMux: options.aliceMux }]);
    const toBob = await allocator.offer(invite, offer, { natted: false });
    const answer = makeSdp(bob.address, [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port, rtcpMux: options.bobMux }]);
    const toAlice = await allocator.answer(dialog, answer, { natted: false });
    return { alice, bob, offer, answer, toBob, toAlice, aliceSends: relayTarget(toAlice), bobSends: relayTarget(toBob) };
  }

  afterEach(async () => {
    await allocator?.close();
    for (const p of phones.splice(0)) p.close();
    for (const p of peers.splice(0)) p.close();
  });

  describe('offer and answer', () => {
    beforeEach(() => start());

    it('hands each party an SDP naming the relay, on even RTP ports with RTCP on RTP + 1', async () => {
      const { toBob, toAlice, aliceSends, bobSends, alice, bob } = await call();
      expect(aliceSends.address).to.equal('127.0.0.1');
      expect(aliceSends.rtpPort % 2).to.equal(0);
      expect(aliceSends.rtcpPort).to.equal(aliceSends.rtpPort + 1);
      expect(bobSends.rtpPort).not.to.equal(aliceSends.rtpPort);
      expect(toBob.toString()).not.to.contain(String(alice.rtp.port));
      expect(toAlice.toString()).not.to.contain(String(bob.rtp.port));
      expect(allocator.stats()).to.include({ sessionCount: 1, streamCount: 1, portsInUse: 4 });
    });

    it('forwards RTP both ways and counts it per leg', async () => {
      const { alice, bob, aliceSends, bobSends } = await call();
      await alice.rtp.send(rtpPacket(1), aliceSends.rtpPort, aliceSends.address);
      const atBob = await bob.rtp.next();
      expect(atBob.data.equals(rtpPacket(1))).to.equal(true);
      expect(atBob.from.port).to.equal(bobSends.rtpPort);

      await bob.rtp.send(rtpPacket(7, 8), bobSends.rtpPort, bobSends.address);
      const atAlice = await alice.rtp.next();
      expect(atAlice.data.equals(rtpPacket(7, 8))).to.equal(true);
      expect(atAlice.from.port).to.equal(aliceSends.rtpPort);

      const [stream] = allocator.sessionStats(invite)!.streams;
      expect(stream!.caller.counters.rtp).to.deep.equal({ packetsIn: 1, bytesIn: 17, packetsOut: 1, bytesOut: 17 });
      expect(stream!.callee.counters.rtp).to.deep.equal({ packetsIn: 1, bytesIn: 17, packetsOut: 1, bytesOut: 17 });
    });

    it('forwards RTCP between the RTCP ports, RTCP counted apart from RTP', async () => {
      const { alice, bob, aliceSends, bobSends } = await call();
      await alice.rtcp.send(rtcpPacket(1), aliceSends.rtcpPort, aliceSends.address);
      const atBob = await bob.rtcp.next();
      expect(atBob.data.equals(rtcpPacket(1))).to.equal(true);
      expect(atBob.from.port).to.equal(bobSends.rtcpPort);
      await bob.rtcp.send(rtcpPacket(2), bobSends.rtcpPort, bobSends.address);
      expect((await alice.rtcp.next()).data.equals(rtcpPacket(2))).to.equal(true);
      const [stream] = allocator.sessionStats(invite)!.streams;
      expect(stream!.caller.counters.rtcp.packetsIn).to.equal(1);
      expect(stream!.caller.counters.rtp.packetsIn).to.equal(0);
    });

    it('returns the same SDP, o= version included, when the same offer or answer is given again', async () => {
      const { offer, answer, toBob, toAlice } = await call();
      expect((await allocator.offer(invite, offer, { natted: false })).equals(toBob)).to.equal(true);
      expect((await allocator.answer(dialog, answer, { natted: false })).equals(toAlice)).to.equal(true);
      expect(allocator.stats().portsInUse).to.equal(4);
    });

    it('relays audio and video on their own ports, and releases a stream the answer rejects (port 0)', async () => {
      const alice = await phone();
      const bob = await phone();
      const video = await peer();
      const offer = makeSdp(alice.address, [
        { port: alice.rtp.port, rtcpPort: alice.rtcp.port },
        { type: 'video', port: video.port, formats: '96' },
      ]);
      const toBob = await allocator.offer(invite, offer, { natted: false });
      const streams = readMediaStreams(toBob);
      expect(streams.map((s) => s.type)).to.deep.equal(['audio', 'video']);
      expect(streams[0]!.port).not.to.equal(streams[1]!.port);
      expect(allocator.stats().portsInUse).to.equal(8);
      const answer = makeSdp(bob.address, [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port }, { type: 'video', port: 0, formats: '96' }]);
      const toAlice = await allocator.answer(dialog, answer, { natted: false });
      expect(readMediaStreams(toAlice).map((s) => s.port)[1]).to.equal(0);
      expect(allocator.stats()).to.include({ streamCount: 1, portsInUse: 4 });
    });

    it('does not allocate for a stream offered with port 0', async () => {
      const alice = await phone();
      const offer = makeSdp(alice.address, [{ port: alice.rtp.port }, { type: 'video', port: 0 }]);
      const toBob = await allocator.offer(invite, offer, { natted: false });
      expect(readMediaStreams(toBob)[1]!.port).to.equal(0);
      expect(allocator.stats().portsInUse).to.equal(4);
    });

    it('rejects an SDP it cannot relay with ERR_RELAY_BAD_SDP (488) and keeps nothing', async () => {
      const error = await rejection(allocator.offer(invite, Buffer.from('v=0\r\nm=audio x\r\n'), { natted: false }));
      expect(error).to.include({ code: 'ERR_RELAY_BAD_SDP', status: 488 });
      expect(allocator.stats()).to.include({ sessionCount: 0, portsInUse: 0 });
    });

    it('rejects an answer with a different number of m= lines (RFC 3264 §6)', async () => {
      const alice = await phone();
      await allocator.offer(invite, makeSdp(alice.address, [{ port: alice.rtp.port }]), { natted: false });
      const answer = makeSdp('127.0.0.1', [{ port: 5000 }, { port: 5002 }]);
      expect(await rejection(allocator.answer(dialog, answer, { natted: false }))).to.include({ code: 'ERR_RELAY_BAD_SDP' });
    });

    it('rejects an answer that enables a stream the offer disabled (RFC 3264 §6)', async () => {
      const alice = await phone();
      await allocator.offer(invite, makeSdp(alice.address, [{ port: alice.rtp.port }, { type: 'video', port: 0 }]), { natted: false });
      const answer = makeSdp('127.0.0.1', [{ port: 5000 }, { type: 'video', port: 5002 }]);
      expect(await rejection(allocator.answer(dialog, answer, { natted: false }))).to.include({ code: 'ERR_RELAY_BAD_SDP', status: 488 });
    });

    it('rejects an answer for an unknown session with ERR_RELAY_UNKNOWN_SESSION (481)', async () => {
      const error = await rejection(allocator.answer(dialog, makeSdp('127.0.0.1', [{ port: 5000 }]), { natted: false }));
      expect(error).to.include({ code: 'ERR_RELAY_UNKNOWN_SESSION', status: 481 });
    });
  });

  describe('latching and source checks', () => {
    it('latches a natted party to its first packet, whatever its SDP said', async () => {
      start({ latch: 'natted' });
      const alice = await phone();
      const bob = await phone();
      const decoy = await peer();
      // Alice's SDP names the decoy: what a phone behind NAT does when it writes its private address.
      const toBob = await allocator.offer(invite, makeSdp(alice.address, [{ port: decoy.port }]), { natted: true });
      const aliceSends = relayTarget(await allocator.answer(dialog, makeSdp(bob.address, [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port }]), { natted: false }));
      const bobSends = relayTarget(toBob);

      await bob.rtp.send(rtpPacket(1), bobSends.rtpPort, bobSends.address);
      expect((await decoy.next()).data.equals(rtpPacket(1)), 'before latching: the SDP address').to.equal(true);

      await alice.rtp.send(rtpPacket(2), aliceSends.rtpPort, aliceSends.address);
      await bob.rtp.next();
      await bob.rtp.send(rtpPacket(3), bobSends.rtpPort, bobSends.address);
      expect((await alice.rtp.next()).data.equals(rtpPacket(3)), 'after latching: the packet source').to.equal(true);
      const caller = allocator.sessionStats(invite)!.streams[0]!.caller;
      expect(caller.latched.rtp).to.deep.equal({ address: '127.0.0.1', port: alice.rtp.port });
    });

    it('drops and counts a third party\'s packets once a leg latched (no RTP bleed)', async () => {
      start({ latch: 'always' });
      const { alice, bob, aliceSends, bobSends } = await call();
      const mallory = await peer();
      await alice.rtp.send(rtpPacket(1), aliceSends.rtpPort, aliceSends.address);
      await bob.rtp.next();
      await mallory.send(rtpPacket(666), aliceSends.rtpPort, aliceSends.address);
      await alice.rtp.send(rtpPacket(2), aliceSends.rtpPort, aliceSends.address);
      expect((await bob.rtp.next()).data.equals(rtpPacket(2))).to.equal(true);
      await eventually(() => allocator.sessionStats(invite)!.streams[0]!.caller.counters.droppedSource === 1, 2000, 'drop counted');
      // Bob's media still goes to Alice, not to Mallory.
      await bob.rtp.send(rtpPacket(3), bobSends.rtpPort, bobSends.address);
      expect((await alice.rtp.next()).data.equals(rtpPacket(3))).to.equal(true);
      expect(mallory.received).to.have.length(0);
    });

    it('without latching accepts only the SDP address and port, even before anyone spoke', async () => {
      start({ latch: 'never' });
      const { alice, bob, aliceSends } = await call();
      const mallory = await peer();
      await mallory.send(rtpPacket(666), aliceSends.rtpPort, aliceSends.address);
      await alice.rtp.send(rtpPacket(1), aliceSends.rtpPort, aliceSends.address);
      expect((await bob.rtp.next()).data.equals(rtpPacket(1))).to.equal(true);
      await eventually(() => allocator.sessionStats(invite)!.streams[0]!.caller.counters.droppedSource === 1, 2000, 'drop counted');
      expect(allocator.sessionStats(invite)!.streams[0]!.caller.latching).to.equal(false);
    });

    it('counts packets that have nowhere to go before the callee answered', async () => {
      start();
      const alice = await phone();
      await allocator.offer(invite, makeSdp(alice.address, [{ port: alice.rtp.port }]), { natted: false });
      const callerLeg = allocator.sessionStats(invite)!.streams[0]!.caller.local;
      await alice.rtp.send(rtpPacket(1), callerLeg.rtpPort, callerLeg.address);
      await eventually(() => allocator.sessionStats(invite)!.streams[0]!.caller.counters.droppedNoDestination === 1, 2000, 'drop counted');
    });
  });

  describe('rtcp-mux (RFC 5761)', () => {
    beforeEach(() => start());

    it('when both parties multiplex, keeps one port per leg and carries RTCP on it', async () => {
      const { alice, bob, aliceSends, bobSends, toAlice } = await call({ aliceMux: true, bobMux: true });
      expect(allocator.stats().portsInUse).to.equal(2);
      expect(toAlice.toString()).to.contain(`a=rtcp:${aliceSends.rtpPort}`).and.to.contain('a=rtcp-mux');
      await alice.rtp.send(rtcpPacket(5), aliceSends.rtpPort, aliceSends.address);
      expect((await bob.rtp.next()).data.equals(rtcpPacket(5))).to.equal(true);
      await bob.rtp.send(rtpPacket(9), bobSends.rtpPort, bobSends.address);
      expect((await alice.rtp.next()).data.equals(rtpPacket(9))).to.equal(true);
      const [stream] = allocator.sessionStats(invite)!.streams;
      expect(stream!.rtcpMux).to.equal(true);
      expect(stream!.caller.counters.rtcp.packetsIn).to.equal(1);
      expect(stream!.callee.counters.rtp.packetsIn).to.equal(1);
    });

    it('when the answer declines it, keeps the RTCP ports', async () => {
      const { alice, bob, aliceSends } = await call({ aliceMux: true, bobMux: false });
      expect(allocator.stats().portsInUse).to.equal(4);
      await alice.rtcp.send(rtcpPacket(5), aliceSends.rtcpPort, aliceSends.address);
      expect((await bob.rtcp.next()).data.equals(rtcpPacket(5))).to.equal(true);
    });

    it('binds RTCP ports again if a later offer stops multiplexing', async () => {
      const { alice, bob } = await call({ aliceMux: true, bobMux: true });
      const reoffer = makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port }], { version: 2 });
      const toBob = relayTarget(await allocator.offer(invite, reoffer, { natted: false }));
      expect(allocator.stats().portsInUse).to.equal(4);
      const toAlice = relayTarget(await allocator.answer(dialog, makeSdp(bob.address, [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port }], { version: 2 }), { natted: false }));
      await alice.rtcp.send(rtcpPacket(1), toAlice.rtcpPort, toAlice.address);
      expect((await bob.rtcp.next()).data.equals(rtcpPacket(1))).to.equal(true);
      expect(toBob.rtcpPort).not.to.equal(toBob.rtpPort);
    });
  });

  describe('re-offers (re-INVITE, UPDATE)', () => {
    beforeEach(() => start());

    it('keeps the relay ports through hold (a=sendonly) and resume, bumping o= once per change', async () => {
      const { alice, bob, toBob, bobSends, aliceSends } = await call();
      const hold = makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port, direction: 'sendonly' }], { version: 2 });
      const heldToBob = await allocator.offer(invite, hold, { natted: false });
      expect(relayTarget(heldToBob)).to.deep.equal(bobSends);
      expect(heldToBob.toString()).to.contain('a=sendonly');
      const version = (sdp: Buffer): string => /^o=\S+ \S+ (\d+)/m.exec(sdp.toString())![1]!;
      expect(BigInt(version(heldToBob))).to.equal(BigInt(version(toBob)) + 1n);
      const heldToAlice = await allocator.answer(dialog, makeSdp(bob.address, [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port, direction: 'recvonly' }], { version: 2 }), { natted: false });
      expect(relayTarget(heldToAlice)).to.deep.equal(aliceSends);

      await alice.rtp.send(rtpPacket(1), aliceSends.rtpPort, aliceSends.address);
      expect((await bob.rtp.next()).data.equals(rtpPacket(1))).to.equal(true);
      expect(allocator.stats().portsInUse).to.equal(4);
    });

    it('keeps the ports through an old-style hold (c=0.0.0.0), sending the held party nothing until it resumes', async () => {
      const { alice, bob, bobSends, aliceSends } = await call();
      const hold = Buffer.from(makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port }], { version: 2 }).toString().replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'));
      const heldToBob = await allocator.offer(invite, hold, { natted: false });
      expect(heldToBob.toString()).to.contain('c=IN IP4 0.0.0.0');
      expect(relayTarget(heldToBob).rtpPort).to.equal(bobSends.rtpPort);
      await bob.rtp.send(rtpPacket(1), bobSends.rtpPort, bobSends.address);
      await eventually(() => allocator.sessionStats(invite)!.streams[0]!.callee.counters.droppedNoDestination === 1, 2000, 'held drop');

      const resume = makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port }], { version: 3 });
      expect(relayTarget(await allocator.offer(invite, resume, { natted: false }))).to.deep.equal(bobSends);
      await bob.rtp.send(rtpPacket(2), bobSends.rtpPort, bobSends.address);
      expect((await alice.rtp.next()).data.equals(rtpPacket(2))).to.equal(true);
      expect(relayTarget(await allocator.answer(dialog, makeSdp(bob.address, [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port }], { version: 3 }), { natted: false }))).to.deep.equal(aliceSends);
    });

    it('keeps the ports on a codec change', async () => {
      const { alice, bobSends } = await call();
      const g722 = makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port, formats: '9 101' }], { version: 2 });
      const toBob = await allocator.offer(invite, g722, { natted: false });
      expect(relayTarget(toBob)).to.deep.equal(bobSends);
      expect(toBob.toString()).to.contain('RTP/AVP 9 101');
    });

    it('follows a party to a new port without changing the relay ports', async () => {
      const { bob, bobSends } = await call();
      const moved = await phone();
      const reoffer = makeSdp(moved.address, [{ port: moved.rtp.port, rtcpPort: moved.rtcp.port }], { version: 2 });
      expect(relayTarget(await allocator.offer(invite, reoffer, { natted: false }))).to.deep.equal(bobSends);
      await bob.rtp.send(rtpPacket(4), bobSends.rtpPort, bobSends.address);
      expect((await moved.rtp.next()).data.equals(rtpPacket(4))).to.equal(true);
    });

    it('takes a re-offer from the callee (its own tag as From tag) and answers it from the caller', async () => {
      const { alice, bob, aliceSends, bobSends } = await call();
      const reoffer = makeSdp(bob.address, [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port, direction: 'sendonly' }], { version: 2 });
      const toAlice = await allocator.offer(fromCallee, reoffer, { natted: false });
      expect(relayTarget(toAlice)).to.deep.equal(aliceSends);
      const answer = makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port, direction: 'recvonly' }], { version: 2 });
      expect(relayTarget(await allocator.answer(fromCallee, answer, { natted: false }))).to.deep.equal(bobSends);
      expect(allocator.stats()).to.include({ sessionCount: 1, portsInUse: 4 });
    });

    it('handles a late offer (offer in the 2xx, from: callee) and the caller\'s answer in the ACK', async () => {
      const alice = await phone();
      const bob = await phone();
      const toAlice = relayTarget(await allocator.offer(dialog, makeSdp(bob.address, [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port }]), { natted: false, from: 'callee' }));
      const toBob = relayTarget(await allocator.answer(invite, makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port }]), { natted: false }));
      await alice.rtp.send(rtpPacket(1), toAlice.rtpPort, toAlice.address);
      expect((await bob.rtp.next()).data.equals(rtpPacket(1))).to.equal(true);
      await bob.rtp.send(rtpPacket(2), toBob.rtpPort, toBob.address);
      expect((await alice.rtp.next()).data.equals(rtpPacket(2))).to.equal(true);
    });
  });

  describe('timeouts', () => {
    it('ends an answered session after the media timeout, reports it, and frees its ports', async () => {
      start({ mediaTimeoutMs: 150 });
      const ended = new Promise<RelaySessionEnded>((resolve) => allocator.onSessionEnded(resolve));
      const { alice, bob, aliceSends } = await call();
      await alice.rtp.send(rtpPacket(1), aliceSends.rtpPort, aliceSends.address);
      await bob.rtp.next();
      const event = await Promise.race([ended, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no timeout event')), 5000))]);
      expect(event.reason).to.equal('media-timeout');
      expect(event.key).to.deep.equal(dialog);
      expect(allocator.stats()).to.include({ sessionCount: 0, portsInUse: 0 });
      expect(await allocator.release(dialog)).to.equal(false);
    });

    it('ends an offer that is never answered after the offer timeout', async () => {
      start({ offerTimeoutMs: 100 });
      const ended = new Promise<RelaySessionEnded>((resolve) => allocator.onSessionEnded(resolve));
      const alice = await phone();
      await allocator.offer(invite, makeSdp(alice.address, [{ port: alice.rtp.port }]), { natted: false });
      const event = await Promise.race([ended, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no timeout event')), 5000))]);
      expect(event).to.deep.equal({ key: invite, reason: 'offer-timeout' });
      expect(allocator.stats().portsInUse).to.equal(0);
    });

    it('stops reporting to a listener that unsubscribed', async () => {
      start({ offerTimeoutMs: 50 });
      const events: RelaySessionEnded[] = [];
      const unsubscribe = allocator.onSessionEnded((e) => events.push(e));
      unsubscribe();
      const alice = await phone();
      await allocator.offer(invite, makeSdp(alice.address, [{ port: alice.rtp.port }]), { natted: false });
      await eventually(() => allocator.stats().sessionCount === 0, 5000, 'session ended');
      expect(events).to.have.length(0);
    });
  });

  describe('port exhaustion', () => {
    it('rejects with ERR_RELAY_NO_PORTS (503), rolls back a half-bound offer, and leaves calls in progress alone', async () => {
      start({}, 6);
      const { alice, bob, aliceSends } = await call();
      const carol = await phone();
      const second: RelaySessionKey = { callId: 'call-2@test', fromTag: 'carol-tag' };
      const error = await rejection(allocator.offer(second, makeSdp(carol.address, [{ port: carol.rtp.port }]), { natted: false }));
      expect(error).to.include({ code: 'ERR_RELAY_NO_PORTS', status: 503 });
      expect(allocator.stats()).to.include({ sessionCount: 1, portsInUse: 4 });

      await alice.rtp.send(rtpPacket(1), aliceSends.rtpPort, aliceSends.address);
      expect((await bob.rtp.next()).data.equals(rtpPacket(1))).to.equal(true);

      expect(await allocator.release(dialog)).to.equal(true);
      await allocator.offer(second, makeSdp(carol.address, [{ port: carol.rtp.port }]), { natted: false });
      expect(allocator.stats()).to.include({ sessionCount: 1, portsInUse: 4 });
    });

    it('a failed re-offer adding a stream keeps the call as it was', async () => {
      start({}, 4);
      const { alice, bobSends } = await call();
      const video = makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port }, { type: 'video', port: 6000 }], { version: 2 });
      expect(await rejection(allocator.offer(invite, video, { natted: false }))).to.include({ code: 'ERR_RELAY_NO_PORTS' });
      expect(allocator.stats()).to.include({ sessionCount: 1, streamCount: 1, portsInUse: 4 });
      expect(relayTarget(await allocator.offer(invite, makeSdp(alice.address, [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port }], { version: 2 }), { natted: false }))).to.deep.equal(bobSends);
    });
  });

  describe('release and close', () => {
    beforeEach(() => start());

    it('releases by either party\'s key (BYE from the callee), once', async () => {
      await call();
      expect(await allocator.release(fromCallee)).to.equal(true);
      expect(await allocator.release(fromCallee)).to.equal(false);
      expect(allocator.stats()).to.deep.equal({ sessionCount: 0, streamCount: 0, portsInUse: 0, sessions: [] });
    });

    it('close frees every port and later calls reject with ERR_RELAY_CLOSED', async () => {
      await call();
      const other: RelaySessionKey = { callId: 'call-2@test', fromTag: 'x' };
      const carol = await phone();
      await allocator.offer(other, makeSdp(carol.address, [{ port: carol.rtp.port }]), { natted: false });
      expect(allocator.stats().portsInUse).to.equal(8);
      await allocator.close();
      await allocator.close();
      expect(allocator.stats()).to.include({ sessionCount: 0, portsInUse: 0 });
      expect(await rejection(allocator.offer(invite, makeSdp(carol.address, [{ port: carol.rtp.port }]), { natted: false }))).to.include({ code: 'ERR_RELAY_CLOSED' });
    });

    it('close during an offer leaves nothing bound', async () => {
      const alice = await phone();
      const pending = allocator.offer(invite, makeSdp(alice.address, [{ port: alice.rtp.port }]), { natted: false });
      await allocator.close();
      await pending.then(
        () => undefined,
        () => undefined,
      );
      expect(allocator.stats()).to.include({ sessionCount: 0, portsInUse: 0 });
    });
  });

  describe('IPv6', () => {
    before(async function () {
      if (!(await ipv6Available())) this.skip();
    });

    it('bridges an IPv6 caller to an IPv4 callee', async () => {
      start({ mediaAddress: ['127.0.0.1', '::1'] });
      const alice = await phone('::1');
      const bob = await phone('127.0.0.1');
      const toBob = await allocator.offer(invite, makeSdp('::1', [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port }]), { natted: false, targetAddressType: 'IP4' });
      expect(toBob.toString()).to.contain('c=IN IP4 127.0.0.1').and.to.contain('o=phone 1234567890 1 IN IP4 127.0.0.1');
      const toAlice = await allocator.answer(dialog, makeSdp('127.0.0.1', [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port }]), { natted: false });
      expect(toAlice.toString()).to.contain('c=IN IP6 ::1');
      const aliceSends = relayTarget(toAlice);
      const bobSends = relayTarget(toBob);
      await alice.rtp.send(rtpPacket(1), aliceSends.rtpPort, aliceSends.address);
      expect((await bob.rtp.next()).data.equals(rtpPacket(1))).to.equal(true);
      await bob.rtp.send(rtpPacket(2), bobSends.rtpPort, bobSends.address);
      const atAlice = await alice.rtp.next();
      expect(atAlice.data.equals(rtpPacket(2))).to.equal(true);
      expect(atAlice.from).to.include({ address: '::1', port: aliceSends.rtpPort });
    });

    it('relays IPv6 to IPv6', async () => {
      start({ mediaAddress: '::1' });
      const alice = await phone('::1');
      const bob = await phone('::1');
      const bobSends = relayTarget(await allocator.offer(invite, makeSdp('::1', [{ port: alice.rtp.port }]), { natted: false }));
      const aliceSends = relayTarget(await allocator.answer(dialog, makeSdp('::1', [{ port: bob.rtp.port }]), { natted: false }));
      await bob.rtp.send(rtpPacket(3), bobSends.rtpPort, bobSends.address);
      expect((await alice.rtp.next()).data.equals(rtpPacket(3))).to.equal(true);
      await alice.rtp.send(rtpPacket(4), aliceSends.rtpPort, aliceSends.address);
      expect((await bob.rtp.next()).data.equals(rtpPacket(4))).to.equal(true);
    });
  });

  describe('options', () => {
    it('writes the advertised address into SDP while binding the media address', async () => {
      start({ advertisedAddress: '198.51.100.1' });
      const alice = await phone();
      const toBob = await allocator.offer(invite, makeSdp(alice.address, [{ port: alice.rtp.port }]), { natted: false });
      expect(relayTarget(toBob).address).to.equal('198.51.100.1');
      expect(allocator.sessionStats(invite)!.streams[0]!.callee.local.address).to.equal('198.51.100.1');
    });

    it('rejects a media address that is not an IP, or two of one family', () => {
      expect(() => new LocalRelayAllocator({ mediaAddress: 'relay.example.com' })).to.throw().with.property('code', 'ERR_SIP_INVALID_ARG');
      expect(() => new LocalRelayAllocator({ mediaAddress: ['127.0.0.1', '127.0.0.2'] })).to.throw().with.property('code', 'ERR_SIP_INVALID_ARG');
      expect(() => new LocalRelayAllocator({ mediaAddress: '0.0.0.0' })).to.throw().with.property('code', 'ERR_SIP_INVALID_ARG');
    });
  });
});
