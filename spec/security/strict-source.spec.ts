import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import type { CallRecord, Dialog, Endpoint, IncomingRequest, LocalRelayAllocator, SipProxy } from '../../lib/index.js';
import { startTestProxy, startPhone, mediaTarget, eventually } from '../support/proxy-world.js';
import type { Phone } from '../support/proxy-world.js';

/**
 * Media: strict source after latching is the default. Once the relay has latched each party to
 * the address its first packet came from, a third host's packets sent to the same relay ports are
 * neither forwarded (no injection) nor able to pull the stream to themselves (no RTP bleed).
 */
describe('media: strict source after latching through the proxy (no injection, no RTP bleed)', function () {
  this.timeout(20000);
  let proxy: SipProxy;
  let records: CallRecord[];
  let alice: Phone;
  let bob: Phone;
  let mallory: Socket;
  const atMallory: Buffer[] = [];
  let sdpAtBob: Buffer | undefined;

  beforeEach(async () => {
    ({ proxy, records } = await startTestProxy());
    alice = await startPhone(proxy, 'alice', '127.0.0.99');
    bob = await startPhone(proxy, 'bob');
    sdpAtBob = undefined;
    bob.ua.onRequest((req: IncomingRequest) => {
      if (req.method === 'INVITE' && req.request.to.tag === undefined) sdpAtBob = req.request.body;
      req.respond(200, 'OK', req.method === 'INVITE' ? { body: bob.sdp(), contentType: 'application/sdp' } : {});
    });
    await alice.register();
    await bob.register();
    mallory = createSocket('udp4');
    await new Promise<void>((r) => mallory.bind(0, '127.0.0.3', r));
    mallory.on('message', (m) => atMallory.push(m));
  });
  afterEach(async () => {
    mallory.close();
    await alice.close();
    await bob.close();
    await proxy.close();
  });

  async function inject(to: { address: string; port: number }, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const pkt = Buffer.alloc(172);
      pkt[0] = 0x80;
      pkt.write('mallory', 12);
      await new Promise<void>((r) => mallory.send(pkt, to.port, to.address, () => r()));
    }
  }
  /** Alice calls bob through the proxy: the answered dialog and the relay address each party is given. */
  async function call(): Promise<{ dialog: Dialog | undefined; relayForAlice: Endpoint; relayForBob: Endpoint }> {
    const { address, port } = proxy.address;
    const inv = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() });
    const { response, dialog } = await alice.ua.invite(inv);
    expect(response.status).to.equal(200);
    const relayForAlice = mediaTarget(response.body);
    await eventually(() => sdpAtBob !== undefined, 2000, 'the INVITE at bob');
    return { dialog, relayForAlice, relayForBob: mediaTarget(sdpAtBob!) };
  }

  const fromMallory = (list: Buffer[]): number => list.filter((p) => p.subarray(12, 19).toString() === 'mallory').length;

  it("drops a third host's packets to both relay legs once latched, and never sends it the call's media", async () => {
    const { dialog, relayForAlice, relayForBob } = await call();

    // both parties speak first: each leg latches to its party's source
    await alice.sendRtp(relayForAlice.address, relayForAlice.port, 10);
    await bob.sendRtp(relayForBob.address, relayForBob.port, 10);
    await eventually(() => alice.received.length >= 10 && bob.received.length >= 10, 3000, 'media both ways');

    // the third host sends to both latched relay ports, then the parties go on talking
    await inject(relayForAlice, 60);
    await inject(relayForBob, 60);
    await alice.sendRtp(relayForAlice.address, relayForAlice.port, 10);
    await bob.sendRtp(relayForBob.address, relayForBob.port, 10);
    await eventually(() => alice.received.length >= 20 && bob.received.length >= 20, 3000, 'media still flows');
    await new Promise((r) => setTimeout(r, 200));

    expect(fromMallory(alice.received), 'injected into alice').to.equal(0);
    expect(fromMallory(bob.received), 'injected into bob').to.equal(0);
    expect(atMallory, 'media bled to the third host').to.have.length(0);
    const stream = (proxy.relay as LocalRelayAllocator).stats().sessions[0]!.streams[0]!;
    expect(stream.caller.counters.droppedSource + stream.callee.counters.droppedSource, 'packets dropped for their source').to.equal(120);

    await dialog!.bye();
    await eventually(() => records.length === 1, 2000, 'call record');
    // the relay counted only the parties' own packets
    expect(records[0]!.packets!.fromCaller).to.equal(20);
    expect(records[0]!.packets!.fromCallee).to.equal(20);
  });

  it('refuses RTCP from a third host before the party sent any: RTCP latches only to the host its RTP latched to', async () => {
    const { dialog, relayForAlice, relayForBob } = await call();
    // RTP latches both legs; nobody has sent RTCP yet
    await alice.sendRtp(relayForAlice.address, relayForAlice.port, 5);
    await bob.sendRtp(relayForBob.address, relayForBob.port, 5);
    await eventually(() => alice.received.length >= 5 && bob.received.length >= 5, 3000, 'RTP both ways');
    // the third host sends "RTCP" to both relay RTCP ports (RTP port + 1, RFC 3550 §11) first
    await inject({ address: relayForAlice.address, port: relayForAlice.port + 1 }, 30);
    await inject({ address: relayForBob.address, port: relayForBob.port + 1 }, 30);
    await new Promise((r) => setTimeout(r, 200));
    const stream = (proxy.relay as LocalRelayAllocator).stats().sessions[0]!.streams[0]!;
    expect(stream.caller.latched.rtcp, 'caller RTCP latched to the third host').to.equal(undefined);
    expect(stream.callee.latched.rtcp, 'callee RTCP latched to the third host').to.equal(undefined);
    expect(stream.caller.counters.rtcp.packetsIn + stream.callee.counters.rtcp.packetsIn, 'third-host RTCP accepted').to.equal(0);
    expect(stream.caller.counters.droppedSource + stream.callee.counters.droppedSource).to.equal(60);
    await dialog!.bye();
  });
});
