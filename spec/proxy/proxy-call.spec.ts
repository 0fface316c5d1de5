import { expect } from 'chai';
import { LocalRelayAllocator } from '../../lib/index.js';
import type { SipProxy, CallRecord, IncomingRequest, SipRequest } from '../../lib/index.js';
import { startTestProxy, startPhone, mediaTarget, eventually } from '../support/proxy-world.js';
import type { Phone } from '../support/proxy-world.js';

/**
 * Calls through the proxy between phones on loopback. Alice writes 127.0.0.99 into her Via,
 * Contact and SDP but sends from 127.0.0.1: to the proxy she is a client behind NAT.
 */
describe('proxy: a call from a client behind NAT (claims 1, 4, 7, 10, 11)', function () {
  this.timeout(20000);
  let proxy: SipProxy;
  let records: CallRecord[];
  let alice: Phone;
  let bob: Phone;
  let inviteAtBob: SipRequest | undefined;

  beforeEach(async () => {
    ({ proxy, records } = await startTestProxy());
    alice = await startPhone(proxy, 'alice', '127.0.0.99');
    bob = await startPhone(proxy, 'bob');
    inviteAtBob = undefined;
    bob.ua.onRequest((req: IncomingRequest) => {
      if (req.method !== 'INVITE') return void req.respond(200);
      if (req.request.to.tag === undefined) inviteAtBob = req.request;
      req.respond(180);
      req.respond(200, 'OK', { body: bob.sdp(req.request.to.tag === undefined ? 1 : 2), contentType: 'application/sdp' });
    });
    expect((await alice.register()).status).to.equal(200);
    expect((await bob.register()).status).to.equal(200);
  });

  afterEach(async () => {
    await alice.close();
    await bob.close();
    await proxy.close();
  });

  function invite(from: Phone, to: Phone, body?: string): SipRequest {
    const { address, port } = proxy.address;
    return from.ua.createRequest({ method: 'INVITE', uri: `sip:${to.user}@${address}:${port}`, from: from.aor, to: to.aor, ...(body !== undefined ? { body } : {}) });
  }

  it('relays the media: both parties get the relay address, RTP flows both ways through it, BYE frees it', async () => {
    const { response, dialog } = await alice.ua.invite(invite(alice, bob, alice.sdp()));
    // the 200 OK reached Alice although her Via names 127.0.0.99: it went to her source address
    expect(response.status).to.equal(200);
    const relayForAlice = mediaTarget(response.body);
    expect(relayForAlice.address).to.equal('127.0.0.1');
    expect(relayForAlice.port).to.not.equal(bob.mediaPort);

    // the INVITE to the callee names the relay, never Alice's private address
    expect(inviteAtBob).to.not.equal(undefined);
    const relayForBob = mediaTarget(inviteAtBob!.body);
    expect(relayForBob.address).to.equal('127.0.0.1');
    expect(inviteAtBob!.body.toString()).to.not.include('127.0.0.99');
    expect(inviteAtBob!.get('record-route')).to.include(`${proxy.address.address}:${proxy.address.port}`);

    await alice.sendRtp(relayForAlice.address, relayForAlice.port, 20);
    await bob.sendRtp(relayForBob.address, relayForBob.port, 20);
    await eventually(() => alice.received.length >= 20 && bob.received.length >= 20, 3000, 'RTP both ways');
    expect(bob.received[0]!.subarray(12, 17).toString()).to.equal('alice');
    expect(alice.received[0]!.subarray(12, 15).toString()).to.equal('bob');
    const stats = (proxy.relay as LocalRelayAllocator).stats();
    expect(stats.sessionCount).to.equal(1);

    expect((await dialog!.bye()).status).to.equal(200);
    await eventually(() => (proxy.relay as LocalRelayAllocator).stats().portsInUse === 0, 2000, 'relay ports released');
    expect(proxy.calls.size).to.equal(0);
    expect(records).to.have.length(1);
    expect(records[0]!.natted).to.equal(true);
    expect(records[0]!.natTests).to.include('via-sent-by');
    expect(records[0]!.result).to.equal('bye');
    expect(records[0]!.relayPorts).to.be.a('string');
    expect(records[0]!.packets!.fromCaller).to.be.at.least(20);
    expect(records[0]!.packets!.fromCallee).to.be.at.least(20);
  });

  it('does not relay when neither party is behind NAT', async () => {
    const carol = await startPhone(proxy, 'carol');
    await carol.register();
    carol.ua.onRequest((req) => void req.respond(200, 'OK', { body: carol.sdp(), contentType: 'application/sdp' }));
    const { response, dialog } = await bob.ua.invite(invite(bob, carol, bob.sdp()));
    expect(response.status).to.equal(200);
    expect(mediaTarget(response.body)).to.deep.equal({ address: '127.0.0.1', port: carol.mediaPort });
    expect((proxy.relay as LocalRelayAllocator).stats().sessionCount).to.equal(0);
    await dialog!.bye();
    await carol.close();
    expect(records.at(-1)!.relayPorts).to.equal(undefined);
  });

  it('keeps the relay ports across a re-INVITE (hold) and the call keeps its relay', async () => {
    const { dialog } = await alice.ua.invite(invite(alice, bob, alice.sdp()));
    const before = (proxy.relay as LocalRelayAllocator).stats().portsInUse;
    alice.ua.onRequest((req) => void req.respond(200, 'OK', { body: alice.sdp(2, 'recvonly'), contentType: 'application/sdp' }));
    const reinvite = dialog!.createRequest('INVITE', { body: alice.sdp(2, 'sendonly'), contentType: 'application/sdp' });
    const res = await alice.ua.request(reinvite);
    expect(res.status).to.equal(200);
    expect((proxy.relay as LocalRelayAllocator).stats().portsInUse).to.equal(before);
    await dialog!.bye();
  });

  it('answers 480 for a user that is not registered', async () => {
    const { address, port } = proxy.address;
    const req = alice.ua.createRequest({ method: 'INVITE', uri: `sip:nobody@${address}:${port}`, from: alice.aor, to: 'sip:nobody@127.0.0.1', body: alice.sdp() });
    const res = await alice.ua.request(req);
    expect(res.status).to.equal(480);
    expect((proxy.relay as LocalRelayAllocator).stats().portsInUse).to.equal(0);
  });
});
