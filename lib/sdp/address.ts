import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { Address6 } from 'ip-address';

/** The SDP address type of a connection address: `IP4` or `IP6` (RFC 4566 §5.7). */
export type AddressType = 'IP4' | 'IP6';

/** `IP4` or `IP6` for an IP literal; undefined for anything else (an FQDN, an mDNS name, garbage). */
export function addressTypeOf(address: string): AddressType | undefined {
  if (isIPv4(address)) return 'IP4';
  if (isIPv6(address)) return 'IP6';
  return undefined;
}

/** The unspecified address of a type, what old-style hold writes into c= (RFC 3264 §8.4). */
export function unspecifiedAddress(type: AddressType): string {
  return type === 'IP4' ? '0.0.0.0' : '::';
}

/**
 * True for `0.0.0.0` and `::`. RFC 3264 §8.4: "an offerer MAY ... set the connection address to
 * 0.0.0.0" to put a stream on hold (the RFC 2543 way); such an address is never a destination.
 */
export function isUnspecifiedAddress(address: string): boolean {
  return address === '0.0.0.0' || (isIPv6(address) && canonicalAddress(address) === '::');
}

/**
 * One spelling per address, so that addresses from SDP and from `rinfo` compare equal: IPv6 in
 * RFC 5952 form (`0:0::1` → `::1`), IPv4 and non-IP text unchanged.
 */
export function canonicalAddress(address: string): string {
  if (!isIPv6(address)) return address;
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  return new Address6(bare).correctForm();
}

/** Whether two IP addresses are the same address, whatever their spelling. */
export function sameAddress(a: string, b: string): boolean {
  return a === b || canonicalAddress(a) === canonicalAddress(b);
}

const privateRanges = new BlockList();
// RFC 1918 private networks, RFC 6598 shared address space (carrier-grade NAT),
// RFC 1122 loopback, RFC 3927 link-local.
privateRanges.addSubnet('10.0.0.0', 8, 'ipv4');
privateRanges.addSubnet('172.16.0.0', 12, 'ipv4');
privateRanges.addSubnet('192.168.0.0', 16, 'ipv4');
privateRanges.addSubnet('100.64.0.0', 10, 'ipv4');
privateRanges.addSubnet('127.0.0.0', 8, 'ipv4');
privateRanges.addSubnet('169.254.0.0', 16, 'ipv4');
// RFC 4193 unique local, RFC 4291 link-local and loopback.
privateRanges.addSubnet('fc00::', 7, 'ipv6');
privateRanges.addSubnet('fe80::', 10, 'ipv6');
privateRanges.addAddress('::1', 'ipv6');

/** `::ffff:a00:1`, the RFC 5952 form of an IPv4-mapped address (RFC 4291 §2.5.5.2). */
const ipv4Mapped = /^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/;

/**
 * True for an address that means nothing outside its own network: RFC 1918, RFC 6598, loopback,
 * link-local, IPv6 ULA, IPv4-mapped forms of these, and mDNS names (`*.local`, which WebRTC
 * candidates use to hide a private address, RFC 8839 §5.1 / draft-ietf-mmusic-mdns-ice-candidates).
 */
export function isPrivateAddress(address: string): boolean {
  if (/\.local\.?$/i.test(address)) return true;
  if (isIPv4(address)) return privateRanges.check(address, 'ipv4');
  if (!isIPv6(address)) return false;
  const canonical = canonicalAddress(address);
  if (ipv4Mapped.test(canonical)) return privateRanges.check(new Address6(canonical).to4().correctForm(), 'ipv4');
  return privateRanges.check(canonical, 'ipv6');
}
