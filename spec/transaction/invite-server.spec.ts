/**
 * RFC 3261 §17.2.1 (Figure 7) and RFC 6026 (Accepted, Timer L): the INVITE server transaction.
 * https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
 */
import { expect } from 'chai';
import type { SipRequest } from '../../lib/transport/message-api.js';
import { TimeoutError } from '../../lib/errors.js';
import { InviteServerTransaction } from '../../lib/transaction/invite-server.js';
import { FakeTransport } from '../support/fake-transport.js';
import { FakeUser, TEST_TIMERS, flush, harness, respond } from '../support/fake-core.js';
import type { Harness } from '../support/fake-core.js';
import { requestText, uniqueBranch } from '../support/fake-messages.js';

const { T1, T2, T4 } = TEST_TIMERS;
/** The client is behind NAT: sent-by says 10.0.0.5:5062, packets come from 198.51.100.7:40000. */
const CLIENT = { address: '198.51.100.7', port: 40000 };

describe('INVITE server transaction (RFC 3261 §17.2.1, RFC 6026)', () => {
  let h: Harness;
  let user: FakeUser;
  let text: string;
  let ackText: string;

  beforeEach(() => {
    h = harness();
    user = new FakeUser();
    const branch = uniqueBranch();
    text = requestText({ method: 'INVITE', branch, sentBy: '10.0.0.5:5062' });
    ackText = requestText({ method: 'ACK', branch, sentBy: '10.0.0.5:5062', to: '<sip:bob@example.com>;tag=srv' });
    h.core.onRequest = (_r, t) => {
      t.user = user;
    };
  });

  function receive(): { tx: InviteServerTransaction; req: SipRequest } {
    h.transport.deliver(text, CLIENT);
    const { request, transaction } = h.core.requests[h.core.requests.length - 1]!;
    return { tx: transaction as InviteServerTransaction, req: request };
  }

  describe('Proceeding', () => {
    it('When a server transaction is constructed for a request, it enters the "Proceeding" state', () => {
      const { tx } = receive();
      expect(tx).to.be.instanceOf(InviteServerTransaction);
      expect(tx.state).to.equal('Proceeding');
      expect(h.core.requests).to.have.length(1);
    });

    it('The server transaction MUST generate a 100 (Trying) response unless it knows that the TU will generate a provisional or final response within 200 ms', () => {
      receive();
      h.clock.tick(199);
      expect(h.transport.responses()).to.have.length(0);
      h.clock.tick(1);
      const trying = h.transport.responses(100);
      expect(trying).to.have.length(1);
      expect(trying[0]!.to.tag).to.equal(undefined);
    });

    it('no 100 (Trying) when the TU answers within 200 ms', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 180));
      h.clock.tick(1000);
      expect(h.transport.responses().map((r) => r.status)).to.deep.equal([180]);
    });

    it('responses go to the received/rport address of the top Via, not to sent-by (§18.2.2, RFC 3581)', () => {
      const { tx, req } = receive();
      expect(req.via[0]!.received).to.equal(CLIENT.address);
      expect(req.via[0]!.rport).to.equal(CLIENT.port);
      tx.respond(respond(req, 180));
      expect(h.transport.sent[0]!.destination).to.deep.equal(CLIENT);
      expect(h.transport.responses(180)[0]!.via[0]!.rport).to.equal(CLIENT.port);
    });

    it('So long as the server transaction is in the "Proceeding" state, each of these [provisional responses] MUST be passed to the transport layer ... and do not cause a change in the state', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 180));
      tx.respond(respond(req, 183));
      expect(tx.state).to.equal('Proceeding');
      expect(h.transport.responses().map((r) => r.status)).to.deep.equal([180, 183]);
      h.clock.tick(10 * T1);
      expect(h.transport.responses()).to.have.length(2);
    });

    it('If a request retransmission is received while in the "Proceeding" state, the most recent provisional response that was received from the TU MUST be passed to the transport layer for retransmission', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 180));
      tx.respond(respond(req, 183));
      h.transport.take();
      h.transport.deliver(text, CLIENT);
      expect(h.transport.responses().map((r) => r.status)).to.deep.equal([183]);
      expect(h.core.requests, 'retransmissions are not passed to the TU').to.have.length(1);
    });

    it('a transport error informs the TU and the transaction terminates (Figure 7)', async () => {
      const { tx, req } = receive();
      h.transport.failWith = FakeTransport.error();
      tx.respond(respond(req, 180));
      await flush();
      expect(user.transportErrors).to.have.length(1);
      expect(tx.state).to.equal('Terminated');
      expect(h.layer.size).to.equal(0);
    });
  });

  describe('Completed', () => {
    it('if the TU passes a response with status code from 300 to 699 ... the response MUST be passed to the transport layer for transmission, and the state machine MUST enter the "Completed" state', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 486));
      expect(tx.state).to.equal('Completed');
      expect(h.transport.responses(486)).to.have.length(1);
    });

    it('For unreliable transports, timer G is set to fire in T1 seconds ... reset with a value that doubles, unless that value exceeds T2', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 486));
      const times: number[] = [];
      let n = 1;
      for (let ms = 0; ms < 2000; ms += 10) {
        h.clock.tick(10);
        const now = h.transport.responses(486).length;
        if (now !== n) {
          n = now;
          times.push(h.clock.now());
        }
      }
      expect(times.slice(0, 5)).to.deep.equal([T1, 3 * T1, 3 * T1 + T2, 3 * T1 + 2 * T2, 3 * T1 + 3 * T2]);
    });

    it('If timer H fires while in the "Completed" state, it implies that the ACK was never received. In this case, the server transaction MUST transition to the "Terminated" state, and MUST indicate to the TU that a transaction failure has occurred', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 486));
      h.clock.tick(64 * T1 - 1);
      expect(tx.state).to.equal('Completed');
      h.clock.tick(1);
      expect(tx.state).to.equal('Terminated');
      expect(user.ackTimeouts[0]).to.be.instanceOf(TimeoutError);
      expect(h.layer.size).to.equal(0);
      expect(h.clock.pending).to.equal(0);
    });

    it('while in the "Completed" state, if a request retransmission is received, the server SHOULD pass the response to the transport for retransmission', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 486));
      h.transport.take();
      h.transport.deliver(text, CLIENT);
      expect(h.transport.responses(486)).to.have.length(1);
    });

    it('If an ACK is received while the server transaction is in the "Completed" state, the server transaction MUST transition to the "Confirmed" state ... any retransmissions of the response will cease', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 486));
      h.transport.deliver(ackText, CLIENT);
      expect(tx.state).to.equal('Confirmed');
      h.transport.take();
      h.clock.tick(T4 - 1);
      expect(h.transport.sent).to.have.length(0);
      expect(h.core.acks, 'the ACK for a non-2xx is absorbed by the transaction').to.have.length(0);
    });

    it('a final response the TU passes after the first is discarded', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 486));
      tx.respond(respond(req, 200));
      expect(tx.state).to.equal('Completed');
      expect(h.transport.responses().map((r) => r.status)).to.deep.equal([486]);
    });
  });

  describe('Confirmed', () => {
    it('When this state is entered, timer I is set to fire in T4 seconds ... Once timer I fires, the server MUST transition to the "Terminated" state', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 486));
      h.transport.deliver(ackText, CLIENT);
      h.transport.deliver(ackText, CLIENT); // absorbed
      expect(tx.state).to.equal('Confirmed');
      h.clock.tick(T4 - 1);
      expect(tx.state).to.equal('Confirmed');
      h.clock.tick(1);
      expect(tx.state).to.equal('Terminated');
      expect(user.states).to.deep.equal(['Completed', 'Confirmed', 'Terminated']);
      expect(h.layer.size).to.equal(0);
      expect(h.clock.pending).to.equal(0);
      expect(h.core.acks).to.have.length(0);
    });
  });

  describe('Accepted (RFC 6026)', () => {
    it('If the SIP element\'s TU issues a 2xx response for this transaction while the state machine is in the "Proceeding" state, the state machine MUST transition to the "Accepted" state and set Timer L to 64*T1', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      expect(tx.state).to.equal('Accepted');
      expect(h.transport.responses(200)).to.have.length(1);
      h.clock.tick(64 * T1 - 1);
      expect(tx.state).to.equal('Accepted');
      h.clock.tick(1);
      expect(tx.state, 'When Timer L fires ... the machine MUST transition to the "Terminated" state').to.equal('Terminated');
      expect(h.layer.size).to.equal(0);
    });

    it('the server transaction does not retransmit the 2xx itself', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      h.clock.tick(64 * T1);
      expect(h.transport.responses(200)).to.have.length(1);
    });

    it('Any retransmission of the 2xx response passed from the TU to the transaction while in the "Accepted" state MUST be passed to the transport layer for transmission', () => {
      const { tx, req } = receive();
      const ok = respond(req, 200);
      tx.respond(ok);
      tx.respond(ok);
      tx.respond(ok);
      expect(h.transport.responses(200)).to.have.length(3);
    });

    it('While in the "Accepted" state, any retransmissions of the INVITE received will match this transaction state machine and will be absorbed', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      h.transport.take();
      h.transport.deliver(text, CLIENT);
      expect(h.transport.sent).to.have.length(0);
      expect(h.core.requests).to.have.length(1);
      expect(tx.state).to.equal('Accepted');
    });

    it('Any ACKs received from the network while in the "Accepted" state MUST be passed directly to the TU and not absorbed', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      h.transport.deliver(ackText, CLIENT);
      h.transport.deliver(ackText, CLIENT);
      expect(user.acks).to.have.length(2);
      expect(tx.state).to.equal('Accepted');
    });

    it('without a TU receiveAck, ACKs in "Accepted" go to the core with the transaction', () => {
      h.core.onRequest = undefined;
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      h.transport.deliver(ackText, CLIENT);
      expect(h.core.acks).to.have.length(1);
      expect(h.core.acks[0]!.transaction).to.equal(tx);
    });

    it('non-2xx responses from the TU are discarded in "Accepted"', () => {
      const { tx, req } = receive();
      tx.respond(respond(req, 200));
      tx.respond(respond(req, 487));
      expect(h.transport.responses().map((r) => r.status)).to.deep.equal([200]);
    });
  });
});
