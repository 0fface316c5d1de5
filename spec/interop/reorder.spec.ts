import { expect } from 'chai';
import { LocalRelayAllocator, UserAgent } from '../../lib/index.js';
import type { IncomingRequest } from '../../lib/index.js';
import { startTestProxy, eventually } from '../support/proxy-world.js';
import { Impairer } from '../support/impairer.js';

const TIMERS = { T1: 100, T2: 800, T4: 1000, D: 1000 };

/**
 * Loss and reordering without netem: both phones reach the proxy through a userspace impairer
 * that drops 20% of the datagrams each way and delays the rest by 0-150 ms, so later datagrams
 * overtake earlier ones. Registrations and calls complete through retransmissions; nothing leaks.
 */
describe('faults: 20% loss and reordering each way (userspace impairer)', function () {
  this.timeout(120000);

  it('registrations and 10 calls all complete, and the proxy ends with no calls, ports or transactions', async () => {
    const { proxy, records } = await startTestProxy({ timers: TIMERS, relayAlways: true });
    const toAlice = await Impairer.start(proxy.address, 0.2, 150);
    const toBob = await Impairer.start(proxy.address, 0.2, 150);
    const alice = await UserAgent.listen({ address: '127.0.0.1', port: 0 }, { user: 'alice', outboundProxy: toAlice.address, timers: TIMERS });
    const bob = await UserAgent.listen({ address: '127.0.0.1', port: 0 }, { user: 'bob', outboundProxy: toBob.address, timers: TIMERS });
    const sdp = (user: string, port: number): string => `v=0\r\no=${user} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\n`;
    bob.onRequest((req: IncomingRequest) => {
      if (req.method === 'INVITE') req.respond(200, 'OK', { body: sdp('bob', 16002), contentType: 'application/sdp' });
      else req.respond(200);
    });
    try {
      const { address, port } = proxy.address;
      for (const [ua, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
        const reg = ua.createRequest({ method: 'REGISTER', uri: `sip:${address}:${port}`, from: `sip:${user}@127.0.0.1`, to: `sip:${user}@127.0.0.1`, contact: ua.contact });
        expect((await ua.request(reg)).status, `${user} registered`).to.equal(200);
      }
      let ok = 0;
      for (let i = 0; i < 10; i++) {
        const inv = alice.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from: 'sip:alice@127.0.0.1', to: 'sip:bob@127.0.0.1', body: sdp('alice', 16000) });
        const { response, dialog } = await alice.invite(inv);
        if (response.status === 200 && dialog !== undefined && (await dialog.bye()).status === 200) ok++;
      }
      expect(ok).to.equal(10);
      expect(toAlice.stats.dropped + toBob.stats.dropped, 'datagrams dropped').to.be.greaterThan(10);
      // datagrams overtake each other only when two go the same way within 150 ms: over this
      // traffic that is 11-20 times a run (seen), so "more than 10" failed now and then
      const stats = `${JSON.stringify(toAlice.stats)} ${JSON.stringify(toBob.stats)}`;
      expect(toAlice.stats.reordered + toBob.stats.reordered, `datagrams reordered (${stats})`).to.be.at.least(3);
      await eventually(() => records.length === 10, 10000, 'every call ended');
      const relay = proxy.relay as LocalRelayAllocator;
      await eventually(() => relay.stats().portsInUse === 0 && proxy.calls.size === 0, 10000, 'relay and calls empty');
      await eventually(() => proxy.layer.size === 0, 30000, 'transactions drained');
    } finally {
      await alice.close();
      await bob.close();
      toAlice.close();
      toBob.close();
      await proxy.close();
    }
  });
});
