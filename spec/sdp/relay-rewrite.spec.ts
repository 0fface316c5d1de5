import { expect } from 'chai';
import { readMediaStreams, rewriteForRelay } from '../../lib/sdp/index.js';

const sdp = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n');
const lines = (body: Buffer): string[] => body.toString('latin1').split('\r\n');
const relay = { address: '203.0.113.5', rtpPort: 40000, rtcpPort: 40001 };

describe('sdp/relay-rewrite', () => {
  const privateOffer = sdp(
    'v=0',
    'o=alice 2890844526 2890844527 IN IP4 192.168.1.10',
    's=Caf\u00e9 call',
    'c=IN IP4 192.168.1.10',
    't=0 0',
    'a=ice-ufrag:F7gI',
    'a=ice-pwd:x9cml/YzichV2+XlhiMu8g',
    'a=ice-options:trickle',
    'm=audio 49170 RTP/AVP 0 8 101',
    'b=AS:64',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=rtcp:49171 IN IP4 192.168.1.10',
    'a=candidate:1 1 UDP 2130706431 192.168.1.10 49170 typ host',
    'a=candidate:2 1 UDP 1694498815 198.51.100.7 6000 typ srflx raddr 192.168.1.10 rport 49170',
    'a=remote-candidates:1 192.168.1.10 49170',
    'a=end-of-candidates',
    'a=sendrecv',
  );

  describe('a private offer rewritten to the relay', () => {
    const out = rewriteForRelay(privateOffer, { streams: [relay] }).sdp;
    const text = out.toString('latin1');

    it('names the relay in session c=, o= and m= port', () => {
      expect(lines(out)).to.include('c=IN IP4 203.0.113.5');
      expect(lines(out)).to.include('o=alice 2890844526 2890844527 IN IP4 203.0.113.5');
      expect(lines(out)).to.include('m=audio 40000 RTP/AVP 0 8 101');
    });

    it('points a=rtcp at the relay, keeping its long form (RFC 3605 §2.1)', () => {
      expect(lines(out)).to.include('a=rtcp:40001 IN IP4 203.0.113.5');
    });

    it('removes every ICE attribute, so no private address leaks (RFC 8839 §5)', () => {
      expect(text).not.to.match(/candidate|ice-/);
      expect(text).not.to.contain('192.168.');
    });

    it('keeps every other line byte for byte, in order, with CRLF', () => {
      const kept = lines(privateOffer).filter((l) => !/^(o=|c=|m=|a=rtcp:|a=candidate|a=ice-|a=remote-cand|a=end-of-cand)/.test(l));
      expect(lines(out).filter((l) => kept.includes(l))).to.deep.equal(kept);
      expect(out.includes(Buffer.from('s=Caf\u00e9 call', 'utf8')), 'UTF-8 s= line').to.equal(true);
      expect(text.endsWith('a=sendrecv\r\n')).to.equal(true);
    });

    it('leaves a stream reading back as the relay', () => {
      const [stream] = readMediaStreams(out);
      expect(stream).to.include({ address: '203.0.113.5', port: 40000, rtcpPort: 40001, rtcpAddress: '203.0.113.5', candidateCount: 0 });
    });
  });

  it('rewrites both the session-level and the media-level c=', () => {
    const offer = sdp('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 10.0.0.2');
    const out = lines(rewriteForRelay(offer, { streams: [relay] }).sdp);
    expect(out.filter((l) => l.startsWith('c='))).to.deep.equal(['c=IN IP4 203.0.113.5', 'c=IN IP4 203.0.113.5']);
  });

  it('adds a=rtcp when the relay RTCP port is not RTP + 1, and leaves it out when it is', () => {
    const offer = sdp('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'a=sendrecv');
    const odd = lines(rewriteForRelay(offer, { streams: [{ ...relay, rtcpPort: 40007 }] }).sdp);
    expect(odd.slice(-3)).to.deep.equal(['a=sendrecv', 'a=rtcp:40007', '']);
    expect(rewriteForRelay(offer, { streams: [relay] }).sdp.toString()).not.to.contain('a=rtcp');
  });

  it('with rtcp-mux on the relay, a=rtcp names the RTP port and a=rtcp-mux stays (RFC 5761 §5.1.3)', () => {
    const offer = sdp('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'a=rtcp:4000', 'a=rtcp-mux');
    const out = lines(rewriteForRelay(offer, { streams: [{ address: relay.address, rtpPort: 40000 }] }).sdp);
    expect(out).to.include.members(['a=rtcp:40000', 'a=rtcp-mux']);
  });

  it('switches IN IP4 to IN IP6 when the relay address is IPv6, in c=, o= and a=rtcp', () => {
    const out = lines(rewriteForRelay(privateOffer, { streams: [{ address: '2001:db8::5', rtpPort: 40000, rtcpPort: 40001 }] }).sdp);
    expect(out).to.include.members([
      'c=IN IP6 2001:db8::5',
      'o=alice 2890844526 2890844527 IN IP6 2001:db8::5',
      'a=rtcp:40001 IN IP6 2001:db8::5',
    ]);
  });

  it('switches IN IP6 to IN IP4 for an IPv6 party bridged to an IPv4 relay leg', () => {
    const offer = sdp('v=0', 'o=- 1 1 IN IP6 fd00::1', 's=-', 'c=IN IP6 fd00::1', 't=0 0', 'm=audio 4000 RTP/AVP 0');
    const out = rewriteForRelay(offer, { streams: [relay] }).sdp.toString();
    expect(out).to.contain('c=IN IP4 203.0.113.5').and.not.to.contain('IP6');
  });

  it('leaves a disabled stream (port 0) at port 0', () => {
    const offer = sdp('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'm=video 0 RTP/AVP 31');
    const out = lines(rewriteForRelay(offer, { streams: [relay, null] }).sdp);
    expect(out).to.include('m=video 0 RTP/AVP 31');
  });

  it('rewrites audio and video streams to their own relay ports', () => {
    const offer = sdp(
      'v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0',
      'm=audio 4000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000',
      'm=video 5000 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 profile-level-id=42e01f',
    );
    const out = rewriteForRelay(offer, { streams: [relay, { address: relay.address, rtpPort: 40010, rtcpPort: 40011 }] }).sdp;
    const streams = readMediaStreams(out);
    expect(streams.map((s) => [s.type, s.address, s.port, s.rtcpPort])).to.deep.equal([
      ['audio', '203.0.113.5', 40000, 40001],
      ['video', '203.0.113.5', 40010, 40011],
    ]);
    expect(lines(out)).to.include('a=fmtp:96 profile-level-id=42e01f');
  });

  it('adds a media c= when streams sit on relay addresses of different families', () => {
    const offer = sdp('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'i=voice', 'a=sendrecv', 'm=video 5000 RTP/AVP 31');
    const out = lines(rewriteForRelay(offer, { streams: [relay, { address: '2001:db8::5', rtpPort: 40010, rtcpPort: 40011 }] }).sdp);
    expect(out.slice(out.indexOf('m=video 40010 RTP/AVP 31'))).to.deep.equal(['m=video 40010 RTP/AVP 31', 'c=IN IP6 2001:db8::5', '']);
    expect(out.slice(out.indexOf('m=audio 40000 RTP/AVP 0'), out.indexOf('m=audio 40000 RTP/AVP 0') + 3)).to.deep.equal(['m=audio 40000 RTP/AVP 0', 'i=voice', 'a=sendrecv']);
  });

  it('keeps an old-style hold address 0.0.0.0 (RFC 3264 §8.4) while pointing the port at the relay', () => {
    const hold = sdp('v=0', 'o=- 1 2 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=audio 4000 RTP/AVP 0');
    const out = lines(rewriteForRelay(hold, { streams: [relay] }).sdp);
    expect(out).to.include.members(['c=IN IP4 0.0.0.0', 'm=audio 40000 RTP/AVP 0', 'o=- 1 2 IN IP4 203.0.113.5']);
  });

  it('keeps LF line ends when the party used them', () => {
    const lf = Buffer.from('v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n');
    const out = rewriteForRelay(lf, { streams: [{ ...relay, rtcpPort: 40003 }] }).sdp.toString();
    expect(out).not.to.contain('\r');
    expect(out.endsWith('m=audio 40000 RTP/AVP 0\na=rtcp:40003\n')).to.equal(true);
  });

  describe('o= version (RFC 3264 §8)', () => {
    it('keeps the version when the same SDP is sent again', () => {
      const first = rewriteForRelay(privateOffer, { streams: [relay] });
      const again = rewriteForRelay(privateOffer, { streams: [relay], previous: first.originMemory });
      expect(again.sdp.equals(first.sdp)).to.equal(true);
    });

    it('keeps the version when only the party bumped its own version without a change', () => {
      const first = rewriteForRelay(privateOffer, { streams: [relay] });
      const bumped = Buffer.from(privateOffer.toString('latin1').replace('2890844527 IN', '2890844528 IN'), 'latin1');
      const again = rewriteForRelay(bumped, { streams: [relay], previous: first.originMemory });
      expect(again.sdp.equals(first.sdp)).to.equal(true);
    });

    it('increments the version by one when the relayed SDP changes', () => {
      const first = rewriteForRelay(privateOffer, { streams: [relay] });
      const moved = rewriteForRelay(privateOffer, { streams: [{ ...relay, rtpPort: 40002, rtcpPort: 40003 }], previous: first.originMemory });
      expect(lines(moved.sdp)).to.include('o=alice 2890844526 2890844528 IN IP4 203.0.113.5');
      const sendonly = Buffer.from(privateOffer.toString('latin1').replace('a=sendrecv', 'a=sendonly'), 'latin1');
      const held = rewriteForRelay(sendonly, { streams: [{ ...relay, rtpPort: 40002, rtcpPort: 40003 }], previous: moved.originMemory });
      expect(lines(held.sdp)).to.include('o=alice 2890844526 2890844529 IN IP4 203.0.113.5');
    });

    it('counts 64-bit versions exactly', () => {
      const big = sdp('v=0', 'o=- 1 18446744073709551610 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0');
      const first = rewriteForRelay(big, { streams: [relay] });
      const next = rewriteForRelay(big, { streams: [{ ...relay, rtpPort: 40002, rtcpPort: 40003 }], previous: first.originMemory });
      expect(lines(next.sdp)).to.include('o=- 1 18446744073709551611 IN IP4 203.0.113.5');
    });
  });

  describe('ICE policy strip-private', () => {
    it('drops candidates on private addresses, hides a private raddr, keeps ufrag and public candidates', () => {
      const out = rewriteForRelay(privateOffer, { streams: [relay], ice: 'strip-private' }).sdp.toString();
      expect(out).not.to.contain('192.168.1.10 49170 typ host');
      expect(out).to.contain('a=candidate:2 1 UDP 1694498815 198.51.100.7 6000 typ srflx raddr 0.0.0.0 rport 9');
      expect(out).to.contain('a=ice-ufrag:F7gI');
    });
  });

  it('rejects an SDP it cannot read with ERR_RELAY_BAD_SDP', () => {
    expect(() => rewriteForRelay(Buffer.from('v=0\r\nbogus'), { streams: [] })).to.throw().with.property('code', 'ERR_RELAY_BAD_SDP');
  });
});
