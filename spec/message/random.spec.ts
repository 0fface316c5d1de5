import { expect } from 'chai';
import { randomBase64url, randomHex } from '../../lib/message/random.js';
import { generateBranch, generateCallId, generateTag } from '../../lib/index.js';

describe('random identifiers from the pooled CSPRNG bytes', () => {
  it('hex and base64url of the asked length, token characters only, no repeats across several pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const h = randomHex(8);
      const b = randomBase64url(12);
      expect(h).to.match(/^[0-9a-f]{16}$/);
      expect(b).to.match(/^[A-Za-z0-9_-]{16}$/);
      seen.add(h).add(b);
    }
    expect(seen.size).to.equal(10000);
  });

  it('branches carry the magic cookie, tags and Call-IDs differ every time', () => {
    expect(generateBranch()).to.match(/^z9hG4bK[A-Za-z0-9_-]{16}$/);
    expect(generateTag()).to.not.equal(generateTag());
    expect(generateCallId('h.example')).to.match(/^[0-9a-f]{32}@h\.example$/);
  });

  it('refuses more bytes than the pool holds', () => {
    expect(() => randomHex(5000)).to.throw(RangeError);
  });
});
