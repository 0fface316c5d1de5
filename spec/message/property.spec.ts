import { expect } from 'chai';
import fc from 'fast-check';
import { parse, serialize, SipParseError } from '../../lib/index.js';

const SEED = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\nMax-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.example.com>\r\nFrom: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710@pc33.atlanta.example.com\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@pc33.atlanta.example.com>\r\nContent-Type: application/sdp\r\nContent-Length: 31\r\n\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n\r\n',
  'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKx;received=2001:db8::1;rport=1\r\nv: SIP/2.0/UDP a\r\nRecord-Route: <sip:p1;lr>\r\nt: <sip:b@h>;tag=2\r\nf: <sip:a@h>;tag=1\r\ni: x\r\nCSeq: 2 INVITE\r\nm: <sip:b@[::1]:5062>\r\nl: 0\r\n\r\n',
  'REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKr\r\nTo: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=r\r\nCall-ID: reg1\r\nCSeq: 7 REGISTER\r\nContact: <sip:a@10.0.0.1>;expires=60, <sip:a@10.0.0.2>;q=0.5\r\nAuthorization: Digest username="a", realm="example.com", nonce="n", uri="sip:example.com", response="00"\r\nExpires: 3600\r\n\r\n',
];

/** Calls parse and fails the property on anything but a SipParseError. */
function tryParse(bytes: Buffer): ReturnType<typeof parse> | undefined {
  try {
    return parse(bytes);
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
    return undefined;
  }
}

describe('message/property', function () {
  this.timeout(60000);

  it('random bytes never make parse throw anything but SipParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      tryParse(Buffer.from(bytes));
    }), { numRuns: 3000 });
  });

  it('mutated real messages never make parse throw anything but SipParseError', () => {
    const mutation = fc.record({
      seed: fc.integer({ min: 0, max: SEED.length - 1 }),
      edits: fc.array(fc.record({ at: fc.nat(), kind: fc.integer({ min: 0, max: 3 }), byte: fc.integer({ min: 0, max: 255 }), len: fc.integer({ min: 1, max: 40 }) }), { minLength: 1, maxLength: 8 }),
    });
    fc.assert(fc.property(mutation, ({ seed, edits }) => {
      let b = Buffer.from(SEED[seed]!, 'latin1');
      for (const e of edits) {
        const at = e.at % (b.length + 1);
        if (e.kind === 0) b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + e.len))]);
        else if (e.kind === 1) b = Buffer.concat([b.subarray(0, at), Buffer.from([e.byte]), b.subarray(at)]);
        else if (e.kind === 2 && at < b.length) b[at] = e.byte;
        else b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + e.len), b.subarray(at)]);
      }
      const m = tryParse(b);
      if (m !== undefined) {
        // whatever parses must survive serialize and parse again, reading the same values
        const again = parse(serialize(m));
        expect(again.callId).to.equal(m.callId);
        expect(again.cseq).to.deep.equal(m.cseq);
        expect(again.body.equals(m.body)).to.equal(true);
      }
    }), { numRuns: 3000 });
  });

  it('parse(serialize(m)) gives the same message after edits', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,15}$/);
    fc.assert(fc.property(fc.integer({ min: 0, max: SEED.length - 1 }), word, fc.uint8Array({ maxLength: 200 }), (seed, value, body) => {
      const m = parse(Buffer.from(SEED[seed]!, 'latin1'));
      m.append('X-Test', value);
      m.body = Buffer.from(body);
      const again = parse(serialize(m));
      const withoutLength = (msg: typeof m): string[][] => msg.headers.filter((h) => !/^(content-length|l)$/i.test(h.name)).map((h) => [h.name, h.value]);
      expect(withoutLength(again)).to.deep.equal(withoutLength(m));
      expect(again.get('x-test')).to.equal(value);
      expect(again.body.equals(Buffer.from(body))).to.equal(true);
      expect(again.isRequest).to.equal(m.isRequest);
    }), { numRuns: 500 });
  });
});
