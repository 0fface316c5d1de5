/**
 * The UDP transport over loopback: RFC 3261 §18.2.1 / RFC 3581 stamping, §18.2.2 response
 * routing, 400 for malformed requests, drops, keep-alives, size limit, IPv6, close().
 */
import { expect } from 'chai';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { ClosedError, TransportError } from '../../lib/errors.js';
import { parse } from '../../lib/transport/message-api.js';
import type { SipMessageAny, SipRequest, SipResponse } from '../../lib/transport/message-api.js';
import type { MessageInfo } from '../../lib/transport/transport.js';
import { UdpTransport, createUdpTransport } from '../../lib/transport/udp-transport.js';
import { TransactionLayer } from '../../lib/transaction/transaction-layer.js';
import { makeResponse } from '../../lib/transport/message-api.js';
import { requestText } from '../support/fake-messages.js';

/** A raw UDP peer: sends bytes, collects what comes back. */
class Peer {
  readonly socket: dgram.Socket;
  readonly received: Buffer[] = [];
  #waiters: ((b: Buffer) => void)[] = [];
  constructor(type: 'udp4' | 'udp6' = 'udp4') {
    this.socket = dgram.createSocket(type);
    this.socket.on('message', (b) => {
      const w = this.#waiters.shift();
      if (w) w(b);
      else this.received.push(b);
    });
  }
  async bind(address = '127.0.0.1'): Promise<number> {
    this.socket.bind(0, address);
    await once(this.socket, 'listening');
    return this.socket.address().port;
  }
  get port(): number {
    return this.socket.address().port;
  }
  send(data: string | Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, address, (err) => (err ? reject(err) : resolve())));
  }
  next(timeoutMs = 1000): Promise<Buffer> {
    const b = this.received.shift();
    if (b !== undefined) return Promise.resolve(b);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no datagram')), timeoutMs);
      this.#waiters.push((buf) => {
        clearTimeout(t);
        resolve(buf);
      });
    });
  }
  close(): void {
    this.socket.close();
  }
}

/** Collects what the transport delivers. */
function collect(t: UdpTransport): { messages: { message: SipMessageAny; info: MessageInfo }[]; next(): Promise<{ message: SipMessageAny; info: MessageInfo }> } {
  const messages: { message: SipMessageAny; info: MessageInfo }[] = [];
  let waiter: ((m: { message: SipMessageAny; info: MessageInfo }) => void) | undefined;
  t.setListener({
    onMessage(message, info) {
      const m = { message, info };
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w(m);
      } else messages.push(m);
    },
  });
  return {
    messages,
    next() {
      const m = messages.shift();
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('nothing delivered')), 1000);
        waiter = (x) => {
          clearTimeout(timer);
          resolve(x);
        };
      });
    },
  };
}

const pause = (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe('UdpTransport (loopback)', () => {
  let t: UdpTransport;
  let peer: Peer;
  beforeEach(async () => {
    t = await createUdpTransport({ address: '127.0.0.1', port: 0 });
    peer = new Peer();
    await peer.bind();
  });
  afterEach(async () => {
    peer.close();
    await t.close();
  });

  it('binds to a configurable address and port (0 picks one); localAddress/localPort known after listen', () => {
    expect(t.localAddress).to.equal('127.0.0.1');
    expect(t.localPort).to.be.greaterThan(0);
    expect(t.sentBy).to.deep.equal({ host: '127.0.0.1', port: t.localPort });
    expect(t.family).to.equal(4);
  });

  it('advertises the configured address and port in sentBy', async () => {
    const a = await createUdpTransport({ address: '127.0.0.1', port: 0, advertisedAddress: '203.0.113.1', advertisedPort: 5060 });
    expect(a.sentBy).to.deep.equal({ host: '203.0.113.1', port: 5060 });
    await a.close();
  });

  it('delivers each message with its source address and port, transport and local address', async () => {
    const c = collect(t);
    await peer.send(requestText({ method: 'OPTIONS', sentBy: `127.0.0.1:${peer.port}` }), t.localPort);
    const { message, info } = await c.next();
    expect(message.isRequest).to.equal(true);
    expect(info).to.deep.equal({ source: { address: '127.0.0.1', port: peer.port }, local: { address: '127.0.0.1', port: t.localPort }, transport: 'UDP' });
    expect(t.counters.received).to.equal(1);
    expect(t.counters.requests).to.equal(1);
  });

  describe('RFC 3261 §18.2.1 and RFC 3581 on receipt of a request', () => {
    it('the server MUST add a "received" parameter when the sent-by host differs from the packet source address', async () => {
      const c = collect(t);
      await peer.send(requestText({ method: 'OPTIONS', via: 'SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa1' }), t.localPort);
      const m = (await c.next()).message as SipRequest;
      expect(m.via[0]!.received).to.equal('127.0.0.1');
      expect(m.via[0]!.rport).to.equal(undefined);
      expect(m.getAll('via')[0]).to.equal('SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa1;received=127.0.0.1');
    });

    it('an "rport" parameter with no value MUST be set to the source port, and "received" added even if identical to sent-by', async () => {
      const c = collect(t);
      await peer.send(requestText({ method: 'OPTIONS', via: 'SIP/2.0/UDP 127.0.0.1:5062;rport;branch=z9hG4bKa2', extraVia: ['SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKzz'] }), t.localPort);
      const m = (await c.next()).message as SipRequest;
      expect(m.via[0]!.rport).to.equal(peer.port);
      expect(m.via[0]!.received).to.equal('127.0.0.1');
      expect(m.getAll('via')).to.deep.equal([`SIP/2.0/UDP 127.0.0.1:5062;rport=${peer.port};branch=z9hG4bKa2;received=127.0.0.1`, 'SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKzz']);
    });

    it('leaves the Via alone when sent-by is the source address and no rport was asked for', async () => {
      const c = collect(t);
      const via = `SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bKa3`;
      await peer.send(requestText({ method: 'OPTIONS', via }), t.localPort);
      const m = (await c.next()).message as SipRequest;
      expect(m.getAll('via')).to.deep.equal([via]);
    });

    it('a sent-by that is a domain name always gets "received"', async () => {
      const c = collect(t);
      await peer.send(requestText({ method: 'OPTIONS', via: 'SIP/2.0/UDP phone.example.com;branch=z9hG4bKa4' }), t.localPort);
      const m = (await c.next()).message as SipRequest;
      expect(m.via[0]!.received).to.equal('127.0.0.1');
    });

    it('responses are not stamped', async () => {
      const c = collect(t);
      const res = `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKr;rport\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: r1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
      await peer.send(res, t.localPort);
      const m = (await c.next()).message as SipResponse;
      expect(m.via[0]!.received).to.equal(undefined);
      expect(t.counters.responses).to.equal(1);
    });
  });

  describe('RFC 3261 §18.2.2 / RFC 3581: where responses go', () => {
    it('to the received address and rport, not to the sent-by of a client behind NAT', async () => {
      const layer = new TransactionLayer({ transport: t, core: { receiveRequest: (r, tx) => tx.respond(makeResponse(r, 200)) } });
      await peer.send(requestText({ method: 'OPTIONS', via: 'SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKn1;rport' }), t.localPort);
      const res = parse(await peer.next()) as SipResponse;
      expect(res.status).to.equal(200);
      expect(res.via[0]!.received).to.equal('127.0.0.1');
      expect(res.via[0]!.rport).to.equal(peer.port);
      layer.close();
    });

    it('without rport, to the received address and the sent-by port', async () => {
      const layer = new TransactionLayer({ transport: t, core: { receiveRequest: (r, tx) => tx.respond(makeResponse(r, 200)) } });
      await peer.send(requestText({ method: 'OPTIONS', via: `SIP/2.0/UDP 10.0.0.5:${peer.port};branch=z9hG4bKn2` }), t.localPort);
      const res = parse(await peer.next()) as SipResponse;
      expect(res.via[0]!.received).to.equal('127.0.0.1');
      layer.close();
    });

    it('with maddr, to the maddr address and the sent-by port (§18.2.2)', async () => {
      const layer = new TransactionLayer({ transport: t, core: { receiveRequest: (r, tx) => tx.respond(makeResponse(r, 200)) } });
      await peer.send(requestText({ method: 'OPTIONS', via: `SIP/2.0/UDP 10.0.0.5:${peer.port};maddr=127.0.0.1;branch=z9hG4bKn3;rport` }), t.localPort);
      const res = parse(await peer.next()) as SipResponse;
      expect(res.status).to.equal(200);
      layer.close();
    });
  });

  describe('datagrams that are not valid SIP', () => {
    it('a malformed request gets a 400 with the reason, sent to the source (received/rport)', async () => {
      const bad = requestText({ method: 'OPTIONS', via: 'SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKb1;rport' }).replace('Max-Forwards: 70', 'Max-Forwards: lots');
      await peer.send(bad, t.localPort);
      const res = parse(await peer.next()) as SipResponse;
      expect(res.status).to.equal(400);
      expect(res.reason).to.match(/Max-Forwards/);
      expect(res.via[0]!.received).to.equal('127.0.0.1');
      expect(res.via[0]!.rport).to.equal(peer.port);
      expect(res.callId).to.equal('call-1@example.com');
      expect(res.to.tag).to.be.a('string');
      expect(t.counters.parseErrors).to.equal(1);
      expect(t.counters.rejected).to.equal(1);
    });

    it('a request with an unsupported SIP version gets 505', async () => {
      const bad = requestText({ method: 'OPTIONS', via: `SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bKb2` }).replace('SIP/2.0\r\n', 'SIP/7.0\r\n');
      await peer.send(bad, t.localPort);
      const res = parse(await peer.next()) as SipResponse;
      expect(res.status).to.equal(505);
    });

    it('an ACK that does not parse is never answered', async () => {
      const bad = requestText({ method: 'ACK', via: `SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bKb3` }).replace('Max-Forwards: 70', 'Max-Forwards: lots');
      await peer.send(bad, t.localPort);
      await pause();
      expect(peer.received).to.have.length(0);
      expect(t.counters.dropped).to.equal(1);
    });

    it('garbage is dropped with a counter and the socket keeps serving', async () => {
      const c = collect(t);
      await peer.send('this is not SIP at all', t.localPort);
      await peer.send(Buffer.from([0xff, 0x00, 0x13, 0x37, 0x42]), t.localPort);
      await peer.send(requestText({ method: 'OPTIONS' }), t.localPort);
      const { message } = await c.next();
      expect(message.isRequest).to.equal(true);
      expect(t.counters.parseErrors).to.equal(2);
      expect(t.counters.dropped).to.equal(2);
      expect(peer.received).to.have.length(0);
    });

    it('an invalid response is dropped', async () => {
      const c = collect(t);
      await peer.send('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n', t.localPort);
      await pause();
      expect(c.messages).to.have.length(0);
      expect(t.counters.dropped).to.equal(1);
      expect(peer.received).to.have.length(0);
    });

    it('a datagram over the configured size limit is dropped', async () => {
      const small = await createUdpTransport({ address: '127.0.0.1', port: 0, maxMessageSize: 1000 });
      const c = collect(small);
      await peer.send(requestText({ method: 'MESSAGE', body: 'x'.repeat(1500), headers: ['Content-Type: text/plain'] }), small.localPort);
      await peer.send(requestText({ method: 'MESSAGE', body: 'x'.repeat(10) }), small.localPort);
      await c.next();
      expect(small.counters.oversized).to.equal(1);
      expect(small.counters.dropped).to.equal(1);
      await small.close();
    });

    it('CRLF keep-alives and STUN packets are ignored silently', async () => {
      const c = collect(t);
      await peer.send('\r\n\r\n', t.localPort);
      await peer.send('\r\n', t.localPort);
      const stun = Buffer.alloc(20);
      stun.writeUInt16BE(0x0001, 0);
      stun.writeUInt32BE(0x2112a442, 4);
      await peer.send(stun, t.localPort);
      await pause();
      expect(c.messages).to.have.length(0);
      expect(t.counters.keepalives).to.equal(3);
      expect(t.counters.parseErrors).to.equal(0);
      expect(peer.received).to.have.length(0);
    });

    it('an exception in the listener is counted and reported, never thrown out of the socket', async () => {
      const errors: Error[] = [];
      t.setListener({
        onMessage() {
          throw new Error('core bug');
        },
        onError: (e) => errors.push(e),
      });
      await peer.send(requestText({ method: 'OPTIONS' }), t.localPort);
      await pause();
      expect(t.counters.handlerErrors).to.equal(1);
      expect(errors[0]!.message).to.equal('core bug');
    });
  });

  describe('socket lifecycle and errors', () => {
    it('close() frees the port', async () => {
      const port = t.localPort;
      await t.close();
      const again = await createUdpTransport({ address: '127.0.0.1', port });
      expect(again.localPort).to.equal(port);
      await again.close();
    });

    it('EADDRINUSE surfaces as a TransportError, never an uncaught exception', async () => {
      let err: unknown;
      await createUdpTransport({ address: '127.0.0.1', port: t.localPort }).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(TransportError);
      expect((err as TransportError).code).to.equal('ERR_SIP_TRANSPORT');
      expect(((err as TransportError).cause as NodeJS.ErrnoException).code).to.equal('EADDRINUSE');
    });

    it('send after close() rejects with ClosedError', async () => {
      await t.close();
      let err: unknown;
      await t.send(Buffer.from('x'), { address: '127.0.0.1', port: peer.port }).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(ClosedError);
      await t.close(); // idempotent
    });

    it('a send the OS refuses rejects with TransportError', async () => {
      let err: unknown;
      await t.send(Buffer.alloc(70000), { address: '127.0.0.1', port: peer.port }).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(TransportError);
      expect(t.counters.sendErrors).to.equal(1);
    });

    it('sends serialized messages and counts them', async () => {
      const m = parse(requestText({ method: 'OPTIONS' }));
      await t.send(m, { address: '127.0.0.1', port: peer.port });
      const got = parse(await peer.next());
      expect(got.isRequest && got.method).to.equal('OPTIONS');
      expect(t.counters.sent).to.equal(1);
    });
  });
});

describe('UdpTransport over IPv6 (::1)', () => {
  let available = true;
  before(async function () {
    try {
      const probe = await createUdpTransport({ address: '::1', port: 0 });
      await probe.close();
    } catch {
      available = false;
      this.skip();
    }
  });

  it('binds ::1, stamps received/rport with the IPv6 source, and routes the response back', async function () {
    if (!available) this.skip();
    const t = await createUdpTransport({ address: '::1', port: 0 });
    expect(t.family).to.equal(6);
    expect(t.sentBy.host).to.equal('::1');
    const peer = new Peer('udp6');
    await peer.bind('::1');
    const seen: SipRequest[] = [];
    const layer = new TransactionLayer({
      transport: t,
      core: {
        receiveRequest: (r, tx) => {
          seen.push(r);
          tx.respond(makeResponse(r, 200));
        },
      },
    });
    await peer.send(requestText({ method: 'OPTIONS', via: 'SIP/2.0/UDP [2001:db8::5]:5062;branch=z9hG4bK6a;rport' }), t.localPort, '::1');
    const res = parse(await peer.next()) as SipResponse;
    expect(res.status).to.equal(200);
    expect(seen[0]!.via[0]!.received).to.equal('::1');
    expect(seen[0]!.via[0]!.rport).to.equal(peer.port);
    layer.close();
    peer.close();
    await t.close();
  });
});
