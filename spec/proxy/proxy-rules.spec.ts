import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { parse, SipProxy, SipResponse, LocalRelayAllocator } from '../../lib/index.js';
import type { IncomingRequest, SipRequest } from '../../lib/index.js';
import { startTestProxy, startPhone, mediaTarget, eventually, randomPortRange } from '../support/proxy-world.js';

/** Sends raw SIP text to the proxy from a plain socket and collects what comes back. */
class RawClient {
  readonly responses: SipResponse[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('message', (m) => {
      const msg = parse(m);
      if (msg instanceof SipResponse) this.responses.push(msg);
    });
  }
  static async open(): Promise<RawClient> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    return new RawClient(s);
  }
  get port(): number {
    return this.socket.address().port;
  }
  send(proxy: SipProxy, text: string): void {
    this.socket.send(Buffer.from(text.replace(/\n/g, '\r\n')), proxy.address.port, proxy.address.address);
  }
  async final(): Promise<SipResponse> {
    await eventually(() => this.responses.some((r) => r.status >= 200), 3000, 'a final response');
    return this.responses.find((r) => r.status >= 200)!;
  }
  close(): void {
    this.socket.close();
  }
}

function request(client: RawClient, proxy: SipProxy, method: string, extra: string[] = [], uri = `sip:bob@127.0.0.1:${proxy.address.port}`): string {
  return [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${client.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'From: <sip:alice@127.0.0.1>;tag=a1',
    'To: <sip:bob@127.0.0.1>',
    `Call-ID: ${Math.random().toString(36).slice(2)}`,
    `CSeq: 1 ${method}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\n');
}

describe('proxy: request processing rules (RFC 3261 §16.3-§16.10)', function () {
  this.timeout(20000);
  let proxy: SipProxy;
  let client: RawClient;
  beforeEach(async () => {
    ({ proxy } = await startTestProxy());
    client = await RawClient.open();
  });
  afterEach(async () => {
    client.close();
    await proxy.close();
  });

  it('§16.3 step 3: Max-Forwards 0 gets 483 Too Many Hops', async () => {
    client.send(proxy, request(client, proxy, 'OPTIONS', ['Max-Forwards: 0']));
    expect((await client.final()).status).to.equal(483);
  });
  it('§16.3 step 2: an unknown Request-URI scheme gets 416', async () => {
    client.send(proxy, request(client, proxy, 'OPTIONS', [], 'urn:service:sos'));
    expect((await client.final()).status).to.equal(416);
  });
  it('§16.3 step 5: an unsupported Proxy-Require gets 420 listing it in Unsupported', async () => {
    client.send(proxy, request(client, proxy, 'OPTIONS', ['Proxy-Require: foo-ext']));
    const r = await client.final();
    expect(r.status).to.equal(420);
    expect(r.get('unsupported')).to.equal('foo-ext');
  });
  it('§16.3 step 4: a request that comes back with the same branch hash is a loop (482)', async () => {
    const phone = await startPhone(proxy, 'loop');
    // a binding that points back at the proxy itself makes the request loop
    const { address, port } = proxy.address;
    const reg = phone.ua.createRequest({ method: 'REGISTER', uri: `sip:${address}:${port}`, from: 'sip:loop@127.0.0.1', to: 'sip:loop@127.0.0.1', contact: `sip:loop@${address}:${port}`, headers: { Expires: '60' } });
    expect((await phone.ua.request(reg)).status).to.equal(200);
    const msg = phone.ua.createRequest({ method: 'MESSAGE', uri: `sip:loop@${address}:${port}`, from: 'sip:x@127.0.0.1', to: 'sip:loop@127.0.0.1', body: 'hi', contentType: 'text/plain' });
    const res = await phone.ua.request(msg);
    expect(res.status).to.equal(482);
    await phone.close();
  });
  it('answers OPTIONS addressed to the proxy itself with 200 and Allow', async () => {
    client.send(proxy, request(client, proxy, 'OPTIONS', ['Max-Forwards: 70'], `sip:127.0.0.1:${proxy.address.port}`));
    const r = await client.final();
    expect(r.status).to.equal(200);
    expect(r.get('allow')).to.include('INVITE');
  });
  it('sends 100 Trying for an INVITE at once and 480 when nobody is registered', async () => {
    client.send(proxy, request(client, proxy, 'INVITE', ['Max-Forwards: 70', 'Contact: <sip:alice@127.0.0.1>']));
    const r = await client.final();
    expect(client.responses[0]!.status).to.equal(100);
    expect(r.status).to.equal(480);
    // the response went to the source port (rport), and the Via says so
    expect(r.via[0]!.rport).to.equal(client.port);
  });
  it('§16.10: CANCEL of a ringing INVITE ends with 487 and frees the relay', async () => {
    const alice = await startPhone(proxy, 'alice', '127.0.0.99');
    const bob = await startPhone(proxy, 'bob');
    await alice.register();
    await bob.register();
    let cancelled = false;
    bob.ua.onRequest((req: IncomingRequest) => {
      req.oncancel = () => (cancelled = true);
      req.respond(180);
    });
    const { address, port } = proxy.address;
    const inv = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() });
    const pending = alice.ua.request(inv, { onProvisional: (r) => void (r.status === 180 && alice.ua.cancel(inv)) });
    const res = await pending;
    expect(res.status).to.equal(487);
    expect(cancelled).to.equal(true);
    await eventually(() => (proxy.relay as LocalRelayAllocator).stats().portsInUse === 0 && proxy.calls.size === 0, 3000, 'release after CANCEL');
    await alice.close();
    await bob.close();
  });
});

describe('proxy: relay exhaustion and offer/answer variants', function () {
  this.timeout(20000);

  it('answers 503 with Retry-After when the relay has no ports left, and never hangs', async () => {
    const base = randomPortRange(4).min; // below the ephemeral range: nothing else takes these
    const { proxy: small } = await startTestProxy({ rtpPorts: { min: base, max: base + 3 } });
    const alice = await startPhone(small, 'alice', '127.0.0.99');
    const bob = await startPhone(small, 'bob');
    await alice.register();
    await bob.register();
    bob.ua.onRequest((req: IncomingRequest) => void req.respond(180));
    const { address, port } = small.address;
    // one call takes both legs' RTP+RTCP pairs (4 ports); the second cannot get any
    const first = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() });
    const firstDone = alice.ua.request(first, { onProvisional: () => undefined });
    await eventually(() => small.calls.size === 1, 3000, 'first call');
    const second = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() });
    const res = await alice.ua.request(second);
    expect(res.status).to.equal(503);
    expect(res.get('retry-after')).to.be.a('string');
    alice.ua.cancel(first);
    expect((await firstDone).status).to.equal(487);
    await alice.close();
    await bob.close();
    await small.close();
  });

  it('handles early media (SDP in 183, again in 200) and a late offer (SDP in 200, answer in ACK)', async () => {
    const { proxy } = await startTestProxy();
    const alice = await startPhone(proxy, 'alice', '127.0.0.99');
    const bob = await startPhone(proxy, 'bob');
    await alice.register();
    await bob.register();
    let ackBody = '';
    bob.ua.onRequest((req: IncomingRequest) => {
      if (req.method !== 'INVITE') return void req.respond(200);
      req.onack = (ack: SipRequest) => (ackBody = ack.body.toString());
      if (req.request.body.length > 0) req.respond(183, 'Session Progress', { body: bob.sdp(), contentType: 'application/sdp' });
      req.respond(200, 'OK', { body: bob.sdp(), contentType: 'application/sdp' });
    });
    const { address, port } = proxy.address;
    let early: Buffer | undefined;
    const inv = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() });
    const r1 = await alice.ua.invite(inv, { onProvisional: (r) => void (r.status === 183 && (early = r.body)) });
    expect(r1.response.status).to.equal(200);
    expect(early).to.not.equal(undefined);
    expect(mediaTarget(early!)).to.deep.equal(mediaTarget(r1.response.body));
    expect(mediaTarget(r1.response.body).port).to.not.equal(bob.mediaPort);
    await r1.dialog!.bye();

    // late offer: INVITE without SDP; the 200 carries bob's offer, the ACK alice's answer
    const late = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor });
    const r2 = await alice.ua.invite(late, { ackBody: alice.sdp(), ackContentType: 'application/sdp' });
    expect(r2.response.status).to.equal(200);
    expect(mediaTarget(r2.response.body).port).to.not.equal(bob.mediaPort);
    await eventually(() => ackBody.length > 0, 3000, 'ACK with SDP at bob');
    expect(ackBody).to.not.include('127.0.0.99');
    await r2.dialog!.bye();
    await eventually(() => (proxy.relay as LocalRelayAllocator).stats().portsInUse === 0, 3000, 'ports released');
    await alice.close();
    await bob.close();
    await proxy.close();
  });
});
