import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { type AddressType, isUnspecifiedAddress } from './address.js';
import { type MediaLine, parseMediaLine } from './media-line.js';
import { badSdp, parseSessionDescription } from './session-description.js';

/** Media direction attributes (RFC 3264 §5.1, RFC 4566 §6). */
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** What a relay needs to know about one m= line of an SDP. */
export interface MediaStream {
  /** Position of the m= line, from 0; offer and answer streams pair up by this (RFC 3264 §6). */
  index: number;
  /** `audio`, `video`, `image`, `application`, ... */
  type: string;
  /** The m= port; 0 means the stream is disabled or rejected (RFC 3264 §5.1, §6). */
  port: number;
  protocol: string;
  /** Payload types / formats from the m= line, verbatim. */
  formats: string[];
  /**
   * The connection address: the media-level c=, else the session-level c= (RFC 4566 §5.7).
   * Undefined if neither exists (an invalid SDP unless the port is 0). Multicast `/ttl` suffixes are cut.
   */
  address: string | undefined;
  /** `IP4` or `IP6`, from the c= line that gave `address`. */
  addressType: AddressType | undefined;
  /** True when `address` is `0.0.0.0` or `::`: old-style hold (RFC 3264 §8.4), no media to be sent there. */
  addressUnspecified: boolean;
  /** Where the party wants RTCP: the `a=rtcp` port (RFC 3605 §2.1), else port + 1 (RFC 3550 §11); 0 for a disabled stream. */
  rtcpPort: number;
  /** The `a=rtcp` address when it names one, else `address`. */
  rtcpAddress: string | undefined;
  /** Whether the stream carries an `a=rtcp` attribute. */
  hasRtcpAttribute: boolean;
  /** Whether the stream offers or accepts RTCP multiplexed on the RTP port (`a=rtcp-mux`, RFC 5761 §5.1.1). */
  rtcpMux: boolean;
  /** The media-level direction, else the session-level one, else `sendrecv` (RFC 3264 §5.1). */
  direction: MediaDirection;
  /** Number of `a=candidate` lines (RFC 8839 §5.1). */
  candidateCount: number;
  /** Whether the stream carries ICE attributes: candidates, ufrag, pwd (media or session level). */
  hasIce: boolean;
}

/** Reads every m= line of an SDP body (or of one already parsed with `parseSessionDescription`). */
export function readMediaStreams(sdp: Buffer | SessionDescription): MediaStream[] {
  const description = Buffer.isBuffer(sdp) ? parseSessionDescription(sdp) : sdp;
  const mLines = Buffer.isBuffer(sdp) ? sdp.toString('latin1').match(/^m=.*$/gm) ?? [] : undefined;
  return description.media.map((media, index) => {
    const line = mLines === undefined ? undefined : parseMediaLine(mLines[index]!);
    if (mLines !== undefined && line === undefined) throw badSdp(`SDP m= line ${index + 1} is malformed (RFC 4566 §5.14)`);
    return readMediaStream(description, media, index, line);
  });
}

function readMediaStream(
  description: SessionDescription,
  media: MediaDescription,
  index: number,
  line: MediaLine | undefined,
): MediaStream {
  const connection = media.connection ?? description.connection;
  const address = connection ? connection.ip.split('/')[0] : undefined;
  const addressType: AddressType | undefined = connection ? (connection.version === 6 ? 'IP6' : 'IP4') : undefined;
  const port = line?.port ?? media.port;
  const rtcp = media.rtcp;
  const hasIce = (media.candidates?.length ?? 0) > 0 || !!media.iceUfrag || !!media.icePwd || !!description.iceUfrag;
  return {
    index,
    type: line?.media ?? media.type,
    port,
    protocol: line?.protocol ?? media.protocol,
    formats: line?.formats ?? String(media.payloads ?? '').split(' ').filter((f) => f !== ''),
    address,
    addressType,
    addressUnspecified: address !== undefined && isUnspecifiedAddress(address),
    rtcpPort: port === 0 ? 0 : rtcp && Number.isInteger(rtcp.port) ? rtcp.port : port + 1,
    rtcpAddress: rtcp?.address ?? address,
    hasRtcpAttribute: rtcp !== undefined,
    rtcpMux: media.rtcpMux !== undefined,
    direction: media.direction ?? description.direction ?? 'sendrecv',
    candidateCount: media.candidates?.length ?? 0,
    hasIce,
  };
}
