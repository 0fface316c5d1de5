import { expect } from 'chai';
import { parse, serialize, SipParseError, SipRequest, SipResponse } from '../../lib/index.js';

const CRLF = '\r\n';
function msg(lines: string[], body = ''): string {
  return lines.join(CRLF) + CRLF + CRLF + body;
}
const BASE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
];

function parseError(text: string | Buffer): SipParseError {
  try {
    parse(text);
  } catch (e) {
    expect(e).to.be.instanceOf(SipParseError);
    return e as SipParseError;
  }
  throw new Error('expected a SipParseError');
}

describe('message/parse', () => {
  describe('start line (RFC 3261 §7.1, §7.2)', () => {
    it('reads method and Request-URI of a request', () => {
      const m = parse(msg(BASE)) as SipRequest;
      expect(m).to.be.instanceOf(SipRequest);
      expect(m.isRequest).to.equal(true);
      expect(m.method).to.equal('INVITE');
      expect(m.uri.user).to.equal('bob');
      expect(m.uri.host).to.equal('biloxi.example.com');
      expect(String(m.uri)).to.equal('sip:bob@biloxi.example.com');
    });
    it('reads status and reason of a response, reason may contain spaces', () => {
      const lines = ['SIP/2.0 180 Ringing Now', ...BASE.slice(1)];
      const m = parse(msg(lines)) as SipResponse;
      expect(m).to.be.instanceOf(SipResponse);
      expect(m.status).to.equal(180);
      expect(m.reason).to.equal('Ringing Now');
    });
    it('answers 505 for a SIP version other than 2.0', () => {
      const e = parseError(msg(['INVITE sip:bob@b SIP/3.0', ...BASE.slice(1)]));
      expect(e.status).to.equal(505);
      expect(e.code).to.equal('ERR_SIP_PARSE');
    });
    it('rejects a Request-URI in angle brackets and one with embedded whitespace', () => {
      expect(parseError(msg(['INVITE <sip:bob@b> SIP/2.0', ...BASE.slice(1)])).status).to.equal(400);
      expect(parseError(msg(['INVITE sip:bob@b;x=1 y SIP/2.0', ...BASE.slice(1)])).status).to.equal(400);
    });
    it('rejects a status code that is not three digits', () => {
      expect(() => parse(msg(['SIP/2.0 4294967301 Big', ...BASE.slice(1)]))).to.throw(SipParseError);
      expect(() => parse(msg(['SIP/2.0 99 Small', ...BASE.slice(1)]))).to.throw(SipParseError);
    });
    it('ignores CRLFs before the start line (§7.5)', () => {
      const m = parse('\r\n\r\n' + msg(BASE)) as SipRequest;
      expect(m.method).to.equal('INVITE');
    });
  });

  describe('headers (§7.3)', () => {
    it('finds headers by any spelling and by compact form', () => {
      const lines = ['OPTIONS sip:b@example.com SIP/2.0', 'v: SIP/2.0/UDP h;branch=z9hG4bK1', 't: <sip:b@example.com>',
        'f: <sip:a@example.com>;tag=x', 'i: abc', 'CSEQ: 1 OPTIONS', 'm: <sip:a@h>', 'k: timer, 100rel', 'l: 0'];
      const m = parse(msg(lines));
      expect(m.get('Via')).to.equal('SIP/2.0/UDP h;branch=z9hG4bK1');
      expect(m.get('call-id')).to.equal('abc');
      expect(m.get('I')).to.equal('abc');
      expect(m.callId).to.equal('abc');
      expect(m.cseq).to.deep.equal({ seq: 1, method: 'OPTIONS' });
      expect(m.getAll('Supported')).to.deep.equal(['timer', '100rel']);
      expect(m.contact[0]!.uri.user).to.equal('a');
      expect(m.get('x-absent')).to.equal(undefined);
    });
    it('tells a known name from a longer name it starts, and keeps each name as spelled', () => {
      // the split recognises known names from their first bytes and the ":" right after them
      const lines = ['OPTIONS sip:b@example.com SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'Tox: 1', 'To: <sip:b@example.com>',
        'FROM: <sip:a@example.com>;tag=x', 'Call-IDs: 2', 'Call-ID: abc', 'CSeq: 1 OPTIONS', 'Via-X: 3', 'Contact : <sip:a@h>', 'v:x'];
      const m = parse(msg(lines.slice(0, -1)));
      expect(m.headers.map((h) => h.name)).to.deep.equal(['Via', 'Tox', 'To', 'FROM', 'Call-IDs', 'Call-ID', 'CSeq', 'Via-X', 'Contact']);
      expect(m.get('tox')).to.equal('1');
      expect(m.to.uri.user).to.equal('b');
      expect(m.from.tag).to.equal('x');
      expect(m.get('call-ids')).to.equal('2');
      expect(m.callId).to.equal('abc');
      expect(m.getAll('via')).to.have.length(1);
      expect(m.get('via-x')).to.equal('3');
      expect(m.contact[0]!.uri.host).to.equal('h');
      // a compact name too: "v:x" is a Via whose value is not one
      expect(parseError(msg(lines)).reason).to.match(/via/i);
    });
    it('trims each value as String#trim does, whatever whitespace is around it', () => {
      // the split takes "one SP, then the value" without a scan; every other shape is trimmed in full
      const values = ['plain', ' two-spaces', '\ttab', 'trailing  ', 'trailing-tab\t', '\xa0nbsp\xa0', ' \xa0both \xa0', 'in side', 'x', ''];
      const m = parse(Buffer.from(msg([...BASE, ...values.map((v, i) => `X-V${i}: ${v}`), 'X-Bare:v', 'X-Empty:']), 'latin1'));
      values.forEach((v, i) => expect(m.get(`x-v${i}`), JSON.stringify(v)).to.equal(Buffer.from(v.trim(), 'latin1').toString('latin1')));
      expect(m.get('x-bare')).to.equal('v');
      expect(m.get('x-empty')).to.equal('');
    });
    it('keeps every header in order with its raw value', () => {
      const lines = [...BASE, 'X-Custom:   spaced   value  ', 'Subject: hello, world'];
      const m = parse(msg(lines));
      expect(m.headers.map((h) => h.name)).to.deep.equal(['Via', 'Max-Forwards', 'To', 'From', 'Call-ID', 'CSeq', 'Contact', 'X-Custom', 'Subject']);
      expect(m.get('x-custom')).to.equal('spaced   value');
      expect(m.getAll('subject')).to.deep.equal(['hello, world']);
    });
    it('splits comma-separated Via values and joins repeated Via fields', () => {
      const lines = ['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b:5070;branch=z9hG4bK2',
        'Via: SIP/2.0/UDP c;branch=z9hG4bK3;received=10.0.0.1', ...BASE.slice(2)];
      const m = parse(msg(lines));
      expect(m.via.map((v) => v.host)).to.deep.equal(['a', 'b', 'c']);
      expect(m.via[1]!.port).to.equal(5070);
      expect(m.via[2]!.received).to.equal('10.0.0.1');
      expect(m.getAll('via')).to.have.length(3);
    });
    it('undoes line folding (§7.3.1)', () => {
      const lines = [...BASE, 'Subject: I know you\'re there,', '   pick up the phone', '\tand talk to me!'];
      const m = parse(msg(lines));
      expect(m.get('subject')).to.equal("I know you're there, pick up the phone and talk to me!");
    });
    it('reads Via rport with and without a value, maddr, ttl and other params', () => {
      const lines = ['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP a;rport=5061;received=1.2.3.4;branch=z9hG4bK1;maddr=224.2.0.1;ttl=16;x-y',
        'Via: SIP/2.0/UDP b;rport;branch=z9hG4bK2', ...BASE.slice(2)];
      const m = parse(msg(lines));
      expect(m.via[0]!.rport).to.equal(5061);
      expect(m.via[0]!.maddr).to.equal('224.2.0.1');
      expect(m.via[0]!.ttl).to.equal(16);
      expect(m.via[0]!.params['x-y']).to.equal(null);
      expect(m.via[0]!.transport).to.equal('UDP');
      expect(m.via[1]!.rport).to.equal(null);
      expect(m.via[1]!.branch).to.equal('z9hG4bK2');
    });
    it('reads name-addr and addr-spec forms with display names and params', () => {
      const lines = [...BASE.slice(0, 3), 'To: sip:bob@biloxi.example.com;tag=abc', 'From: "Alice Smith" <sip:alice@a.example.com;transport=udp>;tag=t1;x=y',
        ...BASE.slice(5, 7), 'Contact: *'];
      const m = parse(msg([...lines.slice(0, 1), ...lines.slice(1)]).replace('INVITE sip', 'REGISTER sip').replace('314159 INVITE', '314159 REGISTER'));
      expect(m.to.tag).to.equal('abc');
      expect(m.to.displayName).to.equal(null);
      expect(m.to.uri.params).to.deep.equal({});
      expect(m.from.displayName).to.equal('Alice Smith');
      expect(m.from.uri.params['transport']).to.equal('udp');
      expect(m.from.params).to.deep.equal({ tag: 't1', x: 'y' });
      expect(m.contact[0]!.wildcard).to.equal(true);
    });
    it('reads Route and Record-Route lists', () => {
      const lines = [...BASE, 'Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>', 'Route: <sip:p3;lr>'];
      const m = parse(msg(lines));
      expect(m.recordRoute.map((r) => r.uri.host)).to.deep.equal(['p1.example.com', 'p2.example.com']);
      expect(m.route[0]!.uri.params['lr']).to.equal(null);
    });
  });

  describe('rejections (400 with a reason naming the fault)', () => {
    for (const missing of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
      it(`rejects a request without ${missing}`, () => {
        const e = parseError(msg(BASE.filter((l) => !l.startsWith(missing + ':'))));
        expect(e.status).to.equal(400);
        expect(e.reason).to.include(missing);
      });
    }
    for (const dup of ['From: <sip:x@y>;tag=2', 'To: <sip:x@y>', 'Call-ID: other', 'CSeq: 2 INVITE', 'Max-Forwards: 1']) {
      const name = dup.slice(0, dup.indexOf(':'));
      it(`rejects a repeated ${name}`, () => {
        const e = parseError(msg([...BASE, dup]));
        expect(e.reason).to.match(new RegExp(`Duplicate ${name}`, 'i'));
      });
    }
    it('carries the headers needed to answer', () => {
      const e = parseError(msg([...BASE, 'Max-Forwards: 300'].filter((l) => l !== 'Max-Forwards: 70')));
      expect(e.isRequest).to.equal(true);
      expect(e.headers.via).to.deep.equal(['SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds']);
      expect(e.headers.callId).to.equal('a84b4c76e66710@pc33.atlanta.example.com');
      expect(e.headers.cseq).to.equal('314159 INVITE');
      expect(e.headers.from).to.include('tag=1928301774');
    });
    it('rejects a CSeq method that differs from the request method', () => {
      expect(parseError(msg(BASE.map((l) => (l.startsWith('CSeq') ? 'CSeq: 1 ACK' : l)))).reason).to.include('CSeq');
    });
    it('rejects a header line without a colon and a bad header name', () => {
      expect(parseError(msg([...BASE, 'NoColonHere'])).reason).to.include('colon');
      expect(parseError(msg([...BASE, 'Bad Name: x'])).reason).to.include('header name');
    });
  });

  describe('body and Content-Length (§18.3, §20.14)', () => {
    it('cuts the body exactly at Content-Length', () => {
      const m = parse(msg([...BASE, 'Content-Length: 4'], 'v=0\r\nextra'));
      expect(m.body.toString()).to.equal('v=0\r');
      expect(m.contentLength).to.equal(4);
    });
    it('takes the rest of the datagram when Content-Length is missing', () => {
      const m = parse(msg(BASE, 'v=0\r\n'));
      expect(m.body.toString()).to.equal('v=0\r\n');
    });
    it('rejects a Content-Length larger than the datagram and a negative one', () => {
      expect(parseError(msg([...BASE, 'Content-Length: 10'], 'abc')).reason).to.include('Content-Length');
      expect(parseError(msg([...BASE, 'Content-Length: -1'], 'abc')).reason).to.include('Content-Length');
    });
    it('keeps body bytes exact, including non-UTF-8 bytes', () => {
      const body = Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10]);
      const head = Buffer.from(msg([...BASE, `Content-Length: ${body.length}`]), 'latin1');
      const m = parse(Buffer.concat([head, body]));
      expect(m.body.equals(body)).to.equal(true);
    });
  });

  describe('limits', () => {
    it('rejects a 64 KiB header fast', () => {
      const big = msg([...BASE, 'X-Big: ' + 'a'.repeat(65536)]);
      const t = process.hrtime.bigint();
      const e = parseError(big);
      expect(e.status).to.equal(513);
      expect(Number(process.hrtime.bigint() - t)).to.be.greaterThan(0);
    });
    it('rejects 10 000 headers', () => {
      const lines = [...BASE];
      for (let i = 0; i < 10000; i++) lines.push('X: 1');
      const e = parseError(msg(lines));
      expect(e.status).to.be.oneOf([400, 513]);
    });
  });

  describe('serialize', () => {
    it('writes an unchanged message back byte for byte', () => {
      const text = msg([...BASE, 'Content-Length: 5'], 'hello');
      expect(serialize(parse(text)).toString('latin1')).to.equal(text);
    });
    it('recomputes Content-Length when the body changes, keeping the compact spelling', () => {
      const m = parse(msg([...BASE, 'l: 5'], 'hello'));
      m.body = Buffer.from('hi');
      const out = serialize(m).toString();
      expect(out).to.include('\r\nl: 2\r\n\r\nhi');
      expect(parse(out).body.toString()).to.equal('hi');
    });
    it('adds Content-Length when it was missing', () => {
      const out = serialize(parse(msg(BASE, 'abc'))).toString();
      expect(out).to.match(/\r\nContent-Length: 3\r\n\r\nabc$/);
    });
    it('builds a message from scratch', () => {
      const req = new SipRequest({
        method: 'OPTIONS',
        uri: 'sip:bob@example.com',
        headers: [
          { name: 'Via', value: 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc' },
          { name: 'From', value: '<sip:alice@example.com>;tag=1' },
          { name: 'To', value: '<sip:bob@example.com>' },
          { name: 'Call-ID', value: 'c1' },
          { name: 'CSeq', value: '1 OPTIONS' },
        ],
      });
      const back = parse(serialize(req)) as SipRequest;
      expect(back.method).to.equal('OPTIONS');
      expect(back.via[0]!.branch).to.equal('z9hG4bKabc');
      expect(back.get('content-length')).to.equal('0');
    });
    it('encodes a display name given as Unicode text in UTF-8', () => {
      const m = parse(msg(BASE));
      m.set('From', '"Zoë" <sip:z@example.com>;tag=9');
      const back = parse(serialize(m));
      expect(back.from.displayName).to.equal('Zoë');
    });
  });
});
