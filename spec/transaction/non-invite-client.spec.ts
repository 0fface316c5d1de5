/**
 * RFC 3261 §17.1.2 (Figure 6): the non-INVITE client transaction.
 * https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2
 */
import { expect } from 'chai';
import { parse } from '../../lib/transport/message-api.js';
import type { SipRequest } from '../../lib/transport/message-api.js';
import { TimeoutError } from '../../lib/errors.js';
import { FakeTransport } from '../support/fake-transport.js';
import { FakeUser, TEST_TIMERS, flush, harness } from '../support/fake-core.js';
import type { Harness } from '../support/fake-core.js';
import { requestText, responseTo } from '../support/fake-messages.js';

const { T1, T2, T4 } = TEST_TIMERS;
const PEER = { address: '203.0.113.5', port: 5070 };

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  let h: Harness;
  let user: FakeUser;
  let req: SipRequest;
  beforeEach(() => {
    h = harness();
    user = new FakeUser();
    req = parse(requestText({ method: 'OPTIONS', uri: 'sip:bob@203.0.113.5:5070', sentBy: '192.0.2.1:5060' })) as SipRequest;
  });
  const start = () => h.layer.sendRequest(req, user, { destination: PEER });
  const sentTimes = (): number => h.transport.requests('OPTIONS').length;

  describe('Trying', () => {
    it('The "Trying" state is entered when the TU initiates a new client transaction with a request ... The request MUST be passed to the transport layer for transmission', () => {
      const t = start();
      expect(t.state).to.equal('Trying');
      expect(sentTimes()).to.equal(1);
    });

    it('If timer E fires while still in this state, the timer is reset, but this time with a value of MIN(2*T1, T2) ... retransmissions occur with an exponentially increasing interval that caps at T2', () => {
      start();
      const times: number[] = [];
      let last = sentTimes();
      for (let ms = 0; ms < 2000; ms += 10) {
        h.clock.tick(10);
        if (sentTimes() !== last) {
          last = sentTimes();
          times.push(h.clock.now());
        }
      }
      // T1=100, T2=400: 100, 100+200, 300+400, 700+400, ...
      expect(times.slice(0, 5)).to.deep.equal([T1, 3 * T1, 3 * T1 + T2, 3 * T1 + 2 * T2, 3 * T1 + 3 * T2]);
    });

    it('If Timer F fires while the client transaction is still in the "Trying" state, the client transaction SHOULD inform the TU about the timeout, and then it SHOULD enter the "Terminated" state', () => {
      const t = start();
      h.clock.tick(64 * T1 - 1);
      expect(user.timeouts).to.have.length(0);
      h.clock.tick(1);
      expect(user.timeouts[0]).to.be.instanceOf(TimeoutError);
      expect(t.state).to.equal('Terminated');
      expect(h.layer.size).to.equal(0);
      expect(h.clock.pending).to.equal(0);
    });

    it('If a provisional response is received while in the "Trying" state, the response MUST be passed to the TU, and then the client transaction SHOULD move to the "Proceeding" state', () => {
      const t = start();
      h.transport.deliver(responseTo(req, 100), PEER);
      expect(t.state).to.equal('Proceeding');
      expect(user.responses.map((r) => r.status)).to.deep.equal([100]);
    });

    for (const status of [200, 202, 404, 500, 603]) {
      it(`If a final response (status codes 200-699) is received while in the "Trying" state, the response MUST be passed to the TU, and the client transaction MUST transition to the "Completed" state (${status})`, () => {
        const t = start();
        h.transport.deliver(responseTo(req, status, { toTag: 'x' }), PEER);
        expect(t.state).to.equal('Completed');
        expect(user.responses.map((r) => r.status)).to.deep.equal([status]);
      });
    }

    it('a transport error informs the TU and the transaction terminates (Figure 6)', async () => {
      h.transport.failWith = FakeTransport.error();
      const t = start();
      await flush();
      expect(user.transportErrors).to.have.length(1);
      expect(t.state).to.equal('Terminated');
      expect(h.layer.size).to.equal(0);
    });
  });

  describe('Proceeding', () => {
    it('If Timer E fires while in the "Proceeding" state, the request MUST be passed to the transport layer for retransmission, and Timer E MUST be reset with a value of T2 seconds', () => {
      start();
      h.transport.deliver(responseTo(req, 100), PEER);
      h.clock.tick(T1); // the pending E fires at T1
      expect(sentTimes()).to.equal(2);
      h.clock.tick(T2 - 1);
      expect(sentTimes()).to.equal(2);
      h.clock.tick(1);
      expect(sentTimes()).to.equal(3);
      h.clock.tick(T2);
      expect(sentTimes()).to.equal(4);
    });

    it('If timer F fires while in the "Proceeding" state, the TU MUST be informed of a timeout, and the client transaction MUST transition to the terminated state', () => {
      const t = start();
      h.transport.deliver(responseTo(req, 100), PEER);
      h.clock.tick(64 * T1);
      expect(user.timeouts).to.have.length(1);
      expect(t.state).to.equal('Terminated');
      expect(user.states).to.deep.equal(['Proceeding', 'Terminated']);
    });

    it('If a final response (status codes 200-699) is received while in the "Proceeding" state, the response MUST be passed to the TU, and the client transaction MUST transition to the "Completed" state', () => {
      const t = start();
      h.transport.deliver(responseTo(req, 100), PEER);
      h.transport.deliver(responseTo(req, 200, { toTag: 'x' }), PEER);
      expect(t.state).to.equal('Completed');
      expect(user.responses.map((r) => r.status)).to.deep.equal([100, 200]);
    });

    it('further provisional responses are passed to the TU in "Proceeding"', () => {
      start();
      h.transport.deliver(responseTo(req, 100), PEER);
      h.transport.deliver(responseTo(req, 180), PEER);
      expect(user.responses.map((r) => r.status)).to.deep.equal([100, 180]);
    });
  });

  describe('Completed', () => {
    it('Once the client transaction enters the "Completed" state, it MUST set Timer K to fire in T4 seconds ... If Timer K fires while in this state, the client transaction MUST transition to the "Terminated" state', () => {
      const t = start();
      h.transport.deliver(responseTo(req, 200, { toTag: 'x' }), PEER);
      h.clock.tick(T4 - 1);
      expect(t.state).to.equal('Completed');
      h.clock.tick(1);
      expect(t.state).to.equal('Terminated');
      expect(h.layer.size).to.equal(0);
      expect(h.clock.pending).to.equal(0);
    });

    it('response retransmissions are absorbed in "Completed" and the request is no longer retransmitted', () => {
      start();
      const ok = responseTo(req, 200, { toTag: 'x' });
      h.transport.deliver(ok, PEER);
      h.transport.deliver(ok, PEER);
      h.clock.tick(T4 - 1);
      expect(user.responses).to.have.length(1);
      expect(sentTimes()).to.equal(1);
      expect(h.core.responses).to.have.length(0);
    });
  });

  it('responses are matched by branch and CSeq method (§17.1.3): a response for another method goes to the core', () => {
    start();
    const other = responseTo(req, 200, { toTag: 'x' }).replace('CSeq: 1 OPTIONS', 'CSeq: 1 INFO');
    h.transport.deliver(other, PEER);
    expect(user.responses).to.have.length(0);
    expect(h.core.responses).to.have.length(1);
  });
});
