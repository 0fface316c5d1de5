import { expect } from 'chai';
import fc from 'fast-check';
import { BencodeError, bdecode, bencode } from '../../../lib/relay/rtpengine/index.js';
import type { BencodeInput, BencodeValue } from '../../../lib/relay/rtpengine/index.js';

function text(v: BencodeValue): unknown {
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  if (Array.isArray(v)) return v.map(text);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, text(x)]));
  return v;
}

describe('relay/rtpengine/bencode', () => {
  it('encodes the four BEP 3 types, dictionary keys in byte order, undefined entries left out', () => {
    expect(bencode('spam').toString()).to.equal('4:spam');
    expect(bencode(-42).toString()).to.equal('i-42e');
    expect(bencode(0).toString()).to.equal('i0e');
    expect(bencode(['a', 1, []]).toString()).to.equal('l1:ai1elee');
    expect(bencode({ foo: 42, bar: 'spam', zed: undefined, 'call-id': 'x' }).toString()).to.equal('d3:bar4:spam7:call-id1:x3:fooi42ee');
    expect(bencode(2n ** 70n).toString()).to.equal(`i${2n ** 70n}e`);
  });

  it('counts bytes, not characters: UTF-8 strings and raw Buffers keep their bytes', () => {
    expect(bencode('é').toString('latin1')).to.equal('2:\xc3\xa9');
    const raw = Buffer.from([0, 0xff, 0x20, 0x0d, 0x0a]);
    const out = bencode({ sdp: raw });
    expect(out.subarray(out.length - 6, out.length - 1).equals(raw)).to.equal(true);
    const back = bdecode(out) as { sdp: Buffer };
    expect(back.sdp.equals(raw)).to.equal(true);
  });

  it('decodes byte strings to Buffers, integers to numbers (bigint past 2^53), dictionaries without a prototype', () => {
    const v = bdecode(Buffer.from('d6:result2:ok4:tagsd1:ad7:packetsi5eee3:bigi9007199254740993e9:__proto__i1ee'));
    expect(text(v)).to.deep.equal({ result: 'ok', tags: { a: { packets: 5 } }, big: 9007199254740993n, ['__proto__']: 1 });
    expect(Object.getPrototypeOf(v)).to.equal(null);
    expect(({} as Record<string, unknown>)['packets']).to.equal(undefined);
  });

  it('rejects malformed input with BencodeError (ERR_BENCODE) and the offset of the fault', () => {
    const bad = ['i01e', 'i-0e', 'ie', 'i12', '5:abc', '01:a', 'l', 'd1:a', 'di1ei2ee', '4:spamX', 'x', '', '-1:a'];
    for (const input of bad) {
      const err = (() => {
        try {
          bdecode(Buffer.from(input));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, input).to.be.instanceOf(BencodeError);
      expect((err as BencodeError).code).to.equal('ERR_BENCODE');
      expect((err as BencodeError).offset, input).to.be.at.least(0);
    }
    expect(() => bdecode(Buffer.from('l'.repeat(100) + 'e'.repeat(100)))).to.throw(BencodeError, /deeper/);
    expect(() => bencode(1.5)).to.throw(BencodeError);
    expect(() => bencode(true as unknown as BencodeInput)).to.throw(BencodeError);
  });

  it('decodes what it encodes (property)', () => {
    const leaf = fc.oneof(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), fc.maxSafeInteger(), fc.maxSafeNat().map((n) => -n));
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, tie('list'), tie('dict')),
      list: fc.array(tie('value'), { maxLength: 5 }),
      dict: fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 5 }),
    }));
    fc.assert(
      fc.property(value, (v) => {
        const encoded = bencode(v as BencodeInput);
        expect(bencode(bdecode(encoded) as BencodeInput).equals(encoded)).to.equal(true);
      }),
      { numRuns: 300 },
    );
  });
});
