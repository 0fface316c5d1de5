import { expect } from 'chai';
import { RelayError } from '../../../lib/index.js';
import { RtpengineAllocator, bstr, offerCommand } from '../../../lib/relay/rtpengine/index.js';
import type { BencodeDict, BencodeInput, BencodeValue } from '../../../lib/relay/rtpengine/index.js';
import { parseRtpengineSpec } from '../../../lib/bin/relay-rtpengine.js';
import { FakeNgServer, fakeRtpengine } from './fake-ng-server.js';

const SDP = Buffer.from('v=0\r\no=- 1 1 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n');

function plain(v: BencodeValue | undefined): unknown {
  if (v === undefined) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function fields(cmd: BencodeDict, ...names: string[]): Record<string, unknown> {
  return Object.fromEntries(names.map((n) => [n, plain(cmd[n])]));
}

describe('relay/rtpengine/rtpengine-allocator (against fake ng servers)', () => {
  const servers: FakeNgServer[] = [];
  let relay: RtpengineAllocator | undefined;
  async function start(n: number, weights: number[] = []): Promise<FakeNgServer[]> {
    for (let i = 0; i < n; i++) servers.push(await FakeNgServer.start(fakeRtpengine(`node${i}`)));
    relay = new RtpengineAllocator({ instances: servers.map((s, i) => ({ ...s.target, weight: weights[i] ?? 1 })), timeout: 250, retransmitInterval: 50, pingInterval: 0 });
    return servers;
  }
  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  describe('flags a NAT proxy gives rtpengine', () => {
    it('offer from a natted caller: SIP-source-address with received-from, symmetric, replace origin and session connection, ICE remove', async () => {
      const [s] = await start(1);
      const out = await relay!.offer({ callId: 'c1', fromTag: 'A', viaBranch: 'z9hG4bKb1' }, SDP, { natted: true, sourceAddress: '203.0.113.9', from: 'caller' });
      expect(out.toString()).to.include('a=node0:offer');
      const cmd = s!.commands()[0]!.command;
      expect(fields(cmd, 'command', 'call-id', 'from-tag', 'to-tag', 'via-branch', 'flags', 'replace', 'received-from', 'ICE', 'rtcp-mux')).to.deep.equal({
        command: 'offer',
        'call-id': 'c1',
        'from-tag': 'A',
        'to-tag': undefined,
        'via-branch': 'z9hG4bKb1',
        flags: ['SIP-source-address', 'symmetric'],
        replace: ['origin', 'session-connection'],
        'received-from': ['IP4', '203.0.113.9'],
        ICE: 'remove',
        'rtcp-mux': undefined,
      });
      expect(plain(cmd['sdp'])).to.equal(SDP.toString('latin1'));
    });

    it('answer from a callee not behind NAT: trust-address; from-tag is the offerer, to-tag the answerer', async () => {
      const [s] = await start(1);
      await relay!.offer({ callId: 'c1', fromTag: 'A' }, SDP, { natted: false, from: 'caller' });
      await relay!.answer({ callId: 'c1', fromTag: 'A', toTag: 'B' }, SDP, { natted: false, sourceAddress: '198.51.100.2', from: 'callee' });
      expect(fields(s!.commands()[1]!.command, 'command', 'from-tag', 'to-tag', 'flags', 'received-from')).to.deep.equal({
        command: 'answer',
        'from-tag': 'A',
        'to-tag': 'B',
        flags: ['trust-address', 'symmetric'],
        'received-from': undefined,
      });
    });

    it("re-INVITE from the callee: the offer's from-tag is the callee's, the caller's answer keeps the callee as from-tag", async () => {
      const [s] = await start(1);
      const key = { callId: 'c1', fromTag: 'A' };
      await relay!.offer(key, SDP, { natted: false, from: 'caller' });
      await relay!.answer({ ...key, toTag: 'B' }, SDP, { natted: false, from: 'callee' });
      // the proxy's key stays oriented caller -> callee; options.from says who sent the SDP
      await relay!.offer({ ...key, toTag: 'B' }, SDP, { natted: true, sourceAddress: '198.51.100.2', from: 'callee' });
      await relay!.answer({ ...key, toTag: 'B' }, SDP, { natted: false, from: 'caller' });
      // a key as on the wire (fromTag = the callee's) is understood too
      await relay!.offer({ callId: 'c1', fromTag: 'B', toTag: 'A' }, SDP, { natted: false });
      await relay!.answer({ callId: 'c1', fromTag: 'B', toTag: 'A' }, SDP, { natted: false });
      const tags = s!.commands().map((c) => fields(c.command, 'command', 'from-tag', 'to-tag'));
      expect(tags).to.deep.equal([
        { command: 'offer', 'from-tag': 'A', 'to-tag': undefined },
        { command: 'answer', 'from-tag': 'A', 'to-tag': 'B' },
        { command: 'offer', 'from-tag': 'B', 'to-tag': 'A' },
        { command: 'answer', 'from-tag': 'B', 'to-tag': 'A' },
        { command: 'offer', 'from-tag': 'B', 'to-tag': 'A' },
        { command: 'answer', 'from-tag': 'B', 'to-tag': 'A' },
      ]);
    });

    it('late offer (INVITE without SDP): the offer in the 2xx goes out under the callee\'s tag, the ACK\'s answer under it too', async () => {
      const [s] = await start(1);
      await relay!.offer({ callId: 'c2', fromTag: 'A', toTag: 'B' }, SDP, { natted: false, from: 'callee' });
      await relay!.answer({ callId: 'c2', fromTag: 'A', toTag: 'B' }, SDP, { natted: true, sourceAddress: '203.0.113.9', from: 'caller' });
      expect(s!.commands().map((c) => fields(c.command, 'command', 'from-tag', 'to-tag', 'received-from'))).to.deep.equal([
        { command: 'offer', 'from-tag': 'B', 'to-tag': 'A', 'received-from': undefined },
        { command: 'answer', 'from-tag': 'B', 'to-tag': 'A', 'received-from': ['IP4', '203.0.113.9'] },
      ]);
      expect(await relay!.release({ callId: 'c2', fromTag: 'A', toTag: 'B' })).to.equal(true);
      expect(fields(s!.commands()[2]!.command, 'command', 'call-id', 'from-tag')).to.deep.equal({ command: 'delete', 'call-id': 'c2', 'from-tag': 'A' });
    });

    it('IPv4/IPv6 bridging: address family, or direction when interface names are configured; rtcp-mux and ICE modes', () => {
      const m = { callId: 'c', fromTag: 'A', sdp: SDP, natted: false };
      const plainOffer = offerCommand(m, {}, 'IP6');
      expect(plainOffer['address family']).to.equal('IP6');
      expect(plainOffer['direction']).to.equal(undefined);
      const named = offerCommand(m, { interfaces: { IP4: 'pub4', IP6: 'pub6' }, rtcpMux: 'demux', ice: 'force', flags: ['strict-source'] }, 'IP6');
      expect(named['direction']).to.deep.equal(['pub4', 'pub6']);
      expect(named['address family']).to.equal(undefined);
      expect(named['rtcp-mux']).to.deep.equal(['demux']);
      expect(named['ICE']).to.equal('force');
      expect(named['flags']).to.deep.equal(['trust-address', 'symmetric', 'strict-source']);
      expect(offerCommand(m, { ice: 'keep' })['ICE']).to.equal(undefined);
    });

    it('answer without an offer is ERR_RELAY_UNKNOWN_SESSION (481); an SDP from a callee without a tag is refused', async () => {
      await start(1);
      const e1 = await relay!.answer({ callId: 'nope', fromTag: 'A', toTag: 'B' }, SDP, { natted: false }).catch((e: unknown) => e);
      expect(e1).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_UNKNOWN_SESSION', status: 481 });
      await relay!.offer({ callId: 'c3', fromTag: 'A' }, SDP, { natted: false });
      const e2 = await relay!.answer({ callId: 'c3', fromTag: 'A' }, SDP, { natted: false, from: 'callee' }).catch((e: unknown) => e);
      expect(e2).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_BAD_KEY' });
      expect(await relay!.release({ callId: 'unknown', fromTag: 'A' })).to.equal(false);
    });
  });

  it('query rounds (statsInterval) refresh mediaCounters, and report calls rtpengine ended on its own', async () => {
    const [s] = await start(1);
    await relay!.close();
    relay = new RtpengineAllocator({ instances: [s!.target], timeout: 250, retransmitInterval: 50, pingInterval: 0, statsInterval: 40 });
    let gone = false;
    const stats = (packets: number): BencodeInput => ({ medias: [{ streams: [{ stats: { packets } }, { stats: { packets: 1 } }] }] });
    s!.handler = (cmd) => {
      if (cmd.name !== 'query') return fakeRtpengine()(cmd, 1);
      return gone ? { result: 'error', 'error-reason': 'Unknown call-id' } : { result: 'ok', tags: { A: stats(7), B: stats(3) } };
    };
    const ended: unknown[] = [];
    relay.onSessionEnded((e) => ended.push(e));
    await relay.offer({ callId: 'q1', fromTag: 'A' }, SDP, { natted: false });
    await relay.answer({ callId: 'q1', fromTag: 'A', toTag: 'B' }, SDP, { natted: false });
    const deadline = Date.now() + 2000;
    while (relay.mediaCounters({ callId: 'q1', fromTag: 'A' }) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(relay.mediaCounters({ callId: 'q1', fromTag: 'B', toTag: 'A' })).to.deep.equal({ fromCaller: 8, fromCallee: 4 });
    gone = true;
    while (ended.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(ended).to.deep.equal([{ key: { callId: 'q1', fromTag: 'A', toTag: 'B' }, reason: 'media-timeout', counters: { fromCaller: 8, fromCallee: 4 } }]);
    expect(relay.status().calls).to.equal(0);
    expect(await relay.release({ callId: 'q1', fromTag: 'A' })).to.equal(false);
  });

  it('reads `--relay rtpengine:udp:HOST:PORT[=WEIGHT]` specs', () => {
    expect(parseRtpengineSpec('rtpengine:udp:127.0.0.1:2223')).to.deep.equal({ address: '127.0.0.1', port: 2223 });
    expect(parseRtpengineSpec('rtpengine:udp:[::1]:2224=3')).to.deep.equal({ address: '::1', port: 2224, weight: 3 });
    for (const bad of ['rtpengine:tcp:127.0.0.1:2223', 'rtpengine:udp:localhost:2223', 'rtpengine:udp:127.0.0.1', 'rtpengine:udp:::1:2223']) {
      expect(() => parseRtpengineSpec(bad), bad).to.throw(/rtpengine:udp:HOST:PORT/);
    }
  });

  describe('several instances', () => {
    it('spreads new calls by weight (smooth weighted round robin) and pins each call to its instance', async () => {
      const [a, b] = await start(2, [2, 1]);
      for (let i = 0; i < 6; i++) await relay!.offer({ callId: `w${i}`, fromTag: 'A' }, SDP, { natted: false });
      expect(a!.commands()).to.have.length(4);
      expect(b!.commands()).to.have.length(2);
      const onB = b!.commands().map((c) => bstr(c.command['call-id'])!);
      for (const callId of onB) {
        await relay!.answer({ callId, fromTag: 'A', toTag: 'B' }, SDP, { natted: false });
        expect(await relay!.release({ callId, fromTag: 'A', toTag: 'B' })).to.equal(true);
      }
      expect(b!.commands()).to.have.length(6);
      expect(a!.commands()).to.have.length(4);
      expect(relay!.status().instances.map((n) => n.calls)).to.deep.equal([4, 0]);
    });

    it('fails a new call over to the next instance when one does not answer, and marks it down', async () => {
      const [a, b] = await start(2);
      a!.handler = () => undefined;
      const out = await relay!.offer({ callId: 'f1', fromTag: 'A' }, SDP, { natted: false });
      expect(out.toString()).to.include('a=node1:offer');
      expect(a!.commands().length).to.be.at.least(1);
      expect(relay!.instanceOf({ callId: 'f1', fromTag: 'A' })).to.equal(`127.0.0.1:${b!.port}`);
      expect(relay!.status().instances[0]!.up).to.equal(false);
      // the next new call goes straight to the live one
      const before = a!.received.length;
      await relay!.offer({ callId: 'f2', fromTag: 'A' }, SDP, { natted: false });
      expect(a!.received.length).to.equal(before);
      // a ping that is answered brings it back
      a!.handler = fakeRtpengine('node0');
      await relay!.nodes.pingAll();
      expect(relay!.status().instances[0]!.up).to.equal(true);
    });

    it('an answer for a call whose instance died fails with ERR_RELAY_TIMEOUT, never elsewhere', async () => {
      const [a, b] = await start(2);
      await relay!.offer({ callId: 'd1', fromTag: 'A' }, SDP, { natted: false });
      const holder = a!.commands().length === 1 ? a! : b!;
      const other = holder === a ? b! : a!;
      holder.handler = () => undefined;
      const err = await relay!.answer({ callId: 'd1', fromTag: 'A', toTag: 'B' }, SDP, { natted: false }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_TIMEOUT', status: 503 });
      const del = await relay!.release({ callId: 'd1', fromTag: 'A', toTag: 'B' }).catch((e: unknown) => e);
      expect(del).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_TIMEOUT' });
      expect(other.commands()).to.have.length(0);
      expect(relay!.status().calls).to.equal(0);
    });

    it('close() lets releases already asked for finish, deletes the other calls, then refuses everything with ERR_RELAY_CLOSED', async () => {
      const [a] = await start(1);
      await relay!.offer({ callId: 'x1', fromTag: 'A' }, SDP, { natted: false });
      await relay!.offer({ callId: 'x0', fromTag: 'A' }, SDP, { natted: false });
      // the proxy releases its calls without waiting, then closes the allocator
      const released = relay!.release({ callId: 'x0', fromTag: 'A' });
      await relay!.close();
      expect(await released).to.equal(true);
      expect(a!.commands().map((c) => `${c.name} ${bstr(c.command['call-id'])}`).sort()).to.deep.equal(['delete x0', 'delete x1', 'offer x0', 'offer x1']);
      expect(await relay!.release({ callId: 'x1', fromTag: 'A' }).catch((e: unknown) => e)).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_CLOSED' });
      const err = await relay!.offer({ callId: 'x2', fromTag: 'A' }, SDP, { natted: false }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RelayError).and.include({ code: 'ERR_RELAY_CLOSED' });
    });
  });
});
