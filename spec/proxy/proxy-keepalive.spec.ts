import { expect } from 'chai';
import { startTestProxy, startPhone, eventually } from '../support/proxy-world.js';

describe('proxy: NAT keepalive of NATed bindings (nathelper sipping)', function () {
  this.timeout(20000);

  it('pings a NATed binding with OPTIONS, keeps it while it answers, drops it when the phone is gone', async () => {
    const { proxy } = await startTestProxy({ keepalive: { interval: 150, maxFailures: 2 } });
    const alive = await startPhone(proxy, 'alive', '127.0.0.98');
    const gone = await startPhone(proxy, 'gone', '127.0.0.97');
    const direct = await startPhone(proxy, 'direct');
    let pings = 0;
    alive.ua.onRequest((req) => {
      if (req.method === 'OPTIONS') pings++;
      req.respond(200);
    });
    expect((await alive.register()).status).to.equal(200);
    expect((await gone.register()).status).to.equal(200);
    expect((await direct.register()).status).to.equal(200);
    expect((await proxy.stats()).bindings).to.equal(3);
    await gone.close(); // vanishes: its pings go unanswered from now on
    await eventually(async () => (await proxy.stats()).bindings === 2, 15000, 'the dead NATed binding removed');
    const left = (await proxy.store.all()).map((b) => b.aor).sort();
    expect(left).to.deep.equal(['sip:alive@127.0.0.1', 'sip:direct@127.0.0.1']);
    expect(pings).to.be.greaterThan(1);
    await alive.close();
    await direct.close();
    await proxy.close();
  });
});
