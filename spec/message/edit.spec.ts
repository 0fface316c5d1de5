import { expect } from 'chai';
import { parse, serialize, addVia, removeTopVia, stampReceived, addRecordRoute, removeTopRoute, parseUri, Via, makeResponse, SipRequest } from '../../lib/index.js';

const INVITE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKa;rport, SIP/2.0/UDP p.example.com;branch=z9hG4bKb',
  'Max-Forwards: 70',
  'Route: <sip:proxy.example.com;lr>, <sip:next.example.com;lr>',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710',
  'CSeq: 314159 INVITE',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

describe('message/edit', () => {
  it('stamps received and rport on the top Via (RFC 3261 §18.2.1, RFC 3581 §4)', () => {
    const m = parse(INVITE);
    expect(stampReceived(m, '203.0.113.7', 40123)).to.equal(true);
    expect(m.via[0]!.received).to.equal('203.0.113.7');
    expect(m.via[0]!.rport).to.equal(40123);
    expect(m.via[1]!.host).to.equal('p.example.com');
    const out = serialize(m).toString();
    expect(out).to.include('Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKa;rport=40123;received=203.0.113.7\r\n');
    expect(out).to.include('Via: SIP/2.0/UDP p.example.com;branch=z9hG4bKb\r\n');
  });
  it('adds no received when the host matches and no rport was asked', () => {
    const m = parse(INVITE.replace(';rport', ''));
    expect(stampReceived(m, '192.168.1.10', 5060)).to.equal(false);
    expect(serialize(m).toString()).to.equal(INVITE.replace(';rport', ''));
  });
  it('pushes and pops Vias keeping the rest byte-exact', () => {
    const m = parse(INVITE);
    addVia(m, new Via({ host: '198.51.100.1', port: 5060, params: { branch: 'z9hG4bKnew' } }));
    expect(m.via.map((v) => v.branch)).to.deep.equal(['z9hG4bKnew', 'z9hG4bKa', 'z9hG4bKb']);
    expect(removeTopVia(m)!.branch).to.equal('z9hG4bKnew');
    expect(removeTopVia(m)!.branch).to.equal('z9hG4bKa');
    expect(m.via.map((v) => v.branch)).to.deep.equal(['z9hG4bKb']);
  });
  it('adds Record-Route with lr and removes the top Route', () => {
    const m = parse(INVITE);
    addRecordRoute(m, parseUri('sip:198.51.100.1:5060'));
    expect(m.get('record-route')).to.equal('<sip:198.51.100.1:5060;lr>');
    expect(removeTopRoute(m)!.uri.host).to.equal('proxy.example.com');
    expect(m.route.map((r) => r.uri.host)).to.deep.equal(['next.example.com']);
  });
  it('builds a response per §8.2.6 with a To tag', () => {
    const req = parse(INVITE) as SipRequest;
    const res = makeResponse(req, 486);
    expect(res.status).to.equal(486);
    expect(res.reason).to.equal('Busy Here');
    expect(res.via).to.have.length(2);
    expect(res.to.tag).to.be.a('string').and.have.length.greaterThan(3);
    expect(res.from.tag).to.equal('1928301774');
    expect(res.callId).to.equal('a84b4c76e66710');
    expect(res.cseq).to.deep.equal({ seq: 314159, method: 'INVITE' });
    expect(makeResponse(req, 100).to.tag).to.equal(undefined);
  });
});
