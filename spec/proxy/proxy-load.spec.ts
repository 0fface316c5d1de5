import { expect } from 'chai';
import { LocalRelayAllocator, SipProxy, UserAgent } from '../../lib/index.js';
import type { IncomingRequest } from '../../lib/index.js';
import { startTestProxy, startPhone, mediaTarget, eventually, randomPortRange } from '../support/proxy-world.js';

const FAST = { T1: 20, T2: 200, T4: 200, D: 200 };

describe('proxy: nothing leaks after a load run', function () {
  this.timeout(60000);

  it('200 relayed calls (20 at a time): afterwards the relay holds no ports, the proxy no calls and no transactions', async () => {
    const { proxy, records } = await startTestProxy({ timers: FAST, rtpPorts: randomPortRange(200) });
    const alice = await startPhone(proxy, 'alice', '127.0.0.99');
    const bob = await startPhone(proxy, 'bob');
    await alice.register();
    await bob.register();
    bob.ua.onRequest((req: IncomingRequest) => {
      if (req.method === 'INVITE') req.respond(200, 'OK', { body: bob.sdp(), contentType: 'application/sdp' });
      else req.respond(200);
    });
    const { address, port } = proxy.address;
    let ok = 0;
    const call = async (): Promise<void> => {
      const inv = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: alice.sdp() });
      const { response, dialog } = await alice.ua.invite(inv);
      if (response.status === 200 && mediaTarget(response.body).port !== bob.mediaPort) ok++;
      await dialog?.bye();
    };
    for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 20 }, call));
    expect(ok).to.equal(200);
    expect(records.filter((r) => r.result === 'bye')).to.have.length(200);
    const relay = proxy.relay as LocalRelayAllocator;
    await eventually(() => relay.stats().portsInUse === 0 && relay.stats().sessionCount === 0, 5000, 'relay empty');
    expect(proxy.calls.size).to.equal(0);
    await eventually(() => proxy.layer.size === 0, 10000, 'proxy transactions drained');
    await alice.close();
    await bob.close();
    await proxy.close();
  });

  it('serves IPv6 clients on an IPv6 listener, relaying on IPv6', async function () {
    let proxy: SipProxy;
    try {
      proxy = await SipProxy.start({ listen: { address: '::1', port: 0 }, rtpPorts: randomPortRange(), keepalive: false, relayAlways: true, timers: FAST });
    } catch {
      return this.skip(); // no IPv6 loopback here
    }
    const mk = (user: string): Promise<UserAgent> => UserAgent.listen({ address: '::1', port: 0 }, { user, outboundProxy: proxy.address, timers: FAST });
    const a = await mk('a6');
    const b = await mk('b6');
    const reg = (ua: UserAgent, user: string) =>
      ua.request(ua.createRequest({ method: 'REGISTER', uri: `sip:[::1]:${proxy.address.port}`, from: `sip:${user}@[::1]`, to: `sip:${user}@[::1]`, contact: ua.contact }));
    expect((await reg(a, 'a6')).status).to.equal(200);
    expect((await reg(b, 'b6')).status).to.equal(200);
    const sdp = (port: number) => `v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\n`;
    b.onRequest((req) => void req.respond(200, 'OK', { body: sdp(40002), contentType: 'application/sdp' }));
    const inv = a.createRequest({ method: 'INVITE', uri: `sip:b6@[::1]:${proxy.address.port}`, from: 'sip:a6@[::1]', to: 'sip:b6@[::1]', body: sdp(40000) });
    const { response, dialog } = await a.invite(inv);
    expect(response.status).to.equal(200);
    const m = mediaTarget(response.body);
    expect(m.address).to.equal('::1');
    expect(m.port).to.not.equal(40002);
    await dialog!.bye();
    await a.close();
    await b.close();
    await proxy.close();
  });
});
