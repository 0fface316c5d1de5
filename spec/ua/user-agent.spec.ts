/**
 * The UserAgent helper: requests from scratch (§8.1.1), ACK for 2xx (§13.2.2.4), dialogs (§12),
 * 2xx retransmission until ACK (§13.3.1.4), CANCEL (§9), BYE (§15), over two fake transports.
 */
import { expect } from 'chai';
import type { SipRequest, SipResponse } from '../../lib/transport/message-api.js';
import { TimeoutError } from '../../lib/errors.js';
import { UserAgent } from '../../lib/ua/user-agent.js';
import type { IncomingRequest } from '../../lib/ua/incoming-request.js';
import { FakeClock } from '../support/fake-clock.js';
import { FakeNetwork, FakeTransport } from '../support/fake-transport.js';
import { TEST_TIMERS } from '../support/fake-core.js';

const { T1, T2 } = TEST_TIMERS;
const SDP = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

describe('UserAgent', () => {
  let clock: FakeClock;
  let net: FakeNetwork;
  let ta: FakeTransport;
  let tb: FakeTransport;
  let alice: UserAgent;
  let bob: UserAgent;
  let incoming: IncomingRequest[];

  beforeEach(() => {
    clock = new FakeClock();
    net = new FakeNetwork();
    ta = new FakeTransport({ address: '192.0.2.1', port: 5060, network: net });
    tb = new FakeTransport({ address: '192.0.2.2', port: 5070, network: net });
    alice = new UserAgent({ transport: ta, clock, timers: TEST_TIMERS, user: 'alice' });
    bob = new UserAgent({ transport: tb, clock, timers: TEST_TIMERS, user: 'bob' });
    incoming = [];
  });

  /** Runs network and clock until the promise settles (or `ms` of fake time pass). */
  async function settle<T>(p: Promise<T>, ms = 64 * T1 * 2): Promise<T> {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let t = 0; t <= ms && !done; t += 10) {
      net.run();
      await new Promise((r) => setImmediate(r));
      net.run();
      if (!done) clock.tick(10);
    }
    return p;
  }

  function step(ms = 0): void {
    net.run();
    if (ms > 0) clock.tick(ms);
    net.run();
  }

  function invite(): SipRequest {
    return alice.createRequest({ method: 'INVITE', uri: 'sip:bob@192.0.2.2:5070', from: 'sip:alice@example.com', to: 'sip:bob@example.com', body: SDP });
  }

  function answerWith180Then200(): void {
    bob.onRequest((r) => {
      incoming.push(r);
      if (r.method === 'INVITE') {
        r.respond(180);
        r.respond(200, 'OK', { body: SDP });
      } else r.respond(200);
    });
  }

  it('createRequest fills Via with a branch and rport, Max-Forwards 70, From tag, Call-ID, CSeq, Contact, Content-Type (§8.1.1)', () => {
    const req = invite();
    expect(req.via[0]!.branch).to.match(/^z9hG4bK.+/);
    expect(req.via[0]!.rport).to.equal(null);
    expect(req.via[0]!.host).to.equal('192.0.2.1');
    expect(req.maxForwards).to.equal(70);
    expect(req.from.tag).to.be.a('string').with.length.greaterThan(3);
    expect(req.to.tag).to.equal(undefined);
    expect(req.callId).to.have.length.greaterThan(10);
    expect(req.cseq).to.deep.equal({ seq: 1, method: 'INVITE' });
    expect(req.contact[0]!.uri.toString()).to.equal('sip:alice@192.0.2.1:5060');
    expect(req.contentType).to.equal('application/sdp');
    expect(req.body.toString()).to.equal(SDP);
    const opts = alice.createRequest({ method: 'OPTIONS', uri: 'sip:bob@192.0.2.2:5070', from: '"Alice" <sip:alice@example.com>', to: 'sip:bob@example.com', cseq: 7, callId: 'x@y' });
    expect(opts.has('contact')).to.equal(false);
    expect(opts.from.displayName).to.equal('Alice');
    expect(opts.cseq.seq).to.equal(7);
    expect(opts.callId).to.equal('x@y');
  });

  it('a call: INVITE, 180, 200 with SDP, ACK (§13.2.2.4: new branch, CSeq of the INVITE), BYE with CSeq+1', async () => {
    answerWith180Then200();
    const provisional: number[] = [];
    const req = invite();
    const { response, dialog } = await settle(alice.invite(req, { onProvisional: (r) => provisional.push(r.status) }));
    expect(provisional).to.deep.equal([180]);
    expect(response.status).to.equal(200);
    expect(response.body.toString()).to.equal(SDP);
    expect(response.contact[0]!.uri.toString()).to.equal('sip:bob@192.0.2.2:5070');
    expect(dialog).to.not.equal(undefined);
    step();
    const ack = ta.requests('ACK')[0]!;
    expect(ack.via[0]!.branch).to.not.equal(req.via[0]!.branch);
    expect(ack.cseq).to.deep.equal({ seq: 1, method: 'ACK' });
    expect(ack.uri.toString(), 'ACK goes to the remote target').to.equal('sip:bob@192.0.2.2:5070');
    expect(ack.to.tag).to.equal(response.to.tag);
    expect(ta.sent.find((s) => s.message === ack)!.destination).to.deep.equal({ address: '192.0.2.2', port: 5070 });
    expect(incoming[0]!.dialog).to.not.equal(undefined);
    expect(bob.dialogCount).to.equal(1);
    // bob's 2xx retransmissions stopped with the ACK
    tb.take();
    step(10 * T1);
    expect(tb.responses(200)).to.have.length(0);

    const bye = await settle(dialog!.bye());
    expect(bye.status).to.equal(200);
    const sentBye = ta.requests('BYE')[0]!;
    expect(sentBye.cseq).to.deep.equal({ seq: 2, method: 'BYE' });
    expect(sentBye.from.tag).to.equal(req.from.tag);
    expect(sentBye.to.tag).to.equal(response.to.tag);
    expect(incoming[1]!.method).to.equal('BYE');
    expect(incoming[1]!.dialog).to.equal(incoming[0]!.dialog);
    expect(alice.dialogCount).to.equal(0);
    expect(bob.dialogCount).to.equal(0);
  });

  it('The 2xx response is passed to the transport with an interval that starts at T1 seconds and doubles for each retransmission until it reaches T2 seconds; retransmissions cease when an ACK arrives (lost ACK)', async () => {
    answerWith180Then200();
    let acksDropped = 0;
    net.drop = (m) => m.isRequest && m.method === 'ACK' && acksDropped++ < 2;
    await settle(alice.request(invite()));
    step(); // first ACK lost
    const okTimes: number[] = [];
    let n = tb.responses(200).length;
    for (let t = 0; t < 64 * T1; t += 10) {
      step(10);
      const now = tb.responses(200).length;
      if (now !== n) {
        okTimes.push(clock.now());
        n = now;
      }
    }
    // two ACKs lost: retransmissions after T1 and after a further 2*T1; the third ACK gets through
    expect(okTimes).to.have.length(2);
    expect(okTimes[1]! - okTimes[0]!).to.equal(Math.min(2 * T1, T2));
    expect(ta.requests('ACK').length, 'the UAC acknowledges each 2xx it receives').to.equal(3);
    expect(net.dropped).to.have.length(2);
    expect(bob.dialogCount).to.equal(1);
  });

  it('a 2xx retransmission arriving after the BYE was sent is ACKed again without bringing the dialog back (§13.2.2.4)', async () => {
    answerWith180Then200();
    let byesDropped = 0;
    // every ACK is lost, and the first BYE: bob keeps retransmitting his 200 past alice's BYE
    net.drop = (m) => m.isRequest && (m.method === 'ACK' || (m.method === 'BYE' && byesDropped++ < 1));
    const { dialog } = await settle(alice.invite(invite()));
    step();
    expect(ta.requests('ACK')).to.have.length(1);
    const bye = await settle(dialog!.bye());
    expect(bye.status).to.equal(200);
    expect(tb.responses(200).filter((r) => r.cseq.method === 'INVITE').length, 'bob retransmitted the 2xx').to.be.greaterThan(1);
    expect(ta.requests('ACK').length, 'alice ACKed the retransmission').to.be.greaterThan(1);
    expect(alice.dialogCount).to.equal(0);
    expect(bob.dialogCount).to.equal(0);
  });

  it('If the server retransmits the 2xx response for 64*T1 seconds without receiving an ACK, ... the session SHOULD be terminated ... with a BYE', async () => {
    let ackTimeout = false;
    bob.onRequest((r) => {
      incoming.push(r);
      if (r.method === 'INVITE') {
        r.onacktimeout = () => (ackTimeout = true);
        r.respond(200, 'OK', { body: SDP });
      } else r.respond(200);
    });
    net.drop = (m) => m.isRequest && m.method === 'ACK';
    await settle(alice.request(invite()));
    for (let t = 0; t <= 64 * T1 + 10; t += 10) step(10);
    expect(ackTimeout).to.equal(true);
    expect(tb.requests('BYE')).to.have.length(1);
    expect(tb.responses(200).length).to.be.greaterThan(5);
    expect(bob.dialogCount).to.equal(0);
    for (let t = 0; t <= 64 * T1; t += 10) step(10);
    expect(alice.dialogCount, 'alice got the BYE').to.equal(0);
  });

  it('CANCEL: the UAS answers the CANCEL 200 and the INVITE 487; the UAC resolves with 487 and its transaction ACKs it (§9)', async () => {
    let cancelled = false;
    bob.onRequest((r) => {
      incoming.push(r);
      r.oncancel = () => (cancelled = true);
      r.respond(180);
    });
    const req = invite();
    const p = alice.request(req);
    expect(alice.cancel(req)).to.equal(true);
    step();
    expect(ta.requests('CANCEL'), 'no CANCEL before a provisional response').to.have.length(1);
    const res = await settle(p);
    expect(res.status).to.equal(487);
    expect(cancelled).to.equal(true);
    expect(incoming[0]!.cancelled).to.equal(true);
    expect(incoming[0]!.respond(200), 'a late 200 is dropped').to.equal(undefined);
    expect(tb.responses().map((r) => `${r.status} ${r.cseq.method}`)).to.include.members(['200 CANCEL', '487 INVITE']);
    step();
    expect(ta.requests('ACK')).to.have.length(1);
    expect(bob.layer.size).to.be.greaterThan(0);
    step(TEST_TIMERS.D + 64 * T1);
    expect(alice.layer.size).to.equal(0);
    expect(bob.layer.size).to.equal(0);
  });

  it('a CANCEL that matches no transaction is answered 481', async () => {
    const cancel = alice.createRequest({ method: 'CANCEL', uri: 'sip:bob@192.0.2.2:5070', from: 'sip:a@x', to: 'sip:b@y' });
    const res = await settle(alice.request(cancel));
    expect(res.status).to.equal(481);
  });

  it('a request inside a dialog that does not exist is answered 481 (§12.2.2)', async () => {
    const bye = alice.createRequest({ method: 'BYE', uri: 'sip:bob@192.0.2.2:5070', from: 'sip:a@x', to: '<sip:b@y>;tag=nope' });
    const res = await settle(alice.request(bye));
    expect(res.status).to.equal(481);
  });

  it('without a handler: OPTIONS is answered 200 with Allow, other requests 501', async () => {
    const opt = await settle(alice.request(alice.createRequest({ method: 'OPTIONS', uri: 'sip:bob@192.0.2.2:5070', from: 'sip:a@x', to: 'sip:b@y' })));
    expect(opt.status).to.equal(200);
    expect(opt.get('allow')).to.contain('INVITE');
    const msg = await settle(alice.request(alice.createRequest({ method: 'MESSAGE', uri: 'sip:bob@192.0.2.2:5070', from: 'sip:a@x', to: 'sip:b@y' })));
    expect(msg.status).to.equal(501);
  });

  it('a handler that throws gets the request answered 500', async () => {
    bob.onRequest(() => {
      throw new Error('boom');
    });
    const res = await settle(alice.request(alice.createRequest({ method: 'OPTIONS', uri: 'sip:bob@192.0.2.2:5070', from: 'sip:a@x', to: 'sip:b@y' })));
    expect(res.status).to.equal(500);
  });

  it('a request to nobody rejects with TimeoutError (Timer F: treated as 408, §8.1.3.1)', async () => {
    const req = alice.createRequest({ method: 'OPTIONS', uri: 'sip:nobody@192.0.2.99:5060', from: 'sip:a@x', to: 'sip:b@y' });
    let err: unknown;
    await settle(alice.request(req)).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(TimeoutError);
  });

  it('in-dialog requests with a route set: the UAS copies Record-Route (§12.1.1), the UAC reverses it (§12.1.2) and sends BYE with Route and the remote target', async () => {
    answerWith180Then200();
    const req = invite();
    req.append('Record-Route', '<sip:p2.example.com;lr>');
    req.append('Record-Route', '<sip:p1.example.com;lr>');
    const res = await settle(alice.request(req, { destination: { address: '192.0.2.2', port: 5070 } }));
    expect(res.getAll('record-route')).to.deep.equal(['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr>']);
    const dialog = alice.dialogFor(res)!;
    expect(dialog.routeSet.map((r) => r.uri.host)).to.deep.equal(['p1.example.com', 'p2.example.com']);
    const bye = dialog.createRequest('BYE');
    expect(bye.uri.toString()).to.equal('sip:bob@192.0.2.2:5070');
    expect(bye.getAll('route')).to.deep.equal(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    const uasDialog = incoming[0]!.dialog!;
    expect(uasDialog.routeSet.map((r) => r.uri.host)).to.deep.equal(['p2.example.com', 'p1.example.com']);
  });

  it('a request with a lower CSeq than the dialog has seen is rejected with 500 (§12.2.2)', async () => {
    answerWith180Then200();
    const { dialog } = await settle(alice.invite(invite()));
    step();
    await settle(dialog!.request('INFO'));
    dialog!.localSeq = 0;
    const res = await settle(dialog!.request('INFO'));
    expect(res.status).to.equal(500);
  });

  it('close() releases every timer', async () => {
    answerWith180Then200();
    net.drop = (m) => m.isRequest && m.method === 'ACK';
    await settle(alice.request(invite()));
    await alice.close();
    await bob.close();
    expect(clock.pending).to.equal(0);
  });

  it('(type check) responses are SipResponse objects', async () => {
    answerWith180Then200();
    const r: SipResponse = await settle(alice.request(invite()));
    expect(r.isRequest).to.equal(false);
  });
});
