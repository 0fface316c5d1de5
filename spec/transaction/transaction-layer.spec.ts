/**
 * The transaction layer: matching (RFC 3261 §17.1.3, §17.2.3 with the RFC 2543 fallback), CANCEL
 * (§9.1, §9.2), stateless sends, limits, and that transactions go away when they terminate.
 */
import { expect } from 'chai';
import { parse, serialize } from '../../lib/transport/message-api.js';
import type { SipRequest, SipResponse } from '../../lib/transport/message-api.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { InviteServerTransaction } from '../../lib/transaction/invite-server.js';
import { FakeUser, TEST_TIMERS, harness, respond } from '../support/fake-core.js';
import type { Harness } from '../support/fake-core.js';
import { requestText, responseTo, uniqueBranch } from '../support/fake-messages.js';

const { T1 } = TEST_TIMERS;
const CLIENT = { address: '198.51.100.7', port: 5062 };
const PEER = { address: '203.0.113.5', port: 5070 };

describe('TransactionLayer', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });

  describe('server matching (§17.2.3)', () => {
    it('the branch parameter in the request is equal to the one in the top Via of the request that created the transaction: a retransmission matches', () => {
      const branch = uniqueBranch();
      h.transport.deliver(requestText({ method: 'OPTIONS', branch }), CLIENT);
      h.transport.deliver(requestText({ method: 'OPTIONS', branch }), CLIENT);
      expect(h.core.requests).to.have.length(1);
      expect(h.layer.serverCount).to.equal(1);
    });

    it('the sent-by value in the top Via must match too: the same branch from another sent-by is a new transaction', () => {
      const branch = uniqueBranch();
      h.transport.deliver(requestText({ method: 'OPTIONS', branch, sentBy: '198.51.100.7:5062' }), CLIENT);
      h.transport.deliver(requestText({ method: 'OPTIONS', branch, sentBy: '198.51.100.8:5062' }), CLIENT);
      expect(h.core.requests).to.have.length(2);
    });

    it('the method of the request matches the one that created the transaction, except for ACK, where the method of the request that created the transaction is INVITE', () => {
      const branch = uniqueBranch();
      h.transport.deliver(requestText({ method: 'INVITE', branch }), CLIENT);
      h.transport.deliver(requestText({ method: 'CANCEL', branch }), CLIENT);
      expect(h.core.requests.map((r) => r.request.method)).to.deep.equal(['INVITE', 'CANCEL']);
      const ist = h.core.requests[0]!.transaction;
      ist.respond(respond(h.core.requests[0]!.request, 487));
      h.transport.deliver(requestText({ method: 'ACK', branch, to: '<sip:bob@example.com>;tag=srv' }), CLIENT);
      expect(ist.state).to.equal('Confirmed');
      expect(h.core.acks).to.have.length(0);
    });

    it('an ACK that matches no transaction (the ACK for a 2xx, new branch) goes to the core', () => {
      h.transport.deliver(requestText({ method: 'ACK', to: '<sip:bob@example.com>;tag=srv' }), CLIENT);
      expect(h.core.acks).to.have.length(1);
      expect(h.core.acks[0]!.transaction).to.equal(undefined);
      expect(h.layer.size).to.equal(0);
    });

    it('CANCEL is its own transaction, and the layer finds the INVITE it cancels (§9.2)', () => {
      const branch = uniqueBranch();
      h.transport.deliver(requestText({ method: 'INVITE', branch }), CLIENT);
      h.transport.deliver(requestText({ method: 'CANCEL', branch }), CLIENT);
      const cancel = h.core.requests[1]!;
      expect(cancel.transaction.kind).to.equal('non-INVITE server');
      expect(h.layer.findTransactionToCancel(cancel.request)).to.equal(h.core.requests[0]!.transaction);
      const other = parse(requestText({ method: 'CANCEL', branch: uniqueBranch() })) as SipRequest;
      expect(h.layer.findTransactionToCancel(other)).to.equal(undefined);
    });
  });

  describe('RFC 2543 fallback (§17.2.3, no magic cookie)', () => {
    const old = (method: string, extra: Partial<Parameters<typeof requestText>[0]> = {}) =>
      requestText({ method, via: 'SIP/2.0/UDP 198.51.100.7:5062;branch=1234', ...extra });

    it('The INVITE request matches a transaction if the Request-URI, To tag, From tag, Call-ID, CSeq, and top Via header field match', () => {
      h.transport.deliver(old('INVITE'), CLIENT);
      h.transport.deliver(old('INVITE'), CLIENT);
      expect(h.core.requests).to.have.length(1);
      h.transport.deliver(old('INVITE', { cseq: 2 }), CLIENT);
      expect(h.core.requests).to.have.length(2);
      h.transport.deliver(old('INVITE', { callId: 'other@x' }), CLIENT);
      h.transport.deliver(old('INVITE', { uri: 'sip:carol@192.0.2.1' }), CLIENT);
      h.transport.deliver(old('INVITE', { from: '<sip:alice@example.com>;tag=zz' }), CLIENT);
      expect(h.core.requests).to.have.length(5);
    });

    it('works without any branch at all', () => {
      const noBranch = (m: string) => requestText({ method: m, via: 'SIP/2.0/UDP 198.51.100.7:5062' });
      h.transport.deliver(noBranch('OPTIONS'), CLIENT);
      h.transport.deliver(noBranch('OPTIONS'), CLIENT);
      expect(h.core.requests).to.have.length(1);
    });

    it('The ACK request matches a transaction if ... the To tag of the ACK matches the To tag of the response sent by the server transaction', () => {
      h.transport.deliver(old('INVITE'), CLIENT);
      const { request, transaction } = h.core.requests[0]!;
      transaction.respond(respond(request, 486, 'srv'));
      h.transport.deliver(old('ACK', { to: '<sip:bob@example.com>;tag=other' }), CLIENT);
      expect(transaction.state).to.equal('Completed');
      expect(h.core.acks).to.have.length(1);
      h.transport.deliver(old('ACK', { to: '<sip:bob@example.com>;tag=srv' }), CLIENT);
      expect(transaction.state).to.equal('Confirmed');
    });

    it('a CANCEL finds its INVITE by the RFC 2543 rules too', () => {
      h.transport.deliver(old('INVITE'), CLIENT);
      h.transport.deliver(old('CANCEL'), CLIENT);
      expect(h.core.requests.map((r) => r.request.method)).to.deep.equal(['INVITE', 'CANCEL']);
      expect(h.layer.findTransactionToCancel(h.core.requests[1]!.request)).to.be.instanceOf(InviteServerTransaction);
    });
  });

  describe('client side', () => {
    const options = () => parse(requestText({ method: 'OPTIONS', uri: 'sip:bob@203.0.113.5:5070', sentBy: '192.0.2.1:5060' })) as SipRequest;

    it('refuses requests without an RFC 3261 branch, ACKs, and duplicate branches', () => {
      const bad = parse(requestText({ method: 'OPTIONS', via: 'SIP/2.0/UDP 192.0.2.1;branch=abc' })) as SipRequest;
      expect(() => h.layer.sendRequest(bad)).to.throw(InvalidArgumentError);
      const ack = parse(requestText({ method: 'ACK' })) as SipRequest;
      expect(() => h.layer.sendRequest(ack)).to.throw(InvalidArgumentError);
      const r = options();
      h.layer.sendRequest(r);
      expect(() => h.layer.sendRequest(r)).to.throw(InvalidArgumentError);
    });

    it('cancel(): a CANCEL with the INVITE\'s branch, Request-URI, Call-ID, From, To, CSeq number, in its own transaction, to the same destination (§9.1)', () => {
      const inv = parse(
        requestText({ method: 'INVITE', uri: 'sip:bob@example.com', sentBy: '192.0.2.1:5060', headers: ['Route: <sip:203.0.113.9;lr>'] }),
      ) as SipRequest;
      const ict = h.layer.sendRequest(inv, undefined, { destination: PEER });
      h.transport.deliver(responseTo(inv, 180, { toTag: 'b' }), PEER);
      const user = new FakeUser();
      const nict = h.layer.cancel(ict, user);
      expect(nict.kind).to.equal('non-INVITE client');
      const sent = h.transport.sent.find((s) => s.message.isRequest && s.message.method === 'CANCEL')!;
      const cancel = sent.message as SipRequest;
      expect(sent.destination).to.deep.equal(PEER);
      expect(cancel.via).to.have.length(1);
      expect(cancel.via[0]!.branch).to.equal(inv.via[0]!.branch);
      expect(cancel.uri.toString()).to.equal(inv.uri.toString());
      expect(cancel.cseq).to.deep.equal({ seq: inv.cseq.seq, method: 'CANCEL' });
      expect(cancel.get('to')).to.equal(inv.get('to'));
      expect(cancel.getAll('route')).to.deep.equal(inv.getAll('route'));
      h.transport.deliver(responseTo(cancel, 200), PEER);
      expect(user.responses.map((r) => r.status)).to.deep.equal([200]);
      expect(ict.state, 'the CANCEL response does not touch the INVITE transaction').to.equal('Proceeding');
    });

    it('no final response 64*T1 after the CANCEL: the INVITE transaction is destroyed and its TU told of a timeout (§9.1)', () => {
      const invite = (): SipRequest => parse(requestText({ method: 'INVITE', uri: 'sip:bob@example.com', sentBy: '192.0.2.1:5060' })) as SipRequest;
      // one INVITE whose callee never answers the CANCEL's 487, one that does
      const silent = new FakeUser();
      const inv1 = invite();
      const ict1 = h.layer.sendRequest(inv1, silent, { destination: PEER });
      const answered = new FakeUser();
      const inv2 = invite();
      const ict2 = h.layer.sendRequest(inv2, answered, { destination: PEER });
      for (const inv of [inv1, inv2]) h.transport.deliver(responseTo(inv, 180, { toTag: 'b' }), PEER);
      h.layer.cancel(ict1);
      h.layer.cancel(ict2);
      h.transport.deliver(responseTo(inv2, 487, { toTag: 'b' }), PEER);
      h.clock.tick(64 * T1 - 1);
      expect(ict1.state, 'still waiting just before 64*T1').to.equal('Proceeding');
      expect(silent.timeouts).to.have.length(0);
      h.clock.tick(1);
      expect(ict1.state).to.equal('Terminated');
      expect(silent.timeouts).to.have.length(1);
      expect(silent.timeouts[0]!.message).to.match(/64\*T1 after its CANCEL/);
      expect(answered.timeouts, 'a final response came: nothing to give up').to.have.length(0);
      expect(answered.responses.map((r) => r.status)).to.deep.equal([180, 487]);
      expect(h.layer.findClientTransaction(parse(responseTo(inv1, 487, { toTag: 'b' })) as SipResponse), 'the destroyed transaction is gone').to.equal(undefined);
    });

    it('a response matching no client transaction goes to the core', () => {
      const r = options();
      h.transport.deliver(responseTo(r, 200, { toTag: 'x' }), PEER);
      expect(h.core.responses).to.have.length(1);
      expect(h.layer.counters.strayResponses).to.equal(1);
    });
  });

  describe('stateless sends', () => {
    it('sends an ACK for a 2xx to its Request-URI without a transaction (§13.2.2.4)', async () => {
      const ack = parse(requestText({ method: 'ACK', uri: 'sip:bob@203.0.113.5:5070' })) as SipRequest;
      await h.layer.sendStateless(ack);
      expect(h.transport.sent[0]!.destination).to.deep.equal(PEER);
      expect(h.layer.size).to.equal(0);
    });

    it('sends a response where its top Via says (§18.2.2): received and rport', async () => {
      h.transport.deliver(requestText({ method: 'OPTIONS', sentBy: '10.0.0.5:5062' }), { address: '198.51.100.9', port: 41000 });
      const req = h.core.requests[0]!.request;
      await h.layer.sendStateless(respond(req, 200));
      expect(h.transport.sent[0]!.destination).to.deep.equal({ address: '198.51.100.9', port: 41000 });
    });
  });

  describe('limits', () => {
    it('refuses new server transactions with 503 when max live transactions is reached, answered statelessly', () => {
      h = harness({ maxTransactions: 2 });
      for (let i = 0; i < 3; i++) h.transport.deliver(requestText({ method: i === 1 ? 'INVITE' : 'OPTIONS' }), CLIENT);
      expect(h.core.requests).to.have.length(2);
      expect(h.layer.size).to.equal(2);
      const refused = h.transport.responses(503);
      expect(refused).to.have.length(1);
      expect(refused[0]!.get('retry-after')).to.equal('5');
      expect(h.layer.counters.refused).to.equal(1);
    });

    it('a transaction that lingers (final response sent) no longer counts against maxTransactions', async () => {
      h = harness({ maxTransactions: 1 });
      h.core.onRequest = (request, t) => t.respond(respond(request, 200));
      for (let i = 0; i < 3; i++) h.transport.deliver(requestText({ method: 'OPTIONS' }), CLIENT);
      expect(h.transport.responses(200)).to.have.length(3);
      expect(h.transport.responses(503)).to.have.length(0);
      expect(h.layer.lingeringCount).to.equal(3);
      expect(h.layer.workingCount).to.equal(0);
      h.core.onRequest = undefined;
      h.transport.deliver(requestText({ method: 'OPTIONS' }), CLIENT);
      h.transport.deliver(requestText({ method: 'OPTIONS' }), CLIENT);
      expect(h.layer.workingCount).to.equal(1);
      expect(h.transport.responses(503)).to.have.length(1);
    });

    it('past maxLingering the oldest lingering transaction is dropped early (counted), the newer ones stay', () => {
      h = harness({ maxLingering: 2 });
      h.core.onRequest = (request, t) => t.respond(respond(request, 200));
      const branches = [uniqueBranch(), uniqueBranch(), uniqueBranch()];
      for (const branch of branches) h.transport.deliver(requestText({ method: 'OPTIONS', branch }), CLIENT);
      expect(h.layer.lingeringCount).to.equal(2);
      expect(h.layer.counters.evicted).to.equal(1);
      // a retransmission of the dropped one is a new request to the core; the kept ones are absorbed
      h.transport.deliver(requestText({ method: 'OPTIONS', branch: branches[2] }), CLIENT);
      expect(h.core.requests).to.have.length(3);
      h.transport.deliver(requestText({ method: 'OPTIONS', branch: branches[0] }), CLIENT);
      expect(h.core.requests).to.have.length(4);
      expect(h.clock.pending, 'the dropped transaction left no timer').to.equal(2);
    });

    it('without a core, requests are answered 500 rather than left hanging', () => {
      h.layer.core = undefined;
      h.transport.deliver(requestText({ method: 'OPTIONS' }), CLIENT);
      expect(h.transport.responses(500)).to.have.length(1);
    });
  });

  describe('lingering transactions keep bytes, not parsed messages', () => {
    it('a non-INVITE server transaction in Completed answers a retransmission with the very bytes it sent, and still shows its request and response', async () => {
      const branch = uniqueBranch();
      h.core.onRequest = (request, t) => t.respond(respond(request, 200));
      h.transport.deliver(requestText({ method: 'OPTIONS', branch }), CLIENT);
      const t = h.core.requests[0]!.transaction;
      const sentFirst = h.transport.sent[0]!;
      await Promise.resolve(); // compaction runs once the handler is done (a microtask)
      h.transport.deliver(requestText({ method: 'OPTIONS', branch }), CLIENT);
      const again = h.transport.sent[1]!;
      expect(serialize(again.message).equals(serialize(sentFirst.message))).to.equal(true);
      expect(again.destination).to.deep.equal(sentFirst.destination);
      expect(t.request.method).to.equal('OPTIONS');
      expect(t.request.via[0]!.branch).to.equal(branch);
      expect(t.lastResponse?.status).to.equal(200);
      expect(t.finalResponseSent).to.equal(true);
    });

    it('an INVITE client transaction in Completed resends the same ACK for a retransmitted final response', async () => {
      const inv = parse(requestText({ method: 'INVITE', uri: 'sip:bob@203.0.113.5:5070', sentBy: '192.0.2.1:5060' })) as SipRequest;
      h.layer.sendRequest(inv, new FakeUser(), { destination: PEER });
      const busy = responseTo(inv, 486, { toTag: 'b' });
      h.transport.deliver(busy, PEER);
      await Promise.resolve();
      h.transport.deliver(busy, PEER);
      const acks = h.transport.sent.filter((s) => s.message.isRequest && s.message.method === 'ACK');
      expect(acks).to.have.length(2);
      expect(serialize(acks[1]!.message).equals(serialize(acks[0]!.message))).to.equal(true);
      expect(acks[1]!.destination).to.deep.equal(PEER);
    });

    it('a 2xx retransmission in Accepted goes to the TU, or to the core once the TU has let go (RFC 6026)', () => {
      const inv = parse(requestText({ method: 'INVITE', uri: 'sip:bob@203.0.113.5:5070', sentBy: '192.0.2.1:5060' })) as SipRequest;
      const user = new FakeUser();
      const ict = h.layer.sendRequest(inv, user, { destination: PEER });
      const ok = responseTo(inv, 200, { toTag: 'b' });
      h.transport.deliver(ok, PEER);
      h.transport.deliver(ok, PEER);
      expect(user.responses.map((r) => r.status)).to.deep.equal([200, 200]);
      expect(h.core.responses).to.have.length(0);
      ict.user = undefined;
      h.transport.deliver(ok, PEER);
      expect(user.responses).to.have.length(2);
      expect(h.core.responses).to.have.length(1);
      expect(ict.state).to.equal('Accepted');
    });
  });

  it('close() disposes every transaction and clears every timer', () => {
    h.transport.deliver(requestText({ method: 'INVITE' }), CLIENT);
    h.layer.sendRequest(parse(requestText({ method: 'OPTIONS', uri: 'sip:x@203.0.113.5', sentBy: '192.0.2.1' })) as SipRequest);
    expect(h.layer.size).to.equal(2);
    h.layer.close();
    expect(h.layer.size).to.equal(0);
    expect(h.clock.pending).to.equal(0);
  });

  it('Transactions are removed when they terminate: after 100 000 transactions the number alive returns to zero', function () {
    this.timeout(60000);
    const TOTAL = 100_000;
    const BATCH = 500;
    let done = 0;
    let peak = 0;
    h.core.onRequest = (request, t) => {
      if (request.method === 'INVITE') t.respond(respond(request, done % 2 === 0 ? 200 : 486));
      else t.respond(respond(request, 200));
    };
    const kinds = ['INVITE-server', 'OPTIONS-server', 'INVITE-client', 'OPTIONS-client'] as const;
    while (done < TOTAL) {
      for (let i = 0; i < BATCH && done < TOTAL; i++, done++) {
        const kind = kinds[done % 4]!;
        const branch = uniqueBranch();
        if (kind === 'INVITE-server' || kind === 'OPTIONS-server') {
          const method = kind === 'INVITE-server' ? 'INVITE' : 'OPTIONS';
          h.transport.deliver(requestText({ method, branch, callId: `c${done}` }), CLIENT);
          if (method === 'INVITE') h.transport.deliver(requestText({ method: 'ACK', branch, callId: `c${done}`, to: '<sip:bob@example.com>;tag=srv' }), CLIENT);
        } else {
          const method = kind === 'INVITE-client' ? 'INVITE' : 'OPTIONS';
          const req = parse(requestText({ method, branch, uri: 'sip:bob@203.0.113.5:5070', sentBy: '192.0.2.1:5060', callId: `c${done}` })) as SipRequest;
          h.layer.sendRequest(req, undefined, { destination: PEER });
          h.transport.deliver(responseTo(req, done % 8 === 2 ? 200 : 404, { toTag: 't' }), PEER);
        }
      }
      peak = Math.max(peak, h.layer.size);
      h.transport.sent = [];
      h.clock.tick(10 * T1);
    }
    h.clock.tick(Math.max(64 * T1, TEST_TIMERS.D) + 1);
    expect(peak).to.be.greaterThan(BATCH);
    expect(h.layer.counters.clientTransactions + h.layer.counters.serverTransactions).to.equal(TOTAL);
    expect(h.layer.size).to.equal(0);
    expect(h.clock.pending).to.equal(0);
  });
});
