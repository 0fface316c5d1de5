import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { MemoryLocationStore, parse, SipResponse } from '../../lib/index.js';
import type { IncomingRequest, SipProxy } from '../../lib/index.js';
import { startTestProxy, startPhone, eventually } from '../support/proxy-world.js';

/**
 * Everything that grows has a limit, answered with the right status and counted in
 * proxy.stats().security: message size (513), calls (503), transactions (503), bindings per AOR
 * (503), relay ports (503); refusals by policy are 403 (spec/security/open-relay.spec.ts).
 */
describe('limits on everything that grows', function () {
  this.timeout(20000);
  let proxy: SipProxy;
  let socket: Socket;
  let responses: SipResponse[];

  async function setup(options: Parameters<typeof startTestProxy>[0]): Promise<void> {
    ({ proxy } = await startTestProxy(options));
    socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    responses = [];
    socket.on('message', (m) => {
      const msg = parse(m);
      if (msg instanceof SipResponse) responses.push(msg);
    });
  }
  afterEach(async () => {
    socket?.close();
    await proxy?.close();
  });

  function request(method: string, n: number, body = ''): string {
    const port = socket.address().port;
    return (
      `${method} sip:127.0.0.1:${proxy.address.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKlim${n}x${Date.now()};rport\r\nMax-Forwards: 70\r\n` +
      `From: <sip:t@127.0.0.1>;tag=${n}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: lim-${n}-${Date.now()}\r\nCSeq: 1 ${method}\r\n` +
      (body.length > 0 ? 'Content-Type: text/plain\r\n' : '') +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
  }
  const send = (text: string): void => void socket.send(Buffer.from(text), proxy.address.port, proxy.address.address);

  it('answers a request over maxMessageSize with 513, drops an oversized response, and counts both', async () => {
    await setup({ maxMessageSize: 4096 });
    send(request('OPTIONS', 1, 'x'.repeat(6000)));
    await eventually(() => responses.length === 1, 3000, 'the 513');
    expect(responses[0]!.status).to.equal(513);
    expect(responses[0]!.via[0]!.rport).to.equal(socket.address().port);
    send(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\nContent-Length: 6000\r\n\r\n${'y'.repeat(6000)}`);
    send(request('OPTIONS', 2, 'small'));
    await eventually(() => responses.length === 2, 3000, 'the small one answered');
    expect(responses[1]!.status).to.equal(200);
    expect((await proxy.stats()).security.tooLarge).to.equal(2);
    expect(proxy.layer.counters.serverTransactions).to.equal(1);
  });

  it('refuses new transactions over maxTransactions with 503 and counts them; answered ones that only linger do not count', async () => {
    await setup({ maxTransactions: 4 });
    // three OPTIONS the proxy answers itself: their transactions linger (Completed, Timer J)
    for (let i = 0; i < 3; i++) send(request('OPTIONS', i));
    await eventually(() => responses.length === 3, 3000, 'three answers');
    expect(responses.map((r) => r.status)).to.deep.equal([200, 200, 200]);
    expect(proxy.layer.lingeringCount).to.equal(3);
    expect(proxy.layer.workingCount).to.equal(0);
    // two OPTIONS forwarded to a peer that never answers (on 127.0.0.2, a host the proxy does not
    // serve): a server and a client transaction each, both working
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.2', r));
    try {
      const to = `sip:nobody@127.0.0.2:${silent.address().port}`;
      for (let i = 3; i < 5; i++) send(request('OPTIONS', i).replace(`OPTIONS sip:127.0.0.1:${proxy.address.port} `, `OPTIONS ${to} `));
      await eventually(() => proxy.layer.workingCount === 4, 3000, 'four working transactions');
      send(request('OPTIONS', 5));
      await eventually(() => responses.length === 4, 3000, 'the fourth answer');
      expect(responses[3]!.status).to.equal(503);
      expect(responses[3]!.get('retry-after')).to.equal('5');
      expect((await proxy.stats()).security.transactionLimit).to.equal(1);
    } finally {
      silent.close();
    }
  });

  it('keeps at most maxLingeringTransactions finished transactions, dropping the oldest, and never refuses for them', async () => {
    await setup({ maxTransactions: 2, maxLingeringTransactions: 3 });
    for (let i = 0; i < 6; i++) {
      send(request('OPTIONS', i));
      await eventually(() => responses.length === i + 1, 3000, `answer ${i}`);
    }
    expect(responses.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
    expect(proxy.layer.lingeringCount).to.equal(3);
    expect(proxy.layer.counters.evicted).to.equal(3);
    expect((await proxy.stats()).security.transactionLimit).to.equal(0);
  });

  it('refuses a call over maxCalls with 503 and Retry-After and counts it', async () => {
    await setup({ maxCalls: 1 });
    const alice = await startPhone(proxy, 'alice');
    const bob = await startPhone(proxy, 'bob');
    try {
      await alice.register();
      await bob.register();
      bob.ua.onRequest((req: IncomingRequest) => void req.respond(180));
      const { address, port } = proxy.address;
      const first = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() });
      const pending = alice.ua.request(first, { onProvisional: () => undefined });
      await eventually(() => proxy.calls.size === 1, 3000, 'first call');
      const second = await alice.ua.request(alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() }));
      expect(second.status).to.equal(503);
      expect(second.get('retry-after')).to.be.a('string');
      alice.ua.cancel(first);
      expect((await pending).status).to.equal(487);
      expect((await proxy.stats()).security.callLimit).to.equal(1);
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('refuses a binding over the store\'s per-AOR limit with 503 and counts it', async () => {
    const store = new MemoryLocationStore({ maxPerAor: 2 });
    await setup({ locationStore: store });
    const phones = await Promise.all([0, 1, 2].map(() => startPhone(proxy, 'alice')));
    try {
      const statuses: number[] = [];
      for (const p of phones) statuses.push((await p.register()).status);
      expect(statuses).to.deep.equal([200, 200, 503]);
      const stats = await proxy.stats();
      expect(stats.bindings).to.equal(2);
      expect(stats.security.bindingLimit).to.equal(1);
    } finally {
      for (const p of phones) await p.close();
      await store.close();
    }
  });

  it('answers 503 when the relay has no ports for a call, and counts it', async () => {
    const base = 50000 + 4 * Math.floor(Math.random() * 2000);
    await setup({ rtpPorts: { min: base, max: base + 1 }, relayAlways: true });
    const alice = await startPhone(proxy, 'alice');
    const bob = await startPhone(proxy, 'bob');
    try {
      await bob.register();
      const { address, port } = proxy.address;
      const r = await alice.ua.request(alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() }));
      expect(r.status).to.equal(503);
      expect((await proxy.stats()).security.relayLimit).to.equal(1);
      expect(proxy.calls.size).to.equal(0);
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
