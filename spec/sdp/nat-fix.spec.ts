import { expect } from 'chai';
import { fixNatedSdp } from '../../lib/sdp/index.js';

const sdp = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n');
const lines = (body: Buffer): string[] => body.toString('latin1').split('\r\n');

describe('sdp/nat-fix (fix_nated_sdp)', () => {
  const natted = sdp(
    'v=0',
    'o=bob 1 1 IN IP4 10.1.2.3',
    's=-',
    'c=IN IP4 10.1.2.3',
    't=0 0',
    'm=audio 7078 RTP/AVP 0',
    'a=rtcp:7079 IN IP4 10.1.2.3',
    'a=candidate:1 1 UDP 2130706431 10.1.2.3 7078 typ host',
    'm=video 9078 RTP/AVP 96',
    'c=IN IP4 10.1.2.3',
    'a=rtpmap:96 VP8/90000',
  );

  it('rewrites every c= line to the public address and leaves ports alone', () => {
    const out = lines(fixNatedSdp(natted, '198.51.100.20'));
    expect(out.filter((l) => l.startsWith('c='))).to.deep.equal(['c=IN IP4 198.51.100.20', 'c=IN IP4 198.51.100.20']);
    expect(out).to.include.members(['m=audio 7078 RTP/AVP 0', 'm=video 9078 RTP/AVP 96', 'a=rtcp:7079 IN IP4 198.51.100.20']);
  });

  it('leaves o= alone unless asked (FIX_ORGIP)', () => {
    expect(lines(fixNatedSdp(natted, '198.51.100.20'))).to.include('o=bob 1 1 IN IP4 10.1.2.3');
    expect(lines(fixNatedSdp(natted, '198.51.100.20', { origin: true }))).to.include('o=bob 1 1 IN IP4 198.51.100.20');
  });

  it('keeps ICE candidates by default and drops private ones with strip-private', () => {
    expect(fixNatedSdp(natted, '198.51.100.20').toString()).to.contain('a=candidate:1');
    expect(fixNatedSdp(natted, '198.51.100.20', { ice: 'strip-private' }).toString()).not.to.contain('a=candidate');
  });

  it('keeps an old-style hold address 0.0.0.0', () => {
    const hold = sdp('v=0', 'o=- 1 2 IN IP4 10.1.2.3', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=audio 7078 RTP/AVP 0');
    expect(lines(fixNatedSdp(hold, '198.51.100.20'))).to.include('c=IN IP4 0.0.0.0');
  });

  it('switches the address type for a public IPv6 address', () => {
    expect(lines(fixNatedSdp(natted, '2001:db8::20'))).to.include('c=IN IP6 2001:db8::20');
  });

  it('rejects a public address that is not an IP literal', () => {
    expect(() => fixNatedSdp(natted, 'example.com')).to.throw().with.property('code', 'ERR_SIP_INVALID_ARG');
  });
});
