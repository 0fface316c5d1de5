/**
 * A response context is let go once its final response went upstream and every branch has its
 * own: the lingering transactions carry on without it. 2xx retransmissions that come after that
 * (RFC 6026: the INVITE client transaction is in Accepted, its TU gone) reach the proxy core and
 * are forwarded statelessly (§16.7), relay SDP and all.
 */
import { expect } from 'chai';
import type { IncomingRequest, SipProxy } from '../../lib/index.js';
import { runSipp, sippAvailable, describeSipp } from '../support/sipp.js';
import { startTestProxy, startPhone, eventually } from '../support/proxy-world.js';
import type { Phone } from '../support/proxy-world.js';

describe('proxy: released response contexts', function () {
  this.timeout(30000);
  let proxy: SipProxy;
  let bob: Phone;

  before(async function () {
    if (!(await sippAvailable())) {
      console.log('    sipp not installed (run .ci/install-deps.sh): skipping');
      this.skip();
    }
  });

  afterEach(async () => {
    await bob?.close();
    await proxy?.close();
  });

  it('a caller that ignores the first 200 gets the callee\'s retransmission through the proxy, stateless and relayed, after the context is gone', async () => {
    ({ proxy } = await startTestProxy({ relayAlways: true }));
    bob = await startPhone(proxy, 'bob');
    await bob.register();
    bob.ua.onRequest((req: IncomingRequest) => {
      if (req.method === 'INVITE') req.respond(200, 'OK', { body: bob.sdp(), contentType: 'application/sdp' });
      else req.respond(200);
    });
    const r = await runSipp({
      scenario: 'uac-rr-ignore-first-200',
      remote: `127.0.0.1:${proxy.address.port}`,
      localIp: '127.0.0.1',
      service: 'bob',
      noRetrans: true,
      calls: 3,
      rate: 10,
      timeoutSec: 15,
      traceMessages: true,
    });
    expect(r.successfulCalls, describeSipp(r)).to.equal(3);
    expect(r.failedCalls, describeSipp(r)).to.equal(0);
    // every 200 the caller saw carries the relay's address, the retransmitted one too
    const oks = r.messages.split(/^-{3,}.*$/m).filter((m) => /^SIP\/2\.0 200 OK/m.test(m) && /CSeq: 1 INVITE/i.test(m));
    expect(oks.length, describeSipp(r)).to.be.at.least(6);
    for (const ok of oks) expect(/^m=audio (\d+)/m.exec(ok)?.[1], ok).to.not.equal(String(bob.mediaPort));
    // the retransmissions came after the contexts were released: strays to the core
    expect(proxy.layer.counters.strayResponses).to.be.at.least(3);
    await eventually(() => proxy.calls.size === 0, 5000, 'calls ended');
    expect(proxy.layer.workingCount).to.equal(0);
  });
});
