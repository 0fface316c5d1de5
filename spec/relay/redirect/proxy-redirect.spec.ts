import { expect } from 'chai';
import { RelayPool } from '../../../lib/index.js';
import type { CallRecord, IncomingRequest, SipProxy, SipRequest } from '../../../lib/index.js';
import { eventually, mediaTarget, startPhone, startTestProxy } from '../../support/proxy-world.js';
import type { Phone } from '../../support/proxy-world.js';
import { FAST_TIMERS, type TestRelay, startRelay } from './world.js';

/**
 * The proxy of claims 1 and 7 with the relay resource engine of claims 8 and 9: it obtains the
 * relay resource from relay servers over the relay-by-redirect protocol instead of relaying in
 * process. Phones on loopback; Alice writes 127.0.0.99 into her Via, Contact and SDP, so the
 * proxy takes her for a client behind NAT.
 */
describe('relay-by-redirect: the proxy with relay servers (claims 2, 3, 5, 6, 8, 9)', function () {
  this.timeout(15000);
  let relays: TestRelay[];
  let pool: RelayPool;
  let proxy: SipProxy;
  let records: CallRecord[];
  let alice: Phone;
  let bob: Phone;
  let inviteAtBob: SipRequest | undefined;

  async function setUp(count: number, relayOptions: Parameters<typeof startRelay>[0] = {}, size = 40): Promise<void> {
    relays = [];
    for (let i = 0; i < count; i++) relays.push(await startRelay(relayOptions, size));
    pool = await RelayPool.start({
      relays: relays.map((r) => ({
        relay: r.server.uri,
        localAddress: '127.0.0.1',
        requestTimeoutMs: 300,
        checkIntervalMs: 100,
        maxFailures: 2,
        timers: FAST_TIMERS,
      })),
      // the first relay first, while it is up
      random: () => 0,
    });
    ({ proxy, records } = await startTestProxy({ relay: pool }));
    alice = await startPhone(proxy, 'alice', '127.0.0.99');
    bob = await startPhone(proxy, 'bob');
    inviteAtBob = undefined;
    bob.ua.onRequest((req: IncomingRequest) => {
      if (req.method !== 'INVITE') return void req.respond(200);
      if (req.request.to.tag === undefined) inviteAtBob = req.request;
      req.respond(200, 'OK', { body: bob.sdp(req.request.to.tag === undefined ? 1 : 2), contentType: 'application/sdp' });
    });
    expect((await alice.register()).status).to.equal(200);
    expect((await bob.register()).status).to.equal(200);
  }

  afterEach(async () => {
    await alice?.close();
    await bob?.close();
    await proxy?.close();
    await pool?.close();
    for (const r of relays ?? []) await r.server.close();
  });

  function invite(from: Phone, to: Phone, body?: string): SipRequest {
    const { address, port } = proxy.address;
    return from.ua.createRequest({ method: 'INVITE', uri: `sip:${to.user}@${address}:${port}`, from: from.aor, to: to.aor, ...(body !== undefined ? { body } : {}) });
  }

  it('relays a NATed call through the relay server: both parties get its address, RTP flows both ways, BYE frees the resource', async () => {
    await setUp(1);
    const relay = relays[0]!;
    const { response, dialog } = await alice.ua.invite(invite(alice, bob, alice.sdp()));
    expect(response.status).to.equal(200);

    // the relay server holds the call's resource; both SDPs name its media ports
    const [resource] = relay.server.resources();
    expect(resource).to.include({ state: 'answered', callId: response.callId, fromTag: response.from.tag });
    const forAlice = mediaTarget(response.body);
    const forBob = mediaTarget(inviteAtBob!.body);
    expect(forAlice.port).to.equal(resource!.ports.caller[0]);
    expect(forBob.port).to.equal(resource!.ports.callee[0]);
    expect(forAlice.port).to.be.within(relay.ports.min, relay.ports.max);
    expect(inviteAtBob!.body.toString()).to.not.include('127.0.0.99');

    await alice.sendRtp(forAlice.address, forAlice.port, 25);
    await bob.sendRtp(forBob.address, forBob.port, 25);
    await eventually(() => alice.received.length >= 25 && bob.received.length >= 25, 3000, 'RTP both ways through the relay server');
    expect(bob.received[0]!.subarray(12, 17).toString()).to.equal('alice');
    expect(alice.received[0]!.subarray(12, 15).toString()).to.equal('bob');
    // the counters come back to the proxy with the health checks' listing
    await eventually(() => (pool.mediaCounters({ callId: response.callId, fromTag: response.from.tag! })?.fromCallee ?? 0) >= 25, 3000, 'counters at the proxy');

    // a re-INVITE keeps the relay ports
    alice.ua.onRequest((req) => void req.respond(200, 'OK', { body: alice.sdp(2), contentType: 'application/sdp' }));
    const reinvite = await alice.ua.request(dialog!.createRequest('INVITE', { body: alice.sdp(2, 'sendonly'), contentType: 'application/sdp' }));
    expect(reinvite.status).to.equal(200);
    expect(mediaTarget(reinvite.body).port).to.equal(forAlice.port);

    expect((await dialog!.bye()).status).to.equal(200);
    await eventually(() => relay.server.resources().length === 0, 2000, 'the resource released on the relay');
    expect(relay.server.media.stats().portsInUse).to.equal(0);
    expect(relay.events.filter((e) => e.type === 'released').map((e) => (e.type === 'released' ? e.reason : ''))).to.deep.equal(['bye']);
    expect(records).to.have.length(1);
    expect(records[0]).to.include({ natted: true, result: 'bye' });
    expect(records[0]!.packets!.fromCaller).to.be.at.least(25);
    expect(records[0]!.packets!.fromCallee).to.be.at.least(25);
  });

  it('a relay out of ports: the caller gets 503 with Retry-After at once', async () => {
    await setUp(1, {}, 4);
    const carol = await startPhone(proxy, 'carol', '127.0.0.98');
    try {
      await carol.register();
      const first = await alice.ua.invite(invite(alice, bob, alice.sdp()));
      expect(first.response.status).to.equal(200);
      const started = Date.now();
      const second = await carol.ua.request(invite(carol, bob, carol.sdp()));
      expect(second.status).to.equal(503);
      expect(second.get('Retry-After')).to.not.equal(undefined);
      expect(Date.now() - started).to.be.below(1000);
      await first.dialog!.bye();
    } finally {
      await carol.close();
    }
  });

  it('the relay holding a call dies: the call ends with relay-down; new calls go to the other relay without hanging', async () => {
    await setUp(2);
    const first = await alice.ua.invite(invite(alice, bob, alice.sdp()));
    expect(first.response.status).to.equal(200);
    expect(relays[0]!.server.resources()).to.have.length(1);
    await relays[0]!.server.close();
    await eventually(() => records.length === 1, 3000, 'the call on the dead relay ended');
    expect(records[0]!.result).to.equal('relay-down');
    expect(proxy.calls.size).to.equal(0);

    const started = Date.now();
    const second = await alice.ua.invite(invite(alice, bob, alice.sdp(3)));
    expect(second.response.status).to.equal(200);
    expect(Date.now() - started).to.be.below(1500);
    expect(relays[1]!.server.resources()).to.have.length(1);
    await second.dialog!.bye();
    await first.dialog!.bye().catch(() => undefined);
  });
});
