import { expect } from 'chai';
import { detached } from '../../lib/message/detach.js';
import { parse } from '../../lib/index.js';

describe('detached(): a copy of message text for long-term storage', () => {
  it('equals the text, latin1 bytes included, and is empty for empty text', () => {
    const m = parse('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: abc-1@host\r\nSubject: caf\xe9\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
    expect(detached(m.callId)).to.equal(m.callId);
    expect(detached(m.get('subject')!)).to.equal(m.get('subject'));
    expect(detached('')).to.equal('');
  });
});
