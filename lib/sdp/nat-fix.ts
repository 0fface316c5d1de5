import { isUnspecifiedAddress } from './address.js';
import { connectionAddressOf, formatConnection, formatRtcp, requireAddressType, rtcpAddressOf } from './connection.js';
import { type IcePolicy, applyIcePolicy } from './ice.js';
import { formatOrigin, parseOrigin, withOriginAddress } from './origin.js';
import { type SdpLine, attributeName, joinSdpSections, splitSdpSections } from './sdp-lines.js';
import { parseSessionDescription } from './session-description.js';

/** Which parts of an SDP `fixNatedSdp` repairs. */
export interface NatFixOptions {
  /** Also rewrite the o= address (Kamailio's `FIX_ORGIP`, 0x08). Default false: o= only identifies the session. */
  origin?: boolean;
  /** Also rewrite the address of a long-form `a=rtcp` (RFC 3605). Default true. */
  rtcp?: boolean;
  /** ICE attributes: default `keep`; `strip-private` drops candidates that name private addresses. */
  ice?: IcePolicy;
}

/**
 * Repairs the SDP of a party behind NAT by naming its public address (the source address of its
 * SIP packets) instead of the private one it wrote, like Kamailio nathelper's `fix_nated_sdp` with
 * `FIX_MEDIP` (0x02): every c= line, session and media level. Ports are left alone (a NAT maps
 * them unpredictably; that is what latching in a relay is for). An unspecified address (`0.0.0.0`,
 * old-style hold, RFC 3264 §8.4) is kept. Switching family rewrites `IN IP4` / `IN IP6`.
 *
 * Throws RelayError `ERR_RELAY_BAD_SDP` (488) for an SDP that cannot be read.
 */
export function fixNatedSdp(body: Buffer, publicAddress: string, options: NatFixOptions = {}): Buffer {
  requireAddressType(publicAddress);
  parseSessionDescription(body);
  const sections = splitSdpSections(body);
  for (const section of [sections.session, ...sections.media]) {
    applyIcePolicy(section, options.ice ?? 'keep');
    section.forEach((line, i) => {
      section[i] = fixLine(line, publicAddress, options);
    });
  }
  return joinSdpSections(sections);
}

function fixLine(line: SdpLine, publicAddress: string, options: NatFixOptions): SdpLine {
  const connection = connectionAddressOf(line);
  if (connection !== undefined) {
    return isUnspecifiedAddress(connection) ? line : { text: formatConnection(publicAddress), eol: line.eol };
  }
  if (options.origin === true && line.text.startsWith('o=')) {
    const origin = parseOrigin(line.text);
    if (origin === undefined || isUnspecifiedAddress(origin.address)) return line;
    return { text: formatOrigin(withOriginAddress(origin, publicAddress, requireAddressType(publicAddress))), eol: line.eol };
  }
  if (options.rtcp !== false && attributeName(line) === 'rtcp') {
    const address = rtcpAddressOf(line);
    const port = /^a=rtcp:(\d+)/.exec(line.text)?.[1];
    if (address === undefined || port === undefined || isUnspecifiedAddress(address)) return line;
    return { text: formatRtcp(Number(port), publicAddress), eol: line.eol };
  }
  return line;
}
