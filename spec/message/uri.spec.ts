import { expect } from 'chai';
import { parseUri, uriEquals, SipParseError, Uri } from '../../lib/index.js';

describe('message/uri (RFC 3261 §19.1)', () => {
  it('reads user, password, host, port, params and headers', () => {
    const u = parseUri('sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent');
    expect(u.scheme).to.equal('sips');
    expect(u.user).to.equal('alice');
    expect(u.password).to.equal('secret');
    expect(u.host).to.equal('atlanta.example.com');
    expect(u.port).to.equal(5061);
    expect(u.params).to.deep.equal({ transport: 'tcp', lr: null, maddr: '239.255.255.1' });
    expect(u.headers).to.deep.equal({ subject: 'project x', priority: 'urgent' });
    expect(u.transport).to.equal('tcp');
  });
  it('decodes escapes in the user part', () => {
    expect(parseUri('sip:sips%3Auser%40example.com@example.net').user).to.equal('sips:user@example.com');
  });
  it('keeps an IPv6 host bare and writes it back in brackets', () => {
    const u = parseUri('sip:[2001:db8::10]:5070');
    expect(u.host).to.equal('2001:db8::10');
    expect(u.port).to.equal(5070);
    expect(u.toString()).to.equal('sip:[2001:db8::10]:5070');
  });
  it('reads tel URIs and keeps unknown schemes opaque', () => {
    const t = parseUri('tel:+1-201-555-0123;phone-context=example.com');
    expect(t.scheme).to.equal('tel');
    expect(t.user).to.equal('+1-201-555-0123');
    expect(t.params['phone-context']).to.equal('example.com');
    const o = parseUri('urn:service:sos');
    expect(o.scheme).to.equal('urn');
    expect(o.opaque).to.equal('service:sos');
    expect(o.toString()).to.equal('urn:service:sos');
  });
  it('rejects malformed URIs with SipParseError', () => {
    for (const bad of ['sip:', 'sip:user@', 'sip:host:99999', 'sip:[::1', 'sip:a b', 'nocolon', 'sip:%zz@host', 'sip:1.2.3.999']) {
      expect(() => parseUri(bad), bad).to.throw(SipParseError);
    }
  });
  it('round-trips through toString and clone', () => {
    const text = 'sip:bob@biloxi.example.com:5080;transport=udp;lr';
    expect(parseUri(text).toString()).to.equal(text);
    const c = parseUri(text).clone();
    c.port = undefined;
    expect(c.toString()).to.equal('sip:bob@biloxi.example.com;transport=udp;lr');
    expect(new Uri({ user: 'a b', host: 'h' }).toString()).to.equal('sip:a%20b@h');
  });

  describe('comparison (§19.1.4), with the RFC examples', () => {
    const equal: Array<[string, string]> = [
      ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
      ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
      ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
      ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
      ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
      ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
    ];
    const different: Array<[string, string]> = [
      ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
      ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
      ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
      ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
      ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
      ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
      ['sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off'],
    ];
    for (const [a, b] of equal) it(`${a} equals ${b}`, () => expect(uriEquals(parseUri(a), parseUri(b))).to.equal(true));
    for (const [a, b] of different) it(`${a} differs from ${b}`, () => expect(uriEquals(parseUri(a), parseUri(b))).to.equal(false));
  });
});
