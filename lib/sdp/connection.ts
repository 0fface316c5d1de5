import { InvalidArgumentError } from '../errors.js';
import { type AddressType, addressTypeOf } from './address.js';
import type { SdpLine } from './sdp-lines.js';

/** A c= line (RFC 4566 §5.7): `c=IN <addrtype> <connection-address>`, unicast, no TTL. */
export function formatConnection(address: string): string {
  return `c=IN ${requireAddressType(address)} ${address}`;
}

/** The address of a c= line, without a multicast `/ttl` suffix; undefined for another kind of line. */
export function connectionAddressOf(line: SdpLine): string | undefined {
  const match = /^c=IN +IP[46] +([^\s/]+)/.exec(line.text);
  return match ? match[1] : undefined;
}

/**
 * An `a=rtcp` line (RFC 3605 §2.1): `a=rtcp:<port> [IN <addrtype> <address>]`. With `address`
 * omitted the attribute says "RTCP goes to this port at the c= address".
 */
export function formatRtcp(port: number, address?: string): string {
  return address === undefined ? `a=rtcp:${port}` : `a=rtcp:${port} IN ${requireAddressType(address)} ${address}`;
}

/** Whether an `a=rtcp` line names an address (the long form of RFC 3605 §2.1). */
export function rtcpHasAddress(line: SdpLine): boolean {
  return /^a=rtcp:\d+ +IN +/i.test(line.text);
}

/** The address of an `a=rtcp` line's long form, else undefined. */
export function rtcpAddressOf(line: SdpLine): string | undefined {
  const match = /^a=rtcp:\d+ +IN +IP[46] +(\S+)/i.exec(line.text);
  return match ? match[1] : undefined;
}

/** `IP4` or `IP6` for an IP literal; an InvalidArgumentError for anything else (a relay address must be an IP). */
export function requireAddressType(address: string): AddressType {
  const type = addressTypeOf(address);
  if (type === undefined) throw new InvalidArgumentError(`not an IP address: ${address}`);
  return type;
}
