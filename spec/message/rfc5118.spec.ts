/**
 * RFC 5118, SIP Torture Test Messages for IPv6, run against the message layer.
 *
 * The fixtures (spec/fixtures/rfc5118/) are the RFC's messages in wire form: CRLF line ends,
 * a closed header section, and Content-Length equal to the body actually carried (the RFC prints
 * values that match neither its LF nor a CRLF body; MANIFEST.json records both). Hosts, Via
 * sent-by and Via received must come out bare: an IPv6 address without its brackets.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { parse, SipParseError, SipRequest } from '../../lib/index.js';
import { tortureFixtures } from '../support/torture-fixtures.js';

interface ManifestEntry {
  name: string;
  file: string;
  size: number;
  sha256: string;
}
const { manifest, load, request } = tortureFixtures<ManifestEntry>('rfc5118');

/** The parsed Content-Length must describe the body that arrived (the fixture's framing is exact). */
function framed(m: SipRequest, length: number): void {
  expect(m.contentLength).to.equal(length);
  expect(m.body.length).to.equal(length);
}

describe('RFC 5118 SIP torture test messages for IPv6 (message layer)', () => {
  it('the fixtures are the wire-form bytes recorded in MANIFEST.json, CRLF-terminated', () => {
    expect(manifest.messages).to.have.length(12);
    for (const m of manifest.messages) {
      const bytes = load(m.name);
      expect(bytes.length, `${m.file} size`).to.equal(m.size);
      expect(createHash('sha256').update(bytes).digest('hex'), `${m.file} sha256`).to.equal(m.sha256);
      expect(/(?<!\r)\n/.test(bytes.toString('latin1')), `${m.file} has no bare LF`).to.equal(false);
    }
  });

  it('4.1 ipv6-good: IPv6 references in the Request-URI, Via and Contact are well formed and read as bare addresses', () => {
    const m = request('ipv6-good');
    expect(m.method).to.equal('REGISTER');
    expect(m.uri.user).to.equal(undefined);
    expect(m.uri.host).to.equal('2001:db8::10');
    expect(m.uri.port).to.equal(undefined);
    expect(String(m.uri), 'serialized with the brackets again').to.equal('sip:[2001:db8::10]');
    expect(m.via).to.have.length(1);
    expect(m.via[0]!.transport).to.equal('UDP');
    expect(m.via[0]!.host).to.equal('2001:db8::9:1');
    expect(m.via[0]!.port).to.equal(undefined);
    expect(m.via[0]!.branch).to.equal('z9hG4bKas3-111');
    expect(m.contact).to.have.length(1);
    expect(m.contact[0]!.displayName).to.equal('Caller');
    expect(m.contact[0]!.uri.user).to.equal('caller');
    expect(m.contact[0]!.uri.host).to.equal('2001:db8::1');
    expect(m.cseq).to.deep.equal({ seq: 98176, method: 'REGISTER' });
    framed(m, 0);
  });

  it('4.2 ipv6-bad: an IPv6 address in the Request-URI without the mandated [ and ] is answered 400 Bad Request', () => {
    let error: unknown;
    try {
      parse(load('ipv6-bad'));
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(SipParseError);
    const e = error as SipParseError;
    expect(e.code).to.equal('ERR_SIP_PARSE');
    expect(e.status).to.equal(400);
    expect(e.isRequest).to.equal(true);
    // the headers needed to build the 400 were readable
    expect(e.headers.via).to.deep.equal(['SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111']);
    expect(e.headers.callId).to.equal('SSG9559905523997077@hlau_4100');
  });

  it('4.3 port-ambiguous: [2001:db8::10:5070] is well formed from a parsing perspective: the whole of it is the address and there is no port', () => {
    const m = request('port-ambiguous');
    expect(m.uri.host).to.equal('2001:db8::10:5070');
    expect(m.uri.port).to.equal(undefined);
    expect(m.via[0]!.host).to.equal('2001:db8::9:1');
    expect(m.contact[0]!.uri.host).to.equal('2001:db8::1');
  });

  it('4.4 port-unambiguous: in [2001:db8::10]:5070 the address ends at ] and the port is 5070', () => {
    const m = request('port-unambiguous');
    expect(m.uri.host).to.equal('2001:db8::10');
    expect(m.uri.port).to.equal(5070);
    expect(String(m.uri)).to.equal('sip:[2001:db8::10]:5070');
  });

  it('4.5 via-received-param-with-delim: a received parameter holding a bracketed IPv6 address is parsed successfully', () => {
    const m = request('via-received-param-with-delim');
    expect(m.method).to.equal('BYE');
    expect(m.uri.host).to.equal('2001:db8::10');
    expect(m.to.tag).to.equal('bd76ya');
    expect(m.via).to.have.length(1);
    const via = m.via[0]!;
    expect(via.host).to.equal('2001:db8::9:1');
    expect(via.received, 'received read as the bare address').to.equal('2001:db8::9:255');
    expect(via.branch).to.equal('z9hG4bKas3-111');
    expect(m.cseq).to.deep.equal({ seq: 321, method: 'BYE' });
  });

  it('4.5 via-received-param-no-delim: a received parameter holding an IPv6 address without [ ] is parsed successfully', () => {
    const m = request('via-received-param-no-delim');
    expect(m.method).to.equal('OPTIONS');
    const via = m.via[0]!;
    expect(via.host).to.equal('2001:db8::9:1');
    expect(via.received).to.equal('2001:db8::9:255');
    expect(via.branch, 'the branch after an unbracketed received is still its own parameter').to.equal('z9hG4bKas3');
    expect(m.contact[0]!.uri.host).to.equal('2001:db8::9:1');
    expect(m.callId).to.equal('SSG95523997077@hlau_4100');
  });

  it('4.6 ipv6-in-sdp: a valid INVITE whose SDP carries IPv6 addresses without [ ] keeps the body intact', () => {
    const m = request('ipv6-in-sdp');
    expect(m.method).to.equal('INVITE');
    expect(m.uri.user).to.equal('user');
    expect(m.uri.host).to.equal('2001:db8::10');
    expect(m.to.uri.host).to.equal('2001:db8::10');
    expect(m.via[0]!.host).to.equal('2001:db8::20');
    expect(m.contact[0]!.uri.host).to.equal('2001:db8::20');
    expect(m.contentType).to.equal('application/sdp');
    framed(m, 251);
    const sdp = m.body.toString('latin1');
    expect(sdp).to.contain('\r\no=assistant 971731711378798081 0 IN IP6 2001:db8::20\r\n');
    expect(sdp).to.contain('\r\nc=IN IP6 2001:db8::20\r\n');
    expect(sdp.endsWith('a=rtpmap:107 H263-1998/90000\r\n')).to.equal(true);
  });

  it('4.7 mult-ip-in-header: a Via list mixing IPv6 references (one with a port) and IPv4 addresses is read value by value', () => {
    const m = request('mult-ip-in-header');
    expect(m.method).to.equal('BYE');
    expect(m.uri.host).to.equal('host.example.net');
    expect(m.via.map((v) => [v.transport, v.host, v.port, v.branch, v.received])).to.deep.equal([
      ['UDP', '2001:db8::9:1', 6050, 'z9hG4bKas3-111', undefined],
      ['UDP', '192.0.2.1', undefined, 'z9hG4bKjhja8781hjuaij65144', undefined],
      ['TCP', '2001:db8::9:255', undefined, 'z9hG4bK451jj', '192.0.2.200'],
    ]);
    expect(m.to.tag).to.equal('9817--94');
    framed(m, 0);
  });

  it('4.8 mult-ip-in-sdp: a valid INVITE whose SDP has one IPv4 and one IPv6 media connection keeps both c= lines', () => {
    const m = request('mult-ip-in-sdp');
    expect(m.uri.host).to.equal('2001:db8::10');
    expect(m.contact[0]!.uri.host).to.equal('2001:db8::9:1');
    framed(m, 189);
    const sdp = m.body.toString('latin1');
    expect(sdp).to.contain('\r\nm=audio 22334 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n');
    expect(sdp).to.contain('\r\nm=video 6024 RTP/AVP 107\r\nc=IN IP6 2001:db8::1\r\n');
  });

  it('4.9 ipv4-mapped-ipv6: IPv4-mapped IPv6 addresses in two Vias (one with a port after ]) and the Contact are parsed successfully', () => {
    const m = request('ipv4-mapped-ipv6');
    expect(m.uri.host).to.equal('example.com');
    expect(m.via.map((v) => [v.host, v.port, v.branch])).to.deep.equal([
      ['::ffff:192.0.2.10', 19823, 'z9hG4bKbh19'],
      ['::ffff:192.0.2.2', undefined, 'z9hG4bKas3-111'],
    ]);
    expect(m.contact[0]!.displayName).to.equal('T. desk phone');
    expect(m.contact[0]!.uri.user).to.equal('ted');
    expect(m.contact[0]!.uri.host).to.equal('::ffff:192.0.2.2');
    framed(m, 245);
    expect(m.body.toString('latin1')).to.contain('\r\nc=IN IP6 ::ffff:192.0.2.2\r\n');
  });

  it('4.10 ipv6-bug-abnf-3-colons: the extra colon that RFC 3261 ABNF allows ([2001:db8:::192.0.2.1]) must be tolerated', () => {
    const m = request('ipv6-bug-abnf-3-colons');
    expect(m.method).to.equal('OPTIONS');
    // read as written, or with the extra colon dropped (the RFC lets a proxy re-serialize without it)
    expect(['2001:db8:::192.0.2.1', '2001:db8::192.0.2.1']).to.include(m.uri.host);
    expect(['2001:db8:::192.0.2.1', '2001:db8::192.0.2.1']).to.include(m.to.uri.host);
    expect(m.uri.user).to.equal('user');
    expect(m.uri.port).to.equal(undefined);
    expect(m.via[0]!.host).to.equal('lab1.east.example.com');
  });

  it('4.10 ipv6-correct-abnf-2-colons: the correct two-colon form [2001:db8::192.0.2.1] parses', () => {
    const m = request('ipv6-correct-abnf-2-colons');
    expect(m.uri.user).to.equal('user');
    expect(m.uri.host).to.equal('2001:db8::192.0.2.1');
    expect(m.uri.port).to.equal(undefined);
    expect(m.to.uri.host).to.equal('2001:db8::192.0.2.1');
    expect(m.cseq).to.deep.equal({ seq: 689, method: 'OPTIONS' });
    framed(m, 0);
  });
});
