import { expect } from 'chai';
import {
  BUILTIN_NAT_TESTS,
  DEFAULT_NAT_TESTS,
  DefaultNatDetector,
  InvalidArgumentError,
  NatFlag,
  contactPortTest,
  contactPrivateTest,
  contactSourceTest,
  natMask,
  natTestsFromMask,
  sdpConnections,
  sdpPrivateTest,
  sdpSourceTest,
  sourcePrivateTest,
  viaPortTest,
  viaPrivateTest,
  viaSentByTest,
  websocketTest,
} from '../../lib/index.js';
import type { NatDetector, NatTest, SipRequest } from '../../lib/index.js';
import { LAN_SOURCE, NAT_SOURCE, SDP_PRIVATE, invite } from './messages.js';

const SDP_PUBLIC = SDP_PRIVATE.replaceAll('192.168.1.10', '203.0.113.7');

describe('nat/tests', () => {
  describe('via-sent-by (claims 1 and 7: source IP vs the IP the INVITE names; Kamailio 2)', () => {
    it('fires when the source address differs from the top Via sent-by host, naming both', () => {
      const r = viaSentByTest(invite(), NAT_SOURCE);
      expect(r).to.deep.equal({ test: 'via-sent-by', fired: true, expected: '192.168.1.10', actual: '203.0.113.7', flag: 2 });
    });
    it('does not fire when the packet comes from the sent-by address', () => {
      expect(viaSentByTest(invite(), LAN_SOURCE)!.fired).to.equal(false);
    });
    it('compares IPv6 addresses in canonical form (2001:db8::1 == 2001:0db8:0:0::1)', () => {
      const m = invite({ via: 'SIP/2.0/UDP [2001:0db8:0:0::1]:5060;branch=z9hG4bK1' });
      expect(viaSentByTest(m, { address: '2001:db8::1', port: 5060 })!.fired).to.equal(false);
      expect(viaSentByTest(m, { address: '2001:db8::2', port: 5060 })).to.include({ fired: true, expected: '2001:db8::1', actual: '2001:db8::2' });
    });
    it('treats an IPv4-mapped source from a dual-stack socket as its IPv4 address', () => {
      expect(viaSentByTest(invite(), { address: '::ffff:192.168.1.10', port: 5060 })!.fired).to.equal(false);
    });
    it('does not compare a sent-by host name with the source unless nameDiffers is set', () => {
      const m = invite({ via: 'SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1' });
      expect(viaSentByTest(m, NAT_SOURCE)).to.include({ fired: false, expected: 'pc33.atlanta.example.com' });
      expect(viaSentByTest(m, NAT_SOURCE, { nameDiffers: true })).to.include({ fired: true, expected: 'pc33.atlanta.example.com' });
    });
  });

  describe('via-port (Kamailio 16)', () => {
    it('fires when the source port differs from the top Via port', () => {
      expect(viaPortTest(invite(), NAT_SOURCE)).to.include({ fired: true, expected: '192.168.1.10:5060', actual: '203.0.113.7:40123', flag: 16 });
    });
    it('uses 5060 for a sent-by without a port (RFC 3261 §18.2.2) and 5061 for TLS', () => {
      const m = invite({ via: 'SIP/2.0/UDP 203.0.113.7;branch=z9hG4bK1' });
      expect(viaPortTest(m, { address: '203.0.113.7', port: 5060 })!.fired).to.equal(false);
      expect(viaPortTest(m, { address: '203.0.113.7', port: 5062 })!.fired).to.equal(true);
      const tls = invite({ via: 'SIP/2.0/TLS 203.0.113.7;branch=z9hG4bK1' });
      expect(viaPortTest(tls, { address: '203.0.113.7', port: 5061 })!.fired).to.equal(false);
    });
    it('fires alone for a NAT that keeps the address but maps the port', () => {
      const m = invite({ via: 'SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bK1' });
      expect(viaSentByTest(m, NAT_SOURCE)!.fired).to.equal(false);
      expect(viaPortTest(m, NAT_SOURCE)!.fired).to.equal(true);
    });
  });

  describe('via-private (Kamailio 4)', () => {
    it('fires for a private sent-by and names its class', () => {
      expect(viaPrivateTest(invite())).to.include({ fired: true, expected: '192.168.1.10', actual: 'private' });
    });
    it('does not fire for a public sent-by and says nothing about a name', () => {
      expect(viaPrivateTest(invite({ via: 'SIP/2.0/UDP 198.51.100.4;branch=z9hG4bK1' }))!.fired).to.equal(false);
      expect(viaPrivateTest(invite({ via: 'SIP/2.0/UDP host.example.com;branch=z9hG4bK1' }))).to.equal(undefined);
    });
  });

  describe('contact-private (Kamailio 1)', () => {
    it('fires for a Contact on an RFC 1918, RFC 6598 or IPv6 ULA address', () => {
      expect(contactPrivateTest(invite())).to.include({ fired: true, expected: '192.168.1.10', actual: 'private' });
      expect(contactPrivateTest(invite({ contact: '<sip:alice@100.70.1.2:5060>' }))).to.include({ fired: true, actual: 'shared' });
      expect(contactPrivateTest(invite({ contact: '<sip:alice@[fd00::10]:5060>' }))).to.include({ fired: true, actual: 'unique-local' });
    });
    it('checks every Contact, not only the first', () => {
      const r = contactPrivateTest(invite({ contact: '<sip:alice@198.51.100.4>, <sip:alice@10.1.2.3>' }));
      expect(r).to.include({ fired: true, expected: '10.1.2.3' });
    });
    it('does not fire for a public Contact, and has nothing to compare without one or for Contact: *', () => {
      expect(contactPrivateTest(invite({ contact: '<sip:alice@198.51.100.4>' }))!.fired).to.equal(false);
      expect(contactPrivateTest(invite({ contact: null }))).to.equal(undefined);
      expect(contactPrivateTest(invite({ contact: '*', method: 'REGISTER' }))).to.equal(undefined);
    });
  });

  describe('contact-source (no Kamailio flag)', () => {
    it('fires when the Contact host differs from the source address', () => {
      expect(contactSourceTest(invite(), NAT_SOURCE)).to.include({ fired: true, expected: '192.168.1.10', actual: '203.0.113.7' });
      expect(contactSourceTest(invite(), LAN_SOURCE)!.fired).to.equal(false);
    });
    it('leaves a Contact host name alone unless nameDiffers is set', () => {
      const m = invite({ contact: '<sip:alice@pc33.example.com>' });
      expect(contactSourceTest(m, NAT_SOURCE)!.fired).to.equal(false);
      expect(contactSourceTest(m, NAT_SOURCE, { nameDiffers: true })!.fired).to.equal(true);
    });
  });

  describe('contact-port (Kamailio 128)', () => {
    it('fires when the source port differs from the Contact port (5060 when absent)', () => {
      expect(contactPortTest(invite(), NAT_SOURCE)).to.include({ fired: true, expected: '192.168.1.10:5060', actual: '203.0.113.7:40123', flag: 128 });
      expect(contactPortTest(invite({ contact: '<sip:alice@192.168.1.10>' }), LAN_SOURCE)!.fired).to.equal(false);
    });
    it('uses 5061 for a sips Contact without a port', () => {
      expect(contactPortTest(invite({ contact: '<sips:alice@192.0.2.5>' }), { address: '192.0.2.5', port: 5061 })!.fired).to.equal(false);
    });
  });

  describe('sdp-private (Kamailio 8)', () => {
    it('fires for a private session-level c= address', () => {
      expect(sdpPrivateTest(invite())).to.include({ fired: true, expected: '192.168.1.10', actual: 'private', detail: 'c= at session' });
    });
    it('fires for a private media-level c= address under a public session-level one', () => {
      const sdp = SDP_PUBLIC.replace('a=rtpmap:0 PCMU/8000', 'c=IN IP4 10.0.0.5\r\na=rtpmap:0 PCMU/8000');
      expect(sdpPrivateTest(invite({ sdp }))).to.include({ fired: true, expected: '10.0.0.5', detail: 'c= at media 0 (audio)' });
    });
    it('does not fire for a public c=, nor for the hold address 0.0.0.0 (RFC 3264 §8.4)', () => {
      expect(sdpPrivateTest(invite({ sdp: SDP_PUBLIC }))!.fired).to.equal(false);
      expect(sdpPrivateTest(invite({ sdp: SDP_PRIVATE.replace('c=IN IP4 192.168.1.10', 'c=IN IP4 0.0.0.0') }))).to.equal(undefined);
    });
    it('reads no SDP from a body that is not application/sdp, or from no body', () => {
      expect(sdpPrivateTest(invite({ contentType: 'text/plain' }))).to.equal(undefined);
      expect(sdpPrivateTest(invite({ sdp: null }))).to.equal(undefined);
      expect(sdpConnections(invite({ contentType: 'application/SDP; charset=utf-8' }))).to.have.length(1);
    });
    it('handles IPv6 c= lines (RFC 4566 IP6)', () => {
      const sdp = SDP_PRIVATE.replace('c=IN IP4 192.168.1.10', 'c=IN IP6 FD00:0:0::7');
      expect(sdpPrivateTest(invite({ sdp }))).to.include({ fired: true, expected: 'fd00::7', actual: 'unique-local' });
    });
  });

  describe('sdp-source (Kamailio 256)', () => {
    it('fires when a c= address differs from the source address', () => {
      expect(sdpSourceTest(invite(), NAT_SOURCE)).to.include({ fired: true, expected: '192.168.1.10', actual: '203.0.113.7' });
      expect(sdpSourceTest(invite({ sdp: SDP_PUBLIC }), NAT_SOURCE)!.fired).to.equal(false);
    });
  });

  describe('source-private (Kamailio 32) and websocket (Kamailio 64)', () => {
    it('fires when the packet itself comes from a private address', () => {
      expect(sourcePrivateTest(invite(), LAN_SOURCE)!.fired).to.equal(true);
      expect(sourcePrivateTest(invite(), NAT_SOURCE)!.fired).to.equal(false);
    });
    it('fires for requests received over WS or WSS only', () => {
      expect(websocketTest(invite(), { ...NAT_SOURCE, transport: 'WSS' })!.fired).to.equal(true);
      expect(websocketTest(invite(), NAT_SOURCE)!.fired).to.equal(false);
    });
  });
});

describe('nat/detector', () => {
  it('by default runs via-sent-by and via-port (mask 18) and says NAT for a NATed INVITE', () => {
    const d = new DefaultNatDetector();
    expect(DEFAULT_NAT_TESTS).to.equal(18);
    expect(d.tests.map((t) => t.name)).to.deep.equal(['via-sent-by', 'via-port']);
    const v = d.detect(invite(), NAT_SOURCE);
    expect(v.natted).to.equal(true);
    expect(v.fired.map((f) => [f.test, f.expected, f.actual])).to.deep.equal([
      ['via-sent-by', '192.168.1.10', '203.0.113.7'],
      ['via-port', '192.168.1.10:5060', '203.0.113.7:40123'],
    ]);
    expect(v.publicAddress).to.deep.equal({ address: '203.0.113.7', port: 40123, transport: 'udp' });
    expect(v.privateAddress).to.deep.equal({ address: '192.168.1.10', port: 5060 });
  });
  it('says no NAT when the source matches what the message names, and then gives no privateAddress', () => {
    const v = new DefaultNatDetector().detect(invite(), LAN_SOURCE);
    expect(v.natted).to.equal(false);
    expect(v.fired).to.deep.equal([]);
    expect(v.results.map((r) => r.test)).to.deep.equal(['via-sent-by', 'via-port']);
    expect(v).to.not.have.property('privateAddress');
  });
  it('runs every selected test rather than stopping at the first that fires, so a LAN phone shows only contact-private', () => {
    const v = new DefaultNatDetector({ tests: 19 }).detect(invite(), LAN_SOURCE);
    expect(v.natted).to.equal(true);
    expect(v.fired.map((f) => f.test)).to.deep.equal(['contact-private']);
    expect(v.results.map((r) => r.test)).to.deep.equal(['contact-private', 'via-sent-by', 'via-port']);
  });
  it('selects tests by Kamailio bitmask with the same numbers as nat_uac_test', () => {
    expect(natTestsFromMask(19).map((t) => t.name)).to.deep.equal(['contact-private', 'via-sent-by', 'via-port']);
    expect(natTestsFromMask(8 | 256).map((t) => t.name)).to.deep.equal(['sdp-private', 'sdp-source']);
    expect(natTestsFromMask(511)).to.have.length(9);
    expect(natMask(['contact-private', 'via-sent-by', 'via-port'])).to.equal(19);
    expect(NatFlag.CONTACT_PORT).to.equal(128);
    expect(() => natTestsFromMask(1024)).to.throw(InvalidArgumentError);
    expect(new DefaultNatDetector({ tests: 19 }).mask).to.equal(19);
  });
  it('selects tests by name, mixing names and masks, and rejects an unknown name', () => {
    const d = new DefaultNatDetector({ tests: ['sdp-private', 2, 'contact-source'] });
    expect(d.tests.map((t) => t.name)).to.deep.equal(['sdp-private', 'via-sent-by', 'contact-source']);
    expect(() => new DefaultNatDetector({ tests: ['via-nope'] })).to.throw(InvalidArgumentError, /unknown NAT test via-nope/);
    const v = d.detect(invite({ via: 'SIP/2.0/UDP 203.0.113.7:40123;branch=z9hG4bK1', contact: '<sip:alice@203.0.113.7:40123>' }), NAT_SOURCE);
    expect(v.fired.map((f) => f.test)).to.deep.equal(['sdp-private']);
  });
  it('every built-in test has a distinct name, and every Kamailio flag from 1 to 256 has a test', () => {
    const names = BUILTIN_NAT_TESTS.map((t) => t.name);
    expect(new Set(names).size).to.equal(names.length);
    expect(BUILTIN_NAT_TESTS.map((t) => t.flag).filter((f) => f !== undefined)).to.deep.equal([1, 2, 4, 8, 16, 32, 64, 128, 256]);
  });
  it('runs a user-supplied test beside the built-in ones and reports what it compared', () => {
    const userAgent: NatTest = {
      name: 'known-nat-router',
      run(request: SipRequest, source) {
        const ua = request.get('user-agent');
        if (ua === undefined) return undefined;
        return { test: 'known-nat-router', fired: /FRITZ!Box/.test(ua), expected: 'a direct client', actual: ua, detail: `from ${source.address}` };
      },
    };
    const d = new DefaultNatDetector({ tests: 2, customTests: [userAgent] });
    const m = invite({ via: 'SIP/2.0/UDP 203.0.113.7:40123;branch=z9hG4bK1' });
    m.append('User-Agent', 'FRITZ!Box 7590');
    const v = d.detect(m, NAT_SOURCE);
    expect(v.fired).to.deep.equal([{ test: 'known-nat-router', fired: true, expected: 'a direct client', actual: 'FRITZ!Box 7590', detail: 'from 203.0.113.7' }]);
    expect(v.privateAddress).to.deep.equal({ address: '203.0.113.7', port: 40123 });
    expect(() => new DefaultNatDetector({ customTests: [{ name: '', run: () => undefined }] })).to.throw(InvalidArgumentError);
  });
  it('a custom test of a built-in name replaces the built-in', () => {
    const never: NatTest = { name: 'via-sent-by', run: () => undefined };
    const d = new DefaultNatDetector({ tests: [2, never] });
    expect(d.tests).to.have.length(1);
    expect(d.detect(invite(), NAT_SOURCE).natted).to.equal(false);
  });
  it('any object with detect() replaces the whole detector', () => {
    const always: NatDetector = {
      detect: (_request, source) => ({ natted: true, fired: [], results: [], publicAddress: { address: source.address, port: source.port, transport: 'udp' } }),
    };
    expect(always.detect(invite(), LAN_SOURCE).natted).to.equal(true);
  });
  it('gives the first IP Contact as privateAddress when the sent-by is a name', () => {
    const d = new DefaultNatDetector({ tests: ['contact-private'] });
    const v = d.detect(invite({ via: 'SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1', contact: '<sip:alice@10.0.0.9:5070>' }), NAT_SOURCE);
    expect(v.privateAddress).to.deep.equal({ address: '10.0.0.9', port: 5070 });
  });
  it('normalizes an IPv4-mapped source in publicAddress', () => {
    const v = new DefaultNatDetector().detect(invite(), { address: '::ffff:203.0.113.7', port: 40123 });
    expect(v.publicAddress).to.deep.equal({ address: '203.0.113.7', port: 40123, transport: 'udp' });
  });
});
