import { isUnspecifiedAddress, unspecifiedAddress } from './address.js';
import { formatConnection, formatRtcp, requireAddressType, rtcpHasAddress } from './connection.js';
import { type IcePolicy, applyIcePolicy } from './ice.js';
import { parseMediaLine } from './media-line.js';
import { type MediaStream, readMediaStreams } from './media-streams.js';
import { type OriginMemory, formatOrigin, nextOriginVersion, parseOrigin, withOriginAddress } from './origin.js';
import { type SdpLine, type SdpSections, attributeName, insertMediaLine, joinSdpSections, lineEndOf, splitSdpSections } from './sdp-lines.js';
import { badSdp } from './session-description.js';

/** Where a relay receives one media stream: what the SDP it hands out must name. */
export interface RelayEndpoint {
  /** The relay's address for this stream (IPv4 or IPv6 literal); written into c= and a=rtcp. */
  address: string;
  /** The relay's RTP port, written into the m= line. */
  rtpPort: number;
  /** The relay's RTCP port; undefined when the relay takes RTCP on `rtpPort` (rtcp-mux, RFC 5761). */
  rtcpPort?: number | undefined;
}

/** How to rewrite an SDP so that it names a relay. */
export interface RelayRewrite {
  /**
   * One entry per m= line, by position. An endpoint rewrites that stream to the relay; null or
   * undefined leaves the m= line alone (a disabled stream, port 0, that the relay does not carry).
   */
  streams: readonly (RelayEndpoint | null | undefined)[];
  /** The address for the o= line; default: the first endpoint's address. */
  originAddress?: string;
  /**
   * What was remembered of the last SDP sent to the same party (from a previous result's
   * `originMemory`), so the o= version counts up on a change and stays on a repeat (RFC 3264 §8).
   * Omitted: the party's own version is kept.
   */
  previous?: OriginMemory | undefined;
  /** ICE attributes: `strip` (default) removes them all, so no candidate bypasses the relay. */
  ice?: IcePolicy;
}

/** A rewritten SDP and what to remember for numbering the next one. */
export interface RelayRewriteResult {
  sdp: Buffer;
  originMemory: OriginMemory;
}

/**
 * Rewrites an SDP so that every relayed stream names the relay: session and media c=, o= address,
 * m= port, a=rtcp; ICE attributes removed. Every other line (codecs, fmtp, ptime, direction,
 * bandwidth, crypto) is left byte for byte. Rewriting to an address of the other family switches
 * `IN IP4` / `IN IP6`. A stream whose connection address was `0.0.0.0` (old-style hold, RFC 3264
 * §8.4) keeps an unspecified address, so the hold still reaches the other party.
 *
 * Throws RelayError `ERR_RELAY_BAD_SDP` (488) for an SDP that cannot be read.
 */
export function rewriteForRelay(body: Buffer, rewrite: RelayRewrite): RelayRewriteResult {
  const streams = readMediaStreams(body);
  const sections = splitSdpSections(body);
  if (sections.media.length !== streams.length) throw badSdp('SDP m= lines could not be matched to streams');
  const eol = lineEndOf(sections);
  const ice = rewrite.ice ?? 'strip';
  const first = rewrite.streams.find((endpoint): endpoint is RelayEndpoint => !!endpoint);

  applyIcePolicy(sections.session, ice);
  const sessionTarget = first === undefined ? undefined : connectionTarget(streams[rewrite.streams.indexOf(first)]!, first);
  if (sessionTarget !== undefined) replaceConnections(sections.session, sessionTarget);
  const sessionConnection = sections.session.some((line) => line.text.startsWith('c='));

  sections.media.forEach((section, index) => {
    applyIcePolicy(section, ice);
    const endpoint = rewrite.streams[index];
    if (!endpoint) return;
    const target = connectionTarget(streams[index]!, endpoint);
    rewriteMediaPort(section, endpoint.rtpPort);
    const hasConnection = replaceConnections(section, target);
    if (!hasConnection && (!sessionConnection || target !== sessionTarget)) {
      insertMediaLine(section, formatConnection(target), eol);
    }
    rewriteRtcp(section, endpoint, eol);
  });

  return numberOrigin(sections, rewrite.originAddress ?? first?.address, rewrite.previous);
}

/** The c= address a stream gets: the relay's, or the unspecified address if the party put it on hold. */
function connectionTarget(stream: MediaStream, endpoint: RelayEndpoint): string {
  const type = requireAddressType(endpoint.address);
  return stream.addressUnspecified ? unspecifiedAddress(type) : endpoint.address;
}

/** Sets every c= line of a section to `address`; returns whether the section had one. */
function replaceConnections(section: SdpLine[], address: string): boolean {
  let found = false;
  section.forEach((line, i) => {
    if (!line.text.startsWith('c=')) return;
    found = true;
    section[i] = { text: formatConnection(address), eol: line.eol };
  });
  return found;
}

/** Sets the m= port, dropping a `/<number of ports>` suffix: the relay gives one port (pair) per stream. */
function rewriteMediaPort(section: SdpLine[], port: number): void {
  const line = section[0]!;
  const media = parseMediaLine(line.text);
  if (!media) throw badSdp(`SDP line "${line.text}" is malformed (RFC 4566 §5.14)`);
  const formats = media.formats.length > 0 ? ` ${media.formats.join(' ')}` : '';
  section[0] = { text: `m=${media.media} ${port} ${media.protocol}${formats}`, eol: line.eol };
}

/**
 * Points a=rtcp at the relay (RFC 3605 §2.1), keeping the short or long form the party used. With
 * rtcp-mux on the relay side the port is the RTP port (RFC 5761 §5.1.3). Without an a=rtcp line,
 * one is added only when the relay's RTCP port is not RTP + 1, the default of RFC 3550 §11.
 */
function rewriteRtcp(section: SdpLine[], endpoint: RelayEndpoint, eol: string): void {
  const port = endpoint.rtcpPort ?? endpoint.rtpPort;
  const at = section.findIndex((line) => attributeName(line) === 'rtcp');
  if (at !== -1) {
    const line = section[at]!;
    section[at] = { text: formatRtcp(port, rtcpHasAddress(line) ? endpoint.address : undefined), eol: line.eol };
  } else if (endpoint.rtcpPort !== undefined && endpoint.rtcpPort !== endpoint.rtpPort + 1) {
    insertMediaLine(section, formatRtcp(endpoint.rtcpPort), eol);
  }
}

/** Sets the o= address and numbers the SDP against the last one sent (RFC 3264 §8). */
function numberOrigin(sections: SdpSections, address: string | undefined, previous: OriginMemory | undefined): RelayRewriteResult {
  const at = sections.session.findIndex((line) => line.text.startsWith('o='));
  const line = sections.session[at];
  let origin = line === undefined ? undefined : parseOrigin(line.text);
  if (line === undefined || origin === undefined) throw badSdp('SDP o= line is malformed (RFC 4566 §5.2)');
  if (address !== undefined && !isUnspecifiedAddress(address)) {
    origin = withOriginAddress(origin, address, requireAddressType(address));
  }
  sections.session[at] = { text: formatOrigin(origin), eol: line.eol };
  const { version, memory } = nextOriginVersion(previous, joinSdpSections(sections).toString('latin1'), origin);
  sections.session[at] = { text: formatOrigin({ ...origin, sessionVersion: version }), eol: line.eol };
  return { sdp: joinSdpSections(sections), originMemory: memory };
}
