import { parse, SipRequest } from '../../lib/index.js';

export interface InviteParts {
  via?: string;
  contact?: string | null;
  sdp?: string | null;
  contentType?: string;
  method?: string;
}

export const SDP_PRIVATE = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.168.1.10',
  's=-',
  'c=IN IP4 192.168.1.10',
  't=0 0',
  'm=audio 49170 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

/** An INVITE as a client behind NAT sends it: Via, Contact and SDP name its LAN address. */
export function invite(parts: InviteParts = {}): SipRequest {
  const method = parts.method ?? 'INVITE';
  const body = parts.sdp === null ? '' : (parts.sdp ?? SDP_PRIVATE);
  const lines = [
    `${method} sip:bob@biloxi.example.com SIP/2.0`,
    `Via: ${parts.via ?? 'SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK776asdhds;rport'}`,
    'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.example.com>',
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710',
    `CSeq: 314159 ${method}`,
  ];
  if (parts.contact !== null) lines.push(`Contact: ${parts.contact ?? '<sip:alice@192.168.1.10:5060>'}`);
  if (body.length > 0) lines.push(`Content-Type: ${parts.contentType ?? 'application/sdp'}`);
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  const msg = parse(lines.join('\r\n'));
  if (!(msg instanceof SipRequest)) throw new Error('not a request');
  return msg;
}

/** The NAT's public side, as the transport reports the datagram's source. */
export const NAT_SOURCE = { address: '203.0.113.7', port: 40123, transport: 'udp' };
/** The client's own address and port (no NAT in the way). */
export const LAN_SOURCE = { address: '192.168.1.10', port: 5060, transport: 'udp' };
