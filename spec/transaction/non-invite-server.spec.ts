/**
 * RFC 3261 §17.2.2 (Figure 8): the non-INVITE server transaction.
 * https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
 */
import { expect } from 'chai';
import type { SipRequest } from '../../lib/transport/message-api.js';
import { NonInviteServerTransaction } from '../../lib/transaction/non-invite-server.js';
import { FakeTransport } from '../support/fake-transport.js';
import { FakeUser, TEST_TIMERS, flush, harness, respond } from '../support/fake-core.js';
import type { Harness } from '../support/fake-core.js';
import { requestText } from '../support/fake-messages.js';

const { T1 } = TEST_TIMERS;
const CLIENT = { address: '198.51.100.7', port: 5062 };

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  let h: Harness;
  let user: FakeUser;
  let text: string;
  beforeEach(() => {
    h = harness();
    user = new FakeUser();
    text = requestText({ method: 'BYE', to: '<sip:bob@example.com>;tag=b1' });
    h.core.onRequest = (_r, t) => {
      t.user = user;
    };
  });
  function receive(): { tx: NonInviteServerTransaction; req: SipRequest } {
    h.transport.deliver(text, CLIENT);
    const { request, transaction } = h.core.requests[0]!;
    return { tx: transaction as NonInviteServerTransaction, req: request };
  }

  describe('Trying', () => {
    it('The state machine is initialized in the "Trying" state and is passed a request other than INVITE or ACK when initialized. This request is passed up to the TU', () => {
      const { tx } = receive();
      expect(tx).to.be.instanceOf(NonInviteServerTransaction);
      expect(tx.state).to.equal('Trying');
      expect(h.core.requests).to.have.length(1);
    });

    it('Once in the "Trying" state, any further request retransmissions are discarded', () => {
      receive();
      h.transport.deliver(text, CLIENT);
      h.transport.deliver(text, CLIENT);
      expect(h.core.requests).to.have.length(1);
      expect(h.transport.sent).to.have.length(0);
      expect(h.layer.counters.retransmissions).to.equal(2);
    });

    it('While in the "Trying" state, if the TU passes a provisional response to the server transaction, the server transaction MUST enter the "Proceeding" state. The response MUST be passed to the transport layer for transmission', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 100));
      expect(tx.state).to.equal('Proceeding');
      expect(h.transport.responses(100)).to.have.length(1);
    });

    it('a final response from "Trying" enters "Completed" and is transmitted', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      expect(tx.state).to.equal('Completed');
      expect(h.transport.responses(200)).to.have.length(1);
      expect(h.transport.sent[0]!.destination).to.deep.equal(CLIENT);
    });
  });

  describe('Proceeding', () => {
    it('Any further provisional responses that are received from the TU while in the "Proceeding" state MUST be passed to the transport layer for transmission', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 100));
      tx.respond(respond(req, 180));
      expect(tx.state).to.equal('Proceeding');
      expect(h.transport.responses().map((r) => r.status)).to.deep.equal([100, 180]);
    });

    it('If a retransmission of the request is received while in the "Proceeding" state, the most recently sent provisional response MUST be passed to the transport layer for retransmission', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 100));
      h.transport.take();
      h.transport.deliver(text, CLIENT);
      expect(h.transport.responses().map((r) => r.status)).to.deep.equal([100]);
    });

    it('If the TU passes a final response (status codes 200-699) to the server while in the "Proceeding" state, the transaction MUST enter the "Completed" state, and the response MUST be passed to the transport layer for transmission', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 100));
      tx.respond(respond(req, 481));
      expect(tx.state).to.equal('Completed');
      expect(h.transport.responses(481)).to.have.length(1);
    });

    it('a transport error informs the TU and the transaction terminates (Figure 8)', async () => {
      const { tx, req } = receive();
      h.transport.failWith = FakeTransport.error();
      tx.respond(respond(req, 100));
      await flush();
      expect(user.transportErrors).to.have.length(1);
      expect(tx.state).to.equal('Terminated');
      expect(h.layer.size).to.equal(0);
    });
  });

  describe('Completed', () => {
    it('When the server transaction enters the "Completed" state, it MUST set Timer J to fire in 64*T1 seconds ... at which point it MUST transition to the "Terminated" state', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      h.clock.tick(64 * T1 - 1);
      expect(tx.state).to.equal('Completed');
      h.clock.tick(1);
      expect(tx.state).to.equal('Terminated');
      expect(user.states).to.deep.equal(['Completed', 'Terminated']);
      expect(h.layer.size).to.equal(0);
      expect(h.clock.pending).to.equal(0);
    });

    it('the server transaction MUST pass the final response to the transport layer for retransmission whenever a retransmission of the request is received', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      h.transport.deliver(text, CLIENT);
      h.transport.deliver(text, CLIENT);
      expect(h.transport.responses(200)).to.have.length(3);
      expect(h.core.requests).to.have.length(1);
    });

    it('Any other final responses passed by the TU to the server transaction MUST be discarded while in the "Completed" state', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      tx.respond(respond(req, 500));
      expect(h.transport.responses().map((r) => r.status)).to.deep.equal([200]);
    });

    it('a transport error in "Completed" informs the TU and terminates', async () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      h.transport.failWith = FakeTransport.error();
      h.transport.deliver(text, CLIENT);
      await flush();
      expect(user.transportErrors).to.have.length(1);
      expect(tx.state).to.equal('Terminated');
    });
  });
});
