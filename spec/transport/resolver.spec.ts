/**
 * Destinations: RFC 3261 §8.1.2 / §18.1.1 with RFC 3263 reduced (requests), §18.2.2 with RFC 3581
 * (responses); and the raw Via helpers used to stamp and to answer unparseable requests.
 */
import { expect } from 'chai';
import { parse, parseUri } from '../../lib/transport/message-api.js';
import type { SipRequest } from '../../lib/transport/message-api.js';
import { TransportError } from '../../lib/errors.js';
import { requestDestination, requestTarget, resolveUri, responseDestination } from '../../lib/transport/resolver.js';
import type { LookupFunction } from '../../lib/transport/resolver.js';
import { normalizeAddress, parseViaText, splitList, stampViaText } from '../../lib/transport/via-text.js';
import { requestText } from '../support/fake-messages.js';

const lookup: LookupFunction = async (name) => {
  if (name === 'proxy.example.com') return '203.0.113.20';
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

describe('transport/resolver', () => {
  describe('resolveUri (§18.1.1, RFC 3263 reduced)', () => {
    it('a numeric host is used as is, synchronously; the port defaults to 5060', () => {
      expect(resolveUri(parseUri('sip:bob@192.0.2.4'))).to.deep.equal({ address: '192.0.2.4', port: 5060 });
      expect(resolveUri(parseUri('sip:bob@192.0.2.4:5080'))).to.deep.equal({ address: '192.0.2.4', port: 5080 });
      expect(resolveUri(parseUri('sip:bob@[2001:db8::4]:5080'))).to.deep.equal({ address: '2001:db8::4', port: 5080 });
    });

    it('a name goes through dns.lookup (injectable)', async () => {
      expect(await resolveUri(parseUri('sip:proxy.example.com;lr'), { lookup })).to.deep.equal({ address: '203.0.113.20', port: 5060 });
    });

    it('a name that does not resolve rejects with TransportError', async () => {
      let err: unknown;
      await Promise.resolve(resolveUri(parseUri('sip:nowhere.invalid'), { lookup })).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(TransportError);
    });

    it('the maddr parameter names the host to send to', () => {
      expect(resolveUri(parseUri('sip:bob@example.com:5070;maddr=192.0.2.9'))).to.deep.equal({ address: '192.0.2.9', port: 5070 });
    });
  });

  describe('requestTarget (§8.1.2)', () => {
    it('the first Route when it is a loose router, else the Request-URI', () => {
      const loose = parse(requestText({ method: 'OPTIONS', uri: 'sip:bob@192.0.2.4', headers: ['Route: <sip:192.0.2.50:5090;lr>', 'Route: <sip:192.0.2.51;lr>'] })) as SipRequest;
      expect(requestDestination(loose)).to.deep.equal({ address: '192.0.2.50', port: 5090 });
      const strict = parse(requestText({ method: 'OPTIONS', uri: 'sip:192.0.2.60', headers: ['Route: <sip:192.0.2.51>'] })) as SipRequest;
      expect(requestTarget(strict).host).to.equal('192.0.2.60');
      const none = parse(requestText({ method: 'OPTIONS', uri: 'sip:bob@192.0.2.4:5099' })) as SipRequest;
      expect(requestDestination(none)).to.deep.equal({ address: '192.0.2.4', port: 5099 });
    });
  });

  describe('responseDestination (§18.2.2, RFC 3581 §4)', () => {
    const via = (text: string) => parseViaText(text)!;

    it('received and rport: to the received address and the rport port', () => {
      expect(responseDestination(via('SIP/2.0/UDP 10.0.0.5:5062;rport=40001;received=198.51.100.7'))).to.deep.equal({ address: '198.51.100.7', port: 40001 });
    });
    it('received only: the received address and the sent-by port, or 5060', () => {
      expect(responseDestination(via('SIP/2.0/UDP 10.0.0.5:5062;received=198.51.100.7'))).to.deep.equal({ address: '198.51.100.7', port: 5062 });
      expect(responseDestination(via('SIP/2.0/UDP 10.0.0.5;received=198.51.100.7'))).to.deep.equal({ address: '198.51.100.7', port: 5060 });
    });
    it('maddr: the address listed there, with the sent-by port', () => {
      expect(responseDestination(via('SIP/2.0/UDP 10.0.0.5:5062;maddr=192.0.2.77;received=198.51.100.7;rport=1'))).to.deep.equal({ address: '192.0.2.77', port: 5062 });
    });
    it('not receiver-tagged: sent-by (names looked up)', async () => {
      expect(responseDestination(via('SIP/2.0/UDP 192.0.2.8:5064'))).to.deep.equal({ address: '192.0.2.8', port: 5064 });
      expect(await responseDestination(via('SIP/2.0/UDP proxy.example.com'), { lookup })).to.deep.equal({ address: '203.0.113.20', port: 5060 });
    });
    it('works with the message layer Via', () => {
      const r = parse(requestText({ method: 'OPTIONS', via: 'SIP/2.0/UDP 10.0.0.5:5062;rport=40001;received=198.51.100.7;branch=z9hG4bKq' })) as SipRequest;
      expect(responseDestination(r.via[0]!)).to.deep.equal({ address: '198.51.100.7', port: 40001 });
    });
  });
});

describe('transport/via-text', () => {
  it('parses sent-by (IPv6 references too) and the routing parameters', () => {
    expect(parseViaText('SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKx;rport;maddr=[2001:db8::1]')).to.deep.equal({
      transport: 'UDP',
      host: '2001:db8::9',
      port: 5070,
      branch: 'z9hG4bKx',
      rport: null,
      maddr: '2001:db8::1',
    });
    expect(parseViaText('SIP / 2.0 / udp host.example.com ; received=192.0.2.1')).to.include({ host: 'host.example.com', received: '192.0.2.1' });
    expect(parseViaText('garbage')).to.equal(undefined);
    expect(parseViaText('SIP/2.0/UDP 2001:db8::1;branch=x')).to.equal(undefined);
  });

  it('stamps received/rport keeping every other byte', () => {
    expect(stampViaText('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport;x="a;b"', '198.51.100.1', 4000)).to.equal(
      'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=4000;x="a;b";received=198.51.100.1',
    );
    expect(stampViaText('SIP/2.0/UDP h;received=1.1.1.1;branch=z9hG4bK1', '2.2.2.2', undefined)).to.equal('SIP/2.0/UDP h;branch=z9hG4bK1;received=2.2.2.2');
  });

  it('splits lists outside quotes and angle brackets', () => {
    expect(splitList('a;x="1,2", b, <sip:c,d>')).to.deep.equal(['a;x="1,2"', 'b', '<sip:c,d>']);
  });

  it('normalizes addresses for comparison (IPv6 forms, IPv4-mapped, zone)', () => {
    expect(normalizeAddress('2001:DB8:0:0::1')).to.equal('2001:db8::1');
    expect(normalizeAddress('::ffff:192.0.2.1')).to.equal('192.0.2.1');
    expect(normalizeAddress('fe80::1%eth0')).to.equal('fe80::1');
    expect(normalizeAddress('[::1]')).to.equal('::1');
  });
});
