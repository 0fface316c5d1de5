/**
 * RFC 3261 §17.1.1 (Figure 5) and RFC 6026 (Accepted, Timer M): the INVITE client transaction.
 * https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1
 */
import { expect } from 'chai';
import { parse } from '../../lib/transport/message-api.js';
import type { SipRequest } from '../../lib/transport/message-api.js';
import { TimeoutError, TransportError } from '../../lib/errors.js';
import { TransactionStateError } from '../../lib/transaction/transaction.js';
import { FakeTransport } from '../support/fake-transport.js';
import { FakeUser, TEST_TIMERS, flush, harness } from '../support/fake-core.js';
import type { Harness } from '../support/fake-core.js';
import { requestText, responseTo } from '../support/fake-messages.js';

const { T1 } = TEST_TIMERS;
const PEER = { address: '203.0.113.5', port: 5070 };

function invite(extra: string[] = []): SipRequest {
  return parse(
    requestText({ method: 'INVITE', uri: 'sip:bob@203.0.113.5:5070', sentBy: '192.0.2.1:5060', headers: extra }),
  ) as SipRequest;
}

describe('INVITE client transaction (RFC 3261 §17.1.1, RFC 6026)', () => {
  let h: Harness;
  let user: FakeUser;
  let req: SipRequest;
  beforeEach(() => {
    h = harness();
    user = new FakeUser();
    req = invite(['Route: <sip:proxy.example.com;lr>']);
  });

  function start() {
    return h.layer.sendRequest(req, user, { destination: PEER });
  }

  describe('Calling', () => {
    it('The client transaction MUST pass the request to the transport layer for transmission', () => {
      const t = start();
      expect(t.state).to.equal('Calling');
      expect(h.transport.sent).to.have.length(1);
      expect(h.transport.sent[0]!.message).to.equal(req);
      expect(h.transport.sent[0]!.destination).to.deep.equal(PEER);
    });

    it('without a destination it is sent to the Request-URI or the first loose Route (§8.1.2, §18.1.1)', () => {
      const r = invite();
      h.layer.sendRequest(r, user);
      expect(h.transport.sent[0]!.destination).to.deep.equal(PEER);
    });

    it('When timer A fires, the client transaction MUST retransmit the request ... with intervals that double', () => {
      start();
      h.clock.tick(T1 - 1);
      expect(h.transport.requests('INVITE')).to.have.length(1);
      h.clock.tick(1);
      expect(h.transport.requests('INVITE')).to.have.length(2);
      h.clock.tick(2 * T1);
      expect(h.transport.requests('INVITE')).to.have.length(3);
      h.clock.tick(4 * T1 - 1);
      expect(h.transport.requests('INVITE')).to.have.length(3);
      h.clock.tick(1);
      expect(h.transport.requests('INVITE')).to.have.length(4);
    });

    it('If the client transaction is still in the "Calling" state when timer B fires, the client transaction SHOULD inform the TU that a timeout has occurred', () => {
      const t = start();
      h.clock.tick(64 * T1 - 1);
      expect(user.timeouts).to.have.length(0);
      h.clock.tick(1);
      expect(user.timeouts).to.have.length(1);
      expect(user.timeouts[0]).to.be.instanceOf(TimeoutError);
      expect(user.timeouts[0]!.code).to.equal('ERR_SIP_TIMEOUT');
      expect(t.state).to.equal('Terminated');
      expect(user.states).to.deep.equal(['Terminated']);
      expect(h.layer.size).to.equal(0);
      expect(h.clock.pending).to.equal(0);
    });

    it('The client transaction MUST NOT generate an ACK (on timer B)', () => {
      start();
      h.clock.tick(64 * T1);
      expect(h.transport.requests('ACK')).to.have.length(0);
    });

    it('a transport error is reported to the TU and the transaction terminates (Figure 5)', async () => {
      h.transport.failWith = FakeTransport.error();
      const t = start();
      await flush();
      expect(user.transportErrors).to.have.length(1);
      expect(user.transportErrors[0]).to.be.instanceOf(TransportError);
      expect(t.state).to.equal('Terminated');
      expect(h.layer.size).to.equal(0);
      expect(h.clock.pending).to.equal(0);
    });
  });

  describe('Proceeding', () => {
    it('If the client transaction receives a provisional response while in the "Calling" state, it transitions to the "Proceeding" state ... the provisional response MUST be passed to the TU', () => {
      const t = start();
      h.transport.deliver(responseTo(req, 180, { toTag: 'b1' }), PEER);
      expect(t.state).to.equal('Proceeding');
      expect(user.responses.map((r) => r.status)).to.deep.equal([180]);
    });

    it('In the "Proceeding" state, the client transaction SHOULD NOT retransmit the request any longer', () => {
      start();
      h.transport.deliver(responseTo(req, 100), PEER);
      h.clock.tick(32 * T1);
      expect(h.transport.requests('INVITE')).to.have.length(1);
    });

    it('Any further provisional responses MUST be passed up to the TU while in the "Proceeding" state', () => {
      start();
      h.transport.deliver(responseTo(req, 100), PEER);
      h.transport.deliver(responseTo(req, 180, { toTag: 'b1' }), PEER);
      h.transport.deliver(responseTo(req, 183, { toTag: 'b1' }), PEER);
      expect(user.responses.map((r) => r.status)).to.deep.equal([100, 180, 183]);
    });

    it('timer B does not end the transaction once it is in "Proceeding"', () => {
      const t = start();
      h.transport.deliver(responseTo(req, 180, { toTag: 'b1' }), PEER);
      h.clock.tick(64 * T1 * 2);
      expect(t.state).to.equal('Proceeding');
      expect(user.timeouts).to.have.length(0);
    });
  });

  describe('Completed', () => {
    for (const status of [300, 404, 486, 503, 603]) {
      it(`reception of a response with status code from 300-699 (${status}) MUST cause the client transaction to transition to "Completed" ... pass the received response up to the TU ... generate an ACK`, () => {
        const t = start();
        h.transport.deliver(responseTo(req, status, { toTag: 'b1' }), PEER);
        expect(t.state).to.equal('Completed');
        expect(user.responses.map((r) => r.status)).to.deep.equal([status]);
        const acks = h.transport.sent.filter((s) => s.message.isRequest && s.message.method === 'ACK');
        expect(acks).to.have.length(1);
        expect(acks[0]!.destination, 'The ACK MUST be sent to the same address, port, and transport to which the original request was sent').to.deep.equal(PEER);
      });
    }

    it('the ACK is built per §17.1.1.3: same Request-URI, Call-ID, From, top Via (branch), To of the response, CSeq number with ACK, Route of the request', () => {
      start();
      h.transport.deliver(responseTo(req, 486, { toTag: 'b1' }), PEER);
      const ack = h.transport.requests('ACK')[0]!;
      expect(ack.uri.toString()).to.equal(req.uri.toString());
      expect(ack.callId).to.equal(req.callId);
      expect(ack.get('from')).to.equal(req.get('from'));
      expect(ack.getAll('via')).to.deep.equal([req.getAll('via')[0]]);
      expect(ack.via[0]!.branch).to.equal(req.via[0]!.branch);
      expect(ack.to.tag).to.equal('b1');
      expect(ack.cseq).to.deep.equal({ seq: req.cseq.seq, method: 'ACK' });
      expect(ack.getAll('route')).to.deep.equal(req.getAll('route'));
      expect(ack.body.length).to.equal(0);
    });

    it('Any retransmissions of the final response that are received while in the "Completed" state MUST cause the ACK to be re-passed to the transport layer for retransmission, but the newly received response MUST NOT be passed up to the TU', () => {
      start();
      const final = responseTo(req, 486, { toTag: 'b1' });
      h.transport.deliver(final, PEER);
      h.transport.deliver(final, PEER);
      h.transport.deliver(final, PEER);
      expect(h.transport.requests('ACK')).to.have.length(3);
      expect(user.responses).to.have.length(1);
    });

    it('If timer D fires while the client transaction is in the "Completed" state, the client transaction MUST move to the terminated state', () => {
      const t = start();
      h.transport.deliver(responseTo(req, 486, { toTag: 'b1' }), PEER);
      h.clock.tick(TEST_TIMERS.D - 1);
      expect(t.state).to.equal('Completed');
      h.clock.tick(1);
      expect(t.state).to.equal('Terminated');
      expect(user.states).to.deep.equal(['Completed', 'Terminated']);
      expect(h.layer.size).to.equal(0);
      expect(h.clock.pending).to.equal(0);
    });

    it('timer D defaults to at least 32 seconds for unreliable transports', () => {
      expect(harness({ timers: { T1: 100 } }).layer.timers.D).to.equal(32000);
      expect(harness().layer.timers.B).to.equal(64 * T1);
    });

    it('timers A and B are cleared when the transaction leaves "Calling"', () => {
      start();
      h.transport.deliver(responseTo(req, 486, { toTag: 'b1' }), PEER);
      expect(h.clock.pending).to.equal(1); // only D
    });
  });

  describe('Accepted (RFC 6026)', () => {
    it('If a 2xx response is received while the client INVITE state machine is in the "Calling" or "Proceeding" states, it MUST transition to the "Accepted" state, pass the 2xx response to the TU, and set Timer M to 64*T1', () => {
      const t = start();
      h.transport.deliver(responseTo(req, 200, { toTag: 'b1' }), PEER);
      expect(t.state).to.equal('Accepted');
      expect(user.responses.map((r) => r.status)).to.deep.equal([200]);
      h.clock.tick(64 * T1 - 1);
      expect(t.state).to.equal('Accepted');
      h.clock.tick(1);
      expect(t.state).to.equal('Terminated');
      expect(h.layer.size).to.equal(0);
    });

    it('from Proceeding too', () => {
      const t = start();
      h.transport.deliver(responseTo(req, 180, { toTag: 'b1' }), PEER);
      h.transport.deliver(responseTo(req, 200, { toTag: 'b1' }), PEER);
      expect(t.state).to.equal('Accepted');
      expect(user.states).to.deep.equal(['Proceeding', 'Accepted']);
    });

    it('A 2xx response received while in the "Accepted" state MUST be passed to the TU ... The client transaction MUST NOT generate an ACK to any 2xx response on its own', () => {
      start();
      const ok = responseTo(req, 200, { toTag: 'b1' });
      h.transport.deliver(ok, PEER);
      h.transport.deliver(ok, PEER);
      h.transport.deliver(responseTo(req, 200, { toTag: 'b2' }), PEER); // another fork
      expect(user.responses.map((r) => r.to.tag)).to.deep.equal(['b1', 'b1', 'b2']);
      expect(h.transport.requests('ACK')).to.have.length(0);
    });

    it('after Timer M a 2xx retransmission goes to the core (§18.1.2: no matching transaction)', () => {
      start();
      const ok = responseTo(req, 200, { toTag: 'b1' });
      h.transport.deliver(ok, PEER);
      h.clock.tick(64 * T1);
      h.transport.deliver(ok, PEER);
      expect(user.responses).to.have.length(1);
      expect(h.core.responses.map((r) => r.status)).to.deep.equal([200]);
    });
  });

  it('has an explicit transition guard: a transition the RFC does not draw throws', () => {
    const t = start();
    h.transport.deliver(responseTo(req, 486, { toTag: 'b1' }), PEER);
    const guarded = t as unknown as { transition(s: string): void };
    expect(() => guarded.transition('Proceeding')).to.throw(TransactionStateError, /Invalid state transition from Completed to Proceeding/);
  });

  it('dispose() clears every timer and removes the transaction', () => {
    const t = start();
    t.dispose();
    expect(h.clock.pending).to.equal(0);
    expect(h.layer.size).to.equal(0);
    h.clock.tick(64 * T1);
    expect(h.transport.requests('INVITE')).to.have.length(1);
  });
});
