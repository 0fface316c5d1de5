import { expect } from 'chai';
import { parseSessionDescription, readMediaStreams } from '../../lib/sdp/index.js';

const sdp = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n');

describe('sdp/media-streams', () => {
  const offer = sdp(
    'v=0',
    'o=alice 2890844526 2890844526 IN IP4 192.168.1.10',
    's=-',
    'c=IN IP4 192.168.1.10',
    't=0 0',
    'a=recvonly',
    'm=audio 49170 RTP/AVP 0 8 101',
    'a=rtcp:53020 IN IP4 192.168.1.20',
    'a=candidate:1 1 UDP 2130706431 192.168.1.10 49170 typ host',
    'm=video 51372 RTP/AVP 99',
    'c=IN IP6 fd00::7',
    'a=rtcp-mux',
    'a=sendonly',
    'm=video 0 RTP/AVP 31',
  );

  it('reads type, port, protocol and formats of each m= line (RFC 4566 §5.14)', () => {
    const streams = readMediaStreams(offer);
    expect(streams.map((s) => [s.index, s.type, s.port, s.protocol])).to.deep.equal([
      [0, 'audio', 49170, 'RTP/AVP'],
      [1, 'video', 51372, 'RTP/AVP'],
      [2, 'video', 0, 'RTP/AVP'],
    ]);
    expect(streams[0]!.formats).to.deep.equal(['0', '8', '101']);
  });

  it('takes the media-level c= over the session-level one (RFC 4566 §5.7)', () => {
    const [audio, video] = readMediaStreams(offer);
    expect([audio!.address, audio!.addressType]).to.deep.equal(['192.168.1.10', 'IP4']);
    expect([video!.address, video!.addressType]).to.deep.equal(['fd00::7', 'IP6']);
  });

  it('reads a=rtcp port and address (RFC 3605), else port + 1', () => {
    const [audio, video, disabled] = readMediaStreams(offer);
    expect([audio!.rtcpPort, audio!.rtcpAddress, audio!.hasRtcpAttribute]).to.deep.equal([53020, '192.168.1.20', true]);
    expect([video!.rtcpPort, video!.rtcpAddress, video!.hasRtcpAttribute]).to.deep.equal([51373, 'fd00::7', false]);
    expect(disabled!.rtcpPort).to.equal(0);
  });

  it('reads rtcp-mux (RFC 5761) and the direction, media level over session level (RFC 3264 §5.1)', () => {
    const [audio, video] = readMediaStreams(offer);
    expect([audio!.rtcpMux, video!.rtcpMux]).to.deep.equal([false, true]);
    expect([audio!.direction, video!.direction]).to.deep.equal(['recvonly', 'sendonly']);
  });

  it('reports ICE candidates present', () => {
    const [audio, video] = readMediaStreams(offer);
    expect([audio!.candidateCount, audio!.hasIce]).to.deep.equal([1, true]);
    expect(video!.hasIce).to.equal(false);
  });

  it('flags an old-style hold address 0.0.0.0 (RFC 3264 §8.4)', () => {
    const [held] = readMediaStreams(sdp('v=0', 'o=- 1 2 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=audio 4000 RTP/AVP 0'));
    expect(held!.addressUnspecified).to.equal(true);
  });

  it('reads an m= line with a port count', () => {
    const [stream] = readMediaStreams(sdp('v=0', 'o=- 1 2 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=video 4000/2 RTP/AVP 31'));
    expect([stream!.port, stream!.type, stream!.protocol]).to.deep.equal([4000, 'video', 'RTP/AVP']);
  });

  describe('an SDP a relay cannot work with is ERR_RELAY_BAD_SDP, status 488', () => {
    const cases: [string, Buffer][] = [
      ['not SDP', Buffer.from('hello world')],
      ['no o= line', sdp('v=0', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0')],
      ['an m= line without a port', sdp('v=0', 'o=- 1 2 IN IP4 10.0.0.1', 's=-', 't=0 0', 'm=audio RTP/AVP 0')],
      ['a port beyond 65535', sdp('v=0', 'o=- 1 2 IN IP4 10.0.0.1', 's=-', 't=0 0', 'm=audio 70000 RTP/AVP 0')],
    ];
    for (const [name, body] of cases) {
      it(name, () => {
        expect(() => parseSessionDescription(body)).to.throw().with.property('code', 'ERR_RELAY_BAD_SDP');
        expect(() => readMediaStreams(body)).to.throw().with.property('status', 488);
      });
    }
  });
});
