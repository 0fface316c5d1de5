/**
 * The lazy views the parser hands out (built over the text quickValidate checked, with its marks)
 * must read exactly what the full parsers read from the same header text: every message of the
 * bench corpus, the RFC 4475 / RFC 5118 fixtures and a few hand-written shapes, each view read in
 * more than one order (a lazy view may take a different path depending on what was read first).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { expect } from 'chai';
import { parse, SipParseError, SipRequest } from '../../lib/index.js';
import type { NameAddr, SipMessageAny, Uri, Via } from '../../lib/index.js';
import { parseVia } from '../../lib/message/via.js';
import { parseNameAddr } from '../../lib/message/name-addr.js';
import { parseUri } from '../../lib/message/uri.js';
import { parseCSeq } from '../../lib/message/cseq.js';
import { splitList } from '../../lib/message/params.js';

function dir(path: string, ext: string): Buffer[] {
  const url = new URL(path, import.meta.url);
  return readdirSync(url).filter((f) => f.endsWith(ext)).sort().map((f) => readFileSync(new URL(f, url)));
}

const HAND = [
  'INVITE sip:bob@example.com;transport=udp SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport;received=10.0.0.9, SIP/2.0/TCP h.example.com;branch=z9hG4bKb\r\nVia: SIP / 2.0 / udp h2.example.com:5070 ;ttl=3;maddr=224.0.0.1;branch=z9hG4bKc\r\nf: Alice <sip:a%40b@example.com;user=phone>;tag=x1;foo\r\nt: "B \\"o\\" b" <sip:bob:pw@example.com:5061>\r\ni: abc@def\r\nCSeq: 9 INVITE\r\nm: <sip:a@10.0.0.1;ob>;expires=30;+sip.instance="<urn:x>", sip:b@10.0.0.2;q=0.5\r\nContact: <sips:c@example.com>\r\nl: 0\r\n\r\n',
  'REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKr\r\nTo: sip:a@example.com\r\nFrom: sip:a@example.com;tag=r;TAG=s\r\nCall-ID: reg1\r\nCSeq: 7 REGISTER\r\nContact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n',
  'SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 10.0.0.1;Branch=z9hG4bKq;rport=5062\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
].map((s) => Buffer.from(s, 'latin1'));

/** Single Contacts of many shapes: the first element's URI is built from the parser's marks (uriFromLayout). */
const CONTACTS = [
  '<sip:a%40b@10.0.0.1:5060;transport=udp>',
  '<SIP:Alice:se%63ret@Example.COM;LR;maddr=10.0.0.3;x=%41b;ob>;expires=60',
  '<sips:carol@h.example.com:5061>',
  '"Bob" <sip:bob:pw@192.0.2.4>;q=0.7',
  'Bob <sip:example.com;>',
  'sip:d@10.0.0.2:5070;expires=10',
  'sip:10.0.0.2',
  '<sip:e@10.0.0.9;rinstance=4a7c;transport=UDP>;+sip.instance="<urn:uuid:1>";reg-id=1',
  '<sip:%65@h>',
];
for (const c of CONTACTS) {
  HAND.push(Buffer.from(`OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKc\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContact: ${c}\r\nContent-Length: 0\r\n\r\n`, 'latin1'));
}

function messages(): SipMessageAny[] {
  const out: SipMessageAny[] = [];
  const all = [...dir('../../bench/corpus/', '.sip'), ...dir('../fixtures/rfc4475/', '.dat'), ...dir('../fixtures/rfc5118/', '.dat'), ...HAND];
  for (const b of all) {
    try {
      out.push(parse(b));
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
    }
  }
  return out;
}

function uriFields(u: Uri): object {
  return { scheme: u.scheme, user: u.user, password: u.password, host: u.host, port: u.port, params: { ...u.params }, headers: { ...u.headers }, opaque: u.opaque, text: u.toString() };
}

/** Every public field of a Via, read in the given order of getters. */
function viaFields(v: Via, order: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) out[k] = k === 'params' ? { ...v.params } : k === 'text' ? v.toString() : (v as unknown as Record<string, unknown>)[k];
  return out;
}
const VIA_ORDERS = [
  ['branch', 'rport', 'received', 'maddr', 'ttl', 'protocol', 'transport', 'host', 'port', 'params', 'text'],
  ['params', 'branch', 'rport', 'received', 'maddr', 'ttl', 'host', 'port', 'protocol', 'transport', 'text'],
  ['host', 'text', 'branch', 'received', 'rport', 'port'],
];

function nameAddrFields(n: NameAddr, order: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) {
    if (k === 'uri') out[k] = uriFields(n.uri);
    else if (k === 'params') out[k] = { ...n.params };
    else if (k === 'text') out[k] = n.toString();
    else out[k] = (n as unknown as Record<string, unknown>)[k];
  }
  return out;
}
const NAME_ADDR_ORDERS = [
  ['tag', 'uri', 'displayName', 'params', 'wildcard', 'text'],
  ['uri', 'tag', 'params', 'displayName', 'text'],
  ['params', 'tag', 'displayName', 'uri', 'text'],
  ['text', 'tag', 'uri'],
];

describe('message/views: lazy views read what the full parsers read', () => {
  const all = messages();

  it('has messages to compare', () => {
    expect(all.length).to.be.greaterThan(40);
  });

  it('Via', () => {
    for (const order of VIA_ORDERS) {
      for (const m of messages()) {
        const expected = m.getAll('via').map((t) => viaFields(parseVia(t), order));
        expect(m.via.map((v) => viaFields(v, order)), m.startLine()).to.deep.equal(expected);
      }
    }
  });

  it('From, To and Contact', () => {
    for (const order of NAME_ADDR_ORDERS) {
      for (const m of messages()) {
        expect(nameAddrFields(m.from, order), `From of ${m.startLine()}`).to.deep.equal(nameAddrFields(parseNameAddr(m.get('from')!), order));
        expect(nameAddrFields(m.to, order), `To of ${m.startLine()}`).to.deep.equal(nameAddrFields(parseNameAddr(m.get('to')!), order));
        const contacts = m.getAll('contact').map((t) => nameAddrFields(parseNameAddr(t, true), order));
        expect(m.contact.map((c) => nameAddrFields(c, order)), `Contact of ${m.startLine()}`).to.deep.equal(contacts);
      }
    }
  });

  it('Call-ID, CSeq and the Request-URI', () => {
    for (const m of all) {
      expect(m.callId).to.equal(m.headers.find((h) => /^(call-id|i)$/i.test(h.name))!.value);
      expect(m.cseq).to.deep.equal(parseCSeq(m.get('cseq')!));
      if (m instanceof SipRequest) {
        const text = m.startLine().split(' ')[1]!;
        expect(uriFields(m.uri)).to.deep.equal(uriFields(parseUri(text)));
      }
    }
  });

  it('views follow edits of their header', () => {
    for (const m of messages()) {
      const vias = m.getAll('via');
      m.via; // build the views first
      m.prepend('Via', 'SIP/2.0/TCP proxy.example.com;branch=z9hG4bKnew');
      expect(m.via.map((v) => v.branch)).to.deep.equal(['z9hG4bKnew', ...vias.map((t) => parseVia(t).branch)]);
      m.from;
      m.set('From', '<sip:x@example.com>;tag=changed');
      expect(m.from.tag).to.equal('changed');
      m.contact;
      m.remove('Contact');
      expect(m.contact).to.deep.equal([]);
      m.append('Contact', '<sip:y@example.com>, <sip:z@example.com>');
      expect(m.contact.map((c) => c.uri.user)).to.deep.equal(['y', 'z']);
      expect(splitList(m.getAll('via').join(', ')).length).to.equal(vias.length + 1);
    }
  });
});
