import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { SipProxy, UserAgent, LocalRelayAllocator } from '../../lib/index.js';
import type { IncomingRequest } from '../../lib/index.js';
import { mediaTarget, eventually, randomPortRange } from '../support/proxy-world.js';

const FAST = { T1: 50, T2: 400, T4: 500, D: 500 };

async function mediaSocket(family: 4 | 6): Promise<Socket> {
  const s = createSocket(family === 4 ? 'udp4' : 'udp6');
  await new Promise<void>((r) => s.bind(0, family === 4 ? '127.0.0.1' : '::1', r));
  return s;
}

/**
 * One proxy on a dual-stack socket, advertised as `localhost` (A 127.0.0.1, AAAA ::1): an IPv4
 * phone behind "NAT" calls an IPv6 phone, and the local relay bridges their media.
 */
describe('proxy: IPv4 and IPv6 clients on one dual-stack proxy, media bridged by the relay', function () {
  this.timeout(20000);

  it('an IPv4 caller reaches an IPv6 callee; each gets relay SDP of its own family; RTP flows both ways', async function () {
    let proxy: SipProxy;
    try {
      proxy = await SipProxy.start({
        listen: { address: '::', port: 0 },
        dualStack: true,
        advertisedAddress: 'localhost',
        mediaAddress: ['127.0.0.1', '::1'],
        rtpPorts: randomPortRange(),
        keepalive: false,
        timers: FAST,
      });
    } catch {
      return this.skip(); // no IPv6 here
    }
    const port = proxy.address.port;
    const alice = await UserAgent.listen({ address: '127.0.0.1', port: 0, advertisedAddress: '127.0.0.99' }, { user: 'alice', outboundProxy: { address: '127.0.0.1', port }, timers: FAST });
    const bob = await UserAgent.listen({ address: '::1', port: 0 }, { user: 'bob', outboundProxy: { address: '::1', port }, timers: FAST });
    const aliceMedia = await mediaSocket(4);
    const bobMedia = await mediaSocket(6);
    const got = { alice: 0, bob: 0 };
    aliceMedia.on('message', () => got.alice++);
    bobMedia.on('message', () => got.bob++);
    try {
      for (const [ua, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
        const reg = ua.createRequest({ method: 'REGISTER', uri: `sip:localhost:${port}`, from: `sip:${user}@localhost`, to: `sip:${user}@localhost`, contact: ua.contact });
        expect((await ua.request(reg)).status).to.equal(200);
      }
      let inviteSdp = '';
      bob.onRequest((req: IncomingRequest) => {
        if (req.method !== 'INVITE') return void req.respond(200);
        inviteSdp = req.request.body.toString();
        req.respond(200, 'OK', { body: `v=0\r\no=bob 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio ${bobMedia.address().port} RTP/AVP 0\r\n`, contentType: 'application/sdp' });
      });
      const offer = `v=0\r\no=alice 1 1 IN IP4 127.0.0.99\r\ns=-\r\nc=IN IP4 127.0.0.99\r\nt=0 0\r\nm=audio ${aliceMedia.address().port} RTP/AVP 0\r\n`;
      const inv = alice.createRequest({ method: 'INVITE', uri: `sip:bob@localhost:${port}`, from: 'sip:alice@localhost', to: 'sip:bob@localhost', body: offer });
      const { response, dialog } = await alice.invite(inv);
      expect(response.status).to.equal(200);
      // each side got the relay in its own family
      expect(inviteSdp).to.match(/c=IN IP6 ::1/);
      const toBob = mediaTarget(Buffer.from(inviteSdp));
      const toAlice = mediaTarget(response.body);
      expect(toAlice.address).to.equal('127.0.0.1');
      expect(toBob.address).to.equal('::1');
      const rtp = Buffer.alloc(172);
      rtp[0] = 0x80;
      for (let i = 0; i < 10; i++) {
        aliceMedia.send(rtp, toAlice.port, '127.0.0.1');
        bobMedia.send(rtp, toBob.port, '::1');
      }
      await eventually(() => got.alice >= 10 && got.bob >= 10, 3000, 'RTP bridged both ways');
      expect((await dialog!.bye()).status).to.equal(200);
      await eventually(() => (proxy.relay as LocalRelayAllocator).stats().portsInUse === 0, 3000, 'relay released');
    } finally {
      await alice.close();
      await bob.close();
      aliceMedia.close();
      bobMedia.close();
      await proxy.close();
    }
  });
});
