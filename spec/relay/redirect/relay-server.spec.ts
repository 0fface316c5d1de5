import { expect } from 'chai';
import { RelayHeader, parseResourceLine, signRequest } from '../../../lib/index.js';
import type { SipResponse } from '../../../lib/index.js';
import { Phone, UdpPeer, eventually, ipv6Available, makeSdp, relayTarget, rtcpPacket, rtpPacket } from '../helpers.js';
import { RawClient, type TestRelay, startRelay, warningOf } from './world.js';

/** The user part of a 302's Contact: the resource id. */
function resourceOf(response: SipResponse): { id: string; uri: string } {
  const uri = response.contact[0]?.uri;
  if (uri === undefined || uri.user === undefined) throw new Error(`no resource URI in ${response.status} ${response.reason}`);
  return { id: uri.user, uri: uri.toString() };
}

const CALL = { [RelayHeader.call]: 'call-1@test;from-tag=alice-tag' };

describe('relay-by-redirect: the relay server (docs/relay-protocol.md)', function () {
  this.timeout(10000);
  let relay: TestRelay;
  let client: RawClient;
  let alice: Phone;
  let bob: Phone;

  beforeEach(async () => {
    relay = await startRelay();
    client = await RawClient.start();
    alice = await Phone.create('127.0.0.1');
    bob = await Phone.create('127.0.0.1');
  });

  afterEach(async () => {
    alice.close();
    bob.close();
    await client.close();
    await relay.server.close();
  });

  async function allocate(headers: Record<string, string> = {}, sdp = makeSdp('127.0.0.1', [{ port: alice.rtp.port, rtcpPort: alice.rtcp.port }])) {
    const response = await client.send('INVITE', relay.server.uri, { [RelayHeader.party]: 'caller', [RelayHeader.sdp]: 'offer', ...CALL, ...headers }, sdp);
    expect(response.status, `${response.status} ${warningOf(response)}`).to.equal(302);
    return { response, ...resourceOf(response) };
  }

  it('allocate -> answer -> RTP and RTCP both ways -> query -> release: the whole round trip', async () => {
    const { response, id, uri } = await allocate({ [RelayHeader.owner]: 'proxy-a' });
    // the resource URI names the relay; the SDP names the relay's leg facing the callee
    expect(uri).to.equal(relay.server.resourceUri(id));
    expect(id).to.match(/^r[0-9a-f]{20}$/);
    expect(response.get(RelayHeader.instance)).to.equal(relay.server.instance);
    expect(response.contentType).to.equal('application/sdp');
    const toBob = relayTarget(response.body);
    expect(toBob.address).to.equal('127.0.0.1');
    expect(toBob.rtpPort).to.be.within(relay.ports.min, relay.ports.max);
    const described = parseResourceLine(response.get(RelayHeader.resource)!)!;
    expect(described).to.include({ id, state: 'offered', callId: 'call-1@test', fromTag: 'alice-tag', owner: 'proxy-a', streams: 1 });

    const answer = await client.send(
      'INVITE',
      uri,
      { [RelayHeader.party]: 'callee', [RelayHeader.sdp]: 'answer', [RelayHeader.call]: 'call-1@test;from-tag=alice-tag;to-tag=bob-tag' },
      makeSdp('127.0.0.1', [{ port: bob.rtp.port, rtcpPort: bob.rtcp.port }], { sessionId: '99' }),
    );
    expect(answer.status).to.equal(302);
    expect(answer.contact[0]!.uri.toString()).to.equal(uri);
    const toAlice = relayTarget(answer.body);
    expect(toAlice.rtpPort).to.not.equal(toBob.rtpPort);

    await alice.rtp.send(rtpPacket(1, 0, 'from-alice'), toAlice.rtpPort, toAlice.address);
    expect((await bob.rtp.next()).data.subarray(12).toString()).to.equal('from-alice');
    await bob.rtp.send(rtpPacket(1, 0, 'from-bob'), toBob.rtpPort, toBob.address);
    expect((await alice.rtp.next()).data.subarray(12).toString()).to.equal('from-bob');
    await alice.rtcp.send(rtcpPacket(), toAlice.rtcpPort, toAlice.address);
    expect((await bob.rtcp.next()).data[1]).to.equal(201);

    const query = await client.send('OPTIONS', uri);
    expect(query.status).to.equal(200);
    expect(parseResourceLine(query.get(RelayHeader.resource)!)).to.deep.include({
      state: 'answered',
      toTag: 'bob-tag',
      packets: { fromCaller: 2, fromCallee: 1 },
      ports: { caller: [toAlice.rtpPort], callee: [toBob.rtpPort] },
    });

    const bye = await client.send('BYE', uri);
    expect(bye.status).to.equal(200);
    expect(parseResourceLine(bye.get(RelayHeader.resource)!)!.packets).to.deep.equal({ fromCaller: 2, fromCallee: 1 });
    expect(relay.server.resources()).to.deep.equal([]);
    expect(relay.server.media.stats().portsInUse).to.equal(0);
    expect(relay.events.map((e) => e.type)).to.deep.equal(['allocated', 'updated', 'released']);
    expect(relay.events[2]).to.include({ reason: 'bye' });

    // releasing twice is harmless: 481
    expect((await client.send('BYE', uri)).status).to.equal(481);
  });

  it('update: a re-offer from the callee keeps the ports of a stream that stays and adds a stream for a new m= line', async () => {
    const { uri, response } = await allocate();
    const first = relayTarget(response.body);
    await client.send('INVITE', uri, { [RelayHeader.party]: 'callee', [RelayHeader.sdp]: 'answer' }, makeSdp('127.0.0.1', [{ port: bob.rtp.port }]));
    const video = await UdpPeer.bind('127.0.0.1');
    try {
      // the callee re-offers with audio and a new video stream: the SDP goes to the caller
      const reoffer = await client.send(
        'INVITE',
        uri,
        { [RelayHeader.party]: 'callee', [RelayHeader.sdp]: 'offer' },
        makeSdp('127.0.0.1', [{ port: bob.rtp.port }, { type: 'video', port: video.port, formats: '96' }], { version: 2 }),
      );
      expect(reoffer.status).to.equal(302);
      expect(reoffer.body.toString().match(/^m=/gm)).to.have.length(2);
      const reanswer = await client.send(
        'INVITE',
        uri,
        { [RelayHeader.party]: 'caller', [RelayHeader.sdp]: 'answer' },
        makeSdp('127.0.0.1', [{ port: alice.rtp.port }, { type: 'video', port: alice.rtcp.port, formats: '96' }], { version: 2 }),
      );
      expect(reanswer.status).to.equal(302);
      // the callee still sends its audio to the port it had
      expect(relayTarget(reanswer.body, 0).rtpPort).to.equal(first.rtpPort);
      const info = relay.server.resources()[0]!;
      expect(info.streams).to.equal(2);
    } finally {
      video.close();
    }
  });

  it('rtcp-mux offered and answered: no RTCP ports; IPv4 and IPv6 parties bridged with X-Relay-Family', async function () {
    const muxed = await allocate({}, makeSdp('127.0.0.1', [{ port: alice.rtp.port, rtcpMux: true }]));
    expect(muxed.response.body.toString()).to.include('a=rtcp-mux');
    const answered = await client.send('INVITE', muxed.uri, { [RelayHeader.party]: 'callee', [RelayHeader.sdp]: 'answer' }, makeSdp('127.0.0.1', [{ port: bob.rtp.port, rtcpMux: true }]));
    expect(answered.body.toString()).to.not.match(/^a=rtcp:/m);
    // two legs of one stream, RTP only
    expect(relay.server.media.stats().portsInUse).to.equal(2);
    await client.send('BYE', muxed.uri);

    if (!(await ipv6Available())) return;
    const dual = await startRelay({ mediaAddress: ['127.0.0.1', '::1'] });
    try {
      const response = await client.send(
        'INVITE',
        dual.server.uri,
        { [RelayHeader.family]: 'IP6' },
        makeSdp('127.0.0.1', [{ port: alice.rtp.port }]),
      );
      expect(response.status).to.equal(302);
      expect(response.body.toString()).to.match(/^c=IN IP6 ::1/m);
    } finally {
      await dual.server.close();
    }
  });

  it('with X-Relay-Nat: yes it sends to X-Relay-Source instead of the SDP address', async () => {
    // the caller's SDP names 127.0.0.99 (a private address) but its media comes from 127.0.0.1
    const { uri, response } = await allocate({ [RelayHeader.nat]: 'yes', [RelayHeader.source]: '127.0.0.1' }, makeSdp('127.0.0.99', [{ port: alice.rtp.port }]));
    await client.send('INVITE', uri, { [RelayHeader.party]: 'callee', [RelayHeader.sdp]: 'answer' }, makeSdp('127.0.0.1', [{ port: bob.rtp.port }]));
    expect(relay.server.media.stats().sessions[0]!.streams[0]!.caller.remote!.address).to.equal('127.0.0.1');
    // before the caller sent anything, the callee's media already reaches it at its public address
    const toBob = relayTarget(response.body);
    await bob.rtp.send(rtpPacket(7, 0, 'early'), toBob.rtpPort, toBob.address);
    expect((await alice.rtp.next()).data.subarray(12).toString()).to.equal('early');
  });

  it('health check and listing: load, instance, owner filter and pages', async () => {
    const health = await client.send('OPTIONS', relay.server.uri);
    expect(health.status).to.equal(200);
    expect(health.get(RelayHeader.instance)).to.equal(relay.server.instance);
    expect(health.get(RelayHeader.load)).to.equal(`resources=0;ports=0/${relay.ports.max - relay.ports.min + 1}`);
    expect(health.get('Allow')).to.include('INVITE');

    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await allocate({ [RelayHeader.owner]: 'proxy-a' })).id);
    ids.push((await allocate({ [RelayHeader.owner]: 'proxy-b' })).id);
    const mine = ids.slice(0, 3).sort();

    const page1 = await client.send('OPTIONS', relay.server.uri, { [RelayHeader.list]: 'owner=proxy-a;max=2' });
    expect(page1.contentType).to.equal('text/x-relay-resources');
    const lines1 = page1.body.toString().trim().split('\r\n').map((l) => parseResourceLine(l)!.id);
    expect(lines1).to.deep.equal(mine.slice(0, 2));
    expect(page1.get(RelayHeader.listNext)).to.equal(mine[1]);
    const page2 = await client.send('OPTIONS', relay.server.uri, { [RelayHeader.list]: `owner=proxy-a;max=2;after=${mine[1]}` });
    expect(page2.body.toString().trim().split('\r\n').map((l) => parseResourceLine(l)!.id)).to.deep.equal([mine[2]]);
    expect(page2.get(RelayHeader.listNext)).to.equal(undefined);

    const all = await client.send('OPTIONS', relay.server.uri, { [RelayHeader.list]: 'all' });
    expect(all.body.toString().trim().split('\r\n')).to.have.length(4);
  });

  it('frees a resource after its media timeout and an unanswered one after its offer timeout', async () => {
    const quick = await startRelay({ mediaTimeoutMs: 150, offerTimeoutMs: 150 });
    try {
      const offered = await client.send('INVITE', quick.server.uri, {}, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]));
      const answered = await client.send('INVITE', quick.server.uri, {}, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]));
      const toAlice = relayTarget(
        (await client.send('INVITE', resourceOf(answered).uri, { [RelayHeader.party]: 'callee', [RelayHeader.sdp]: 'answer' }, makeSdp('127.0.0.1', [{ port: bob.rtp.port }]))).body,
      );
      await alice.rtp.send(rtpPacket(1), toAlice.rtpPort, toAlice.address);
      await bob.rtp.next();
      await eventually(() => quick.server.resources().length === 0, 3000, 'both resources reaped');
      const released = quick.events.flatMap((e) => (e.type === 'released' ? [e] : []));
      expect(released.map((e) => `${e.resource.id}:${e.reason}`)).to.have.members([`${resourceOf(offered).id}:offer-timeout`, `${resourceOf(answered).id}:media-timeout`]);
      // the release line of a timed-out resource still has its ports and its final counters
      const timedOut = released.find((e) => e.reason === 'media-timeout')!.resource;
      expect(timedOut.packets).to.deep.equal({ fromCaller: 1, fromCallee: 0 });
      expect(timedOut.ports.caller).to.deep.equal([toAlice.rtpPort]);
      expect(quick.server.media.stats().portsInUse).to.equal(0);
      expect((await client.send('OPTIONS', resourceOf(answered).uri)).status).to.equal(481);
    } finally {
      await quick.server.close();
    }
  });

  describe('error responses', () => {
    it('503 with Retry-After when no ports are left', async () => {
      const small = await startRelay({ retryAfter: 7 }, 4); // one stream: two legs of an RTP/RTCP pair each
      try {
        const first = await client.send('INVITE', small.server.uri, {}, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]));
        expect(first.status).to.equal(302);
        const second = await client.send('INVITE', small.server.uri, {}, makeSdp('127.0.0.1', [{ port: alice.rtp.port }]));
        expect(second.status).to.equal(503);
        expect(second.get('Retry-After')).to.equal('7');
        expect(warningOf(second)).to.match(/no free port/);
        expect(small.server.resources()).to.have.length(1);
      } finally {
        await small.server.close();
      }
    });

    it('488 for SDP it cannot relay (unparseable; an answer with the wrong number of m= lines)', async () => {
      const bad = await client.send('INVITE', relay.server.uri, {}, 'this is not SDP');
      expect(bad.status).to.equal(488);
      const { uri } = await allocate();
      const mismatch = await client.send(
        'INVITE',
        uri,
        { [RelayHeader.party]: 'callee', [RelayHeader.sdp]: 'answer' },
        makeSdp('127.0.0.1', [{ port: bob.rtp.port }, { port: bob.rtcp.port }]),
      );
      expect(mismatch.status).to.equal(488);
      expect(warningOf(mismatch)).to.match(/m= lines/);
    });

    it('481 for an unknown resource: INVITE, BYE and OPTIONS', async () => {
      const unknown = `sip:r00000000000000000000@${relay.server.hostPort}`;
      expect((await client.send('INVITE', unknown, { [RelayHeader.sdp]: 'answer' }, makeSdp('127.0.0.1', [{ port: bob.rtp.port }]))).status).to.equal(481);
      expect((await client.send('BYE', unknown)).status).to.equal(481);
      expect((await client.send('OPTIONS', unknown)).status).to.equal(481);
    });

    it('400 for malformed protocol headers, an allocation that is an answer, an answer from the offerer, a missing body', async () => {
      const sdp = makeSdp('127.0.0.1', [{ port: alice.rtp.port }]);
      expect((await client.send('INVITE', relay.server.uri, { [RelayHeader.party]: 'both' }, sdp)).status).to.equal(400);
      expect((await client.send('INVITE', relay.server.uri, { [RelayHeader.nat]: 'maybe' }, sdp)).status).to.equal(400);
      expect((await client.send('INVITE', relay.server.uri, { [RelayHeader.source]: 'not-an-ip' }, sdp)).status).to.equal(400);
      expect((await client.send('INVITE', relay.server.uri, { [RelayHeader.sdp]: 'answer' }, sdp)).status).to.equal(400);
      expect((await client.send('INVITE', relay.server.uri, {})).status).to.equal(400);
      expect((await client.send('OPTIONS', relay.server.uri, { [RelayHeader.list]: 'everything' })).status).to.equal(400);
      const { uri } = await allocate();
      const own = await client.send('INVITE', uri, { [RelayHeader.party]: 'caller', [RelayHeader.sdp]: 'answer' }, sdp);
      expect(own.status).to.equal(400);
      expect(relay.server.stats().refused).to.equal(7);
    });

    it('415 for a body that is not SDP, 405 for a method outside the protocol', async () => {
      const wrong = await client.send('INVITE', relay.server.uri, {}, '<xml/>', { contentType: 'application/xml' });
      expect(wrong.status).to.equal(415);
      expect(wrong.get('Accept')).to.equal('application/sdp');
      const message = await client.send('MESSAGE', relay.server.uri, {}, 'hello', { contentType: 'text/plain' });
      expect(message.status).to.equal(405);
      expect(message.getAll('Allow')).to.deep.equal(['INVITE', 'ACK', 'BYE', 'OPTIONS', 'CANCEL']);
    });
  });

  describe('authentication', () => {
    it('403 for a source address outside the allow list; allowed prefixes pass', async () => {
      const closed = await startRelay({ allow: ['192.0.2.0/24', '2001:db8::/32'] });
      const open = await startRelay({ allow: ['127.0.0.0/8'] });
      try {
        const refused = await client.send('OPTIONS', closed.server.uri);
        expect(refused.status).to.equal(403);
        expect(warningOf(refused)).to.match(/127\.0\.0\.1 not allowed/);
        expect((await client.send('OPTIONS', open.server.uri)).status).to.equal(200);
      } finally {
        await closed.server.close();
        await open.server.close();
      }
    });

    it('shared secret: a signed request passes; missing, wrong, stale, tampered and replayed ones get 403', async () => {
      const secure = await startRelay({ secret: 's3cret' });
      try {
        const sdp = makeSdp('127.0.0.1', [{ port: alice.rtp.port }]);
        const ok = await client.send('INVITE', secure.server.uri, { [RelayHeader.party]: 'caller' }, sdp, { secret: 's3cret' });
        expect(ok.status).to.equal(302);
        const missing = await client.send('OPTIONS', secure.server.uri);
        expect([missing.status, warningOf(missing)]).to.deep.equal([403, 'missing X-Relay-Auth']);
        const wrong = await client.send('OPTIONS', secure.server.uri, {}, undefined, { secret: 'guess' });
        expect([wrong.status, warningOf(wrong)]).to.deep.equal([403, 'bad signature']);
        const stale = await client.send('OPTIONS', secure.server.uri, { [RelayHeader.auth]: `t=${Math.floor(Date.now() / 1000) - 600};sig=abc` });
        expect([stale.status, warningOf(stale)]).to.deep.equal([403, 'stale timestamp']);

        // a captured signature replayed on a new transaction (same Call-ID and CSeq) is refused
        const request = client.ua.createRequest({ method: 'OPTIONS', uri: secure.server.uri, from: 'sip:proxy@127.0.0.1', to: secure.server.uri, contact: false });
        signRequest(request, Buffer.from('s3cret'));
        expect((await client.ua.request(request)).status).to.equal(200);
        const replay = request.clone();
        replay.set('Via', `SIP/2.0/UDP ${client.ua.transport.sentBy.host}:${client.ua.transport.sentBy.port};branch=z9hG4bKreplay${Date.now()};rport`);
        const replayed = await client.ua.request(replay);
        expect([replayed.status, warningOf(replayed)]).to.deep.equal([403, 'replayed request']);

        // the signature covers the protocol headers: a changed party is refused
        const tampered = client.ua.createRequest({ method: 'INVITE', uri: secure.server.uri, from: 'sip:proxy@127.0.0.1', to: secure.server.uri, contact: false, body: sdp, headers: { [RelayHeader.party]: 'caller' } });
        signRequest(tampered, Buffer.from('s3cret'));
        tampered.set(RelayHeader.party, 'callee');
        const t = await client.ua.request(tampered);
        expect([t.status, warningOf(t)]).to.deep.equal([403, 'bad signature']);
        expect(secure.server.resources()).to.have.length(1);
      } finally {
        await secure.server.close();
      }
    });
  });
});
