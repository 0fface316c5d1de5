import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { FloodGuard, countsAsRequest, scannerMatcher, parse, SipResponse } from '../../lib/index.js';
import type { SipProxy } from '../../lib/index.js';
import { startTestProxy, eventually } from '../support/proxy-world.js';

describe('flood protection (pike-style) and scanner drop', function () {
  this.timeout(20000);

  describe('FloodGuard', () => {
    let now = 0;
    const guard = (o: { limit?: number; windowMs?: number; blockMs?: number; exempt?: string[]; maxSources?: number } = {}) => new FloodGuard({ limit: 10, windowMs: 1000, blockMs: 5000, now: () => now, ...o });
    beforeEach(() => (now = 1_000_000));

    it('lets a source send up to the limit per window, then blocks it for blockMs', () => {
      const g = guard();
      for (let i = 0; i < 10; i++) expect(g.allow('192.0.2.1')).to.equal(true);
      expect(g.allow('192.0.2.1')).to.equal(false);
      expect(g.isBlocked('192.0.2.1')).to.equal(true);
      expect(g.allow('192.0.2.2'), 'another source is not affected').to.equal(true);
      now += 4999;
      expect(g.allow('192.0.2.1')).to.equal(false);
      now += 2;
      expect(g.allow('192.0.2.1')).to.equal(true);
      expect(g.counters).to.deep.include({ blocks: 1, dropped: 2 });
    });

    it('uses a sliding window: a burst at the end of one window counts into the next', () => {
      const g = guard();
      expect(g.allow('192.0.2.1')).to.equal(true); // the source's window starts now
      now += 900;
      for (let i = 0; i < 9; i++) expect(g.allow('192.0.2.1')).to.equal(true);
      now += 200; // 10% into the next window: 90% of the previous 10 still count
      expect(g.allow('192.0.2.1')).to.equal(true); // 1 + 9 = 10
      expect(g.allow('192.0.2.1')).to.equal(false);
    });

    it('a steady rate under the limit is never blocked', () => {
      const g = guard();
      for (let i = 0; i < 1000; i++) {
        now += 125; // 8 per second
        expect(g.allow('192.0.2.1')).to.equal(true);
      }
    });

    it('counts requests only, but drops everything from a blocked source', () => {
      const g = guard({ limit: 1 });
      for (let i = 0; i < 50; i++) expect(g.allow('192.0.2.1', false)).to.equal(true);
      expect(g.allow('192.0.2.1')).to.equal(true);
      expect(g.allow('192.0.2.1')).to.equal(false);
      expect(g.allow('192.0.2.1', false)).to.equal(false);
      expect(countsAsRequest(Buffer.from('SIP/2.0 200 OK\r\n'))).to.equal(false);
      expect(countsAsRequest(Buffer.from('\r\n\r\n'))).to.equal(false);
      expect(countsAsRequest(Buffer.from('OPTIONS sip:x SIP/2.0\r\n'))).to.equal(true);
      expect(countsAsRequest(Buffer.from([0xff, 0, 1, 2, 3]))).to.equal(true);
    });

    it('never limits exempt sources; block() blocks at once; memory is bounded by maxSources', () => {
      const g = guard({ exempt: ['192.0.2.9'], maxSources: 100 });
      for (let i = 0; i < 100; i++) expect(g.allow('192.0.2.9')).to.equal(true);
      g.block('192.0.2.7');
      expect(g.allow('192.0.2.7', false)).to.equal(false);
      for (let i = 0; i < 10_000; i++) g.allow(`10.0.${i >> 8}.${i & 255}`);
      expect(g.trackedSources).to.be.at.most(100);
    });

    it('recognises scanners by User-Agent, case-insensitively', () => {
      const isScanner = scannerMatcher();
      for (const ua of ['friendly-scanner', 'sipvicious', 'SIPVicious 0.3.4', 'sipcli/v1.8', 'VaxSIPUserAgent/3.1', 'sundayddr']) expect(isScanner(ua), ua).to.equal(true);
      for (const ua of [undefined, '', 'Linphone/5.2', 'Yealink SIP-T46S 66.86.0.15', 'natter']) expect(isScanner(ua), String(ua)).to.equal(false);
    });
  });

  describe('at the proxy', () => {
    let proxy: SipProxy;
    const sockets: Socket[] = [];
    afterEach(async () => {
      for (const s of sockets.splice(0)) s.close();
      await proxy?.close();
    });

    async function client(address: string): Promise<{ socket: Socket; responses: SipResponse[]; send(text: string): void; port: number }> {
      const socket = createSocket('udp4');
      await new Promise<void>((r) => socket.bind(0, address, r));
      sockets.push(socket);
      const responses: SipResponse[] = [];
      socket.on('message', (m) => {
        const msg = parse(m);
        if (msg instanceof SipResponse) responses.push(msg);
      });
      const port = socket.address().port;
      return { socket, responses, port, send: (text) => socket.send(Buffer.from(text), proxy.address.port, proxy.address.address) };
    }

    function options(address: string, port: number, n: number, userAgent?: string): string {
      return (
        `OPTIONS sip:${proxy.address.address}:${proxy.address.port} SIP/2.0\r\nVia: SIP/2.0/UDP ${address}:${port};branch=z9hG4bKf${n}x${Math.random().toString(36).slice(2)};rport\r\n` +
        `Max-Forwards: 70\r\nFrom: <sip:x@${address}>;tag=${n}\r\nTo: <sip:${proxy.address.address}>\r\nCall-ID: flood-${n}-${Math.random()}\r\nCSeq: 1 OPTIONS\r\n` +
        (userAgent !== undefined ? `User-Agent: ${userAgent}\r\n` : '') +
        'Content-Length: 0\r\n\r\n'
      );
    }

    it('blocks a flooding source (its datagrams never reach the parser) while others are served', async () => {
      ({ proxy } = await startTestProxy({ floodGuard: { limit: 20, windowMs: 1000, blockMs: 800 } }));
      const attacker = await client('127.0.0.5');
      const user = await client('127.0.0.1');
      const parsedBefore = proxy.transport.counters.requests;
      // in bursts of 25, so that the kernel's socket buffer (not the proxy) never drops any
      for (let i = 0; i < 200; i++) {
        attacker.send(options('127.0.0.5', attacker.port, i));
        if (i % 25 === 24) await new Promise((r) => setTimeout(r, 5));
      }
      // garbage from the blocked source is not even looked at
      for (let i = 0; i < 50; i++) attacker.send('\u0000garbage that would be a parse error');
      await eventually(() => proxy.transport.counters.received === 250, 3000, 'every datagram received');
      user.send(options('127.0.0.1', user.port, 1000));
      await eventually(() => user.responses.length === 1, 3000, 'the other source answered');
      await new Promise((r) => setTimeout(r, 200));
      expect(attacker.responses.length).to.be.at.most(20);
      expect(proxy.transport.counters.requests - parsedBefore).to.be.at.most(21);
      expect(proxy.transport.counters.parseErrors).to.equal(0);
      const { security } = await proxy.stats();
      expect(security.floodBlocks).to.equal(1);
      expect(security.floodDropped).to.be.at.least(229);
      expect(security.blockedSources).to.equal(1);
      // the block is temporary
      await new Promise((r) => setTimeout(r, 900));
      const before = attacker.responses.length;
      attacker.send(options('127.0.0.5', attacker.port, 5000));
      await eventually(() => attacker.responses.length === before + 1, 3000, 'answered after the block');
    });

    it('drops scanner traffic without an answer or a transaction, and blocks the scanner\'s source', async () => {
      ({ proxy } = await startTestProxy({ floodGuard: { limit: 100, blockMs: 60_000 }, dropScanners: true }));
      const scanner = await client('127.0.0.6');
      scanner.send(options('127.0.0.6', scanner.port, 1, 'friendly-scanner'));
      await eventually(async () => (await proxy.stats()).security.scannersDropped === 1, 3000, 'scanner dropped');
      scanner.send(options('127.0.0.6', scanner.port, 2, 'Linphone'));
      await new Promise((r) => setTimeout(r, 300));
      expect(scanner.responses).to.have.length(0);
      expect(proxy.layer.counters.serverTransactions).to.equal(0);
      const { security } = await proxy.stats();
      expect(security).to.include({ scannersDropped: 1, floodBlocks: 1, floodDropped: 1 });
    });

    it('lets scanners through when not asked to drop them', async () => {
      ({ proxy } = await startTestProxy());
      const scanner = await client('127.0.0.6');
      scanner.send(options('127.0.0.6', scanner.port, 1, 'friendly-scanner'));
      await eventually(() => scanner.responses.length === 1, 3000, 'answered');
    });
  });
});
