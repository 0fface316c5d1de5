/**
 * Whether a datagram is RTCP rather than RTP, for counting packets on a port that carries both
 * (rtcp-mux). RFC 5761 §4: RTCP packet types 192-223 fall where the RTP marker bit and payload
 * type would be, and payload types 64-95 are not used for RTP with rtcp-mux, so "the second octet
 * of the packet" tells them apart. Anything else (RTP, STUN, DTLS) counts as RTP.
 */
export function isRtcpPacket(packet: Buffer): boolean {
  return packet.length >= 8 && packet[0]! >> 6 === 2 && packet[1]! >= 192 && packet[1]! <= 223;
}
