import { isIP } from 'node:net';
import { Address4, Address6 } from 'ip-address';

/**
 * Where an address can be reached from, which is what a NAT test asks of an address written in a
 * message:
 *
 * - `private`: RFC 1918 (10/8, 172.16/12, 192.168/16)
 * - `shared`: RFC 6598 shared address space 100.64/10, the inside of a carrier-grade NAT
 * - `loopback`: 127/8 (RFC 1122) and ::1
 * - `link-local`: 169.254/16 (RFC 3927) and fe80::/10 (RFC 4291)
 * - `unique-local`: fc00::/7 (RFC 4193), the IPv6 counterpart of RFC 1918
 * - `unspecified`: 0.0.0.0 and ::, which SDP uses for hold (RFC 3264 §8.4), never a destination
 * - `public`: any other IP address
 * - `name`: not an IP literal (a domain name); nothing can be said without DNS
 *
 * An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, RFC 4291 §2.5.5.2) has the scope of the IPv4
 * address inside it.
 */
export type AddressScope = 'private' | 'shared' | 'loopback' | 'link-local' | 'unique-local' | 'unspecified' | 'public' | 'name';

/** The scopes that mean "this address is not reachable from the Internet" (what the NAT tests look for). */
export const NON_PUBLIC_SCOPES: ReadonlySet<AddressScope> = new Set<AddressScope>(['private', 'shared', 'loopback', 'link-local', 'unique-local']);

/** Strips IPv6 brackets and a zone index (`[fe80::1%eth0]` → `fe80::1`). */
function bare(address: string): string {
  let a = address.trim();
  if (a.charCodeAt(0) === 91 /* [ */ && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  return zone === -1 ? a : a.slice(0, zone);
}

/** True when `host` is an IPv4 or IPv6 literal (brackets and a zone index allowed), false for a name. */
export function isIpLiteral(host: string): boolean {
  return isIP(bare(host)) !== 0;
}

/**
 * One spelling per IP address, so that an address written in a message and the address a packet
 * came from compare as strings: IPv6 in RFC 5952 form (`2001:0db8:0:0::1` → `2001:db8::1`), an
 * IPv4-mapped IPv6 address as its IPv4 address (`::ffff:192.0.2.1` → `192.0.2.1`, which is what a
 * dual-stack socket reports for an IPv4 peer), brackets and zone index removed. Anything that is
 * not an IP literal is returned lower-cased (host names compare case-insensitively).
 */
export function canonicalIp(address: string): string {
  const a = bare(address);
  const family = isIP(a);
  if (family === 4) return new Address4(a).correctForm();
  if (family === 6) {
    const v6 = new Address6(a);
    if (v6.isMapped4()) return v6.to4().correctForm();
    return v6.correctForm();
  }
  return a.toLowerCase();
}

/** Whether two addresses are the same address whatever their spelling (see canonicalIp). */
export function sameIp(a: string, b: string): boolean {
  return a === b || canonicalIp(a) === canonicalIp(b);
}

function scope4(a: Address4): AddressScope {
  if (a.isUnspecified()) return 'unspecified';
  if (a.isPrivate()) return 'private';
  if (a.isCGNAT()) return 'shared';
  if (a.isLoopback()) return 'loopback';
  if (a.isLinkLocal()) return 'link-local';
  return 'public';
}

/** The scope of an address (see AddressScope); `name` for anything that is not an IP literal. */
export function addressScope(address: string): AddressScope {
  const a = bare(address);
  const family = isIP(a);
  if (family === 4) return scope4(new Address4(a));
  if (family !== 6) return 'name';
  const v6 = new Address6(a);
  if (v6.isMapped4()) return scope4(v6.to4());
  const canonical = v6.correctForm();
  if (canonical === '::') return 'unspecified';
  if (canonical === '::1') return 'loopback';
  if (v6.isInSubnet(new Address6('fe80::/10'))) return 'link-local';
  if (v6.isInSubnet(new Address6('fc00::/7'))) return 'unique-local';
  return 'public';
}

/**
 * True for an IP address that is not reachable from outside its own network: RFC 1918, RFC 6598
 * (carrier-grade NAT), loopback, link-local, IPv6 unique-local, and IPv4-mapped forms of these.
 * False for public addresses, the unspecified address, and names. Kamailio's `nat_uac_test`
 * checks only RFC 1918 and RFC 6598; natter's tests use this wider set.
 */
export function isPrivateNetworkAddress(address: string): boolean {
  return NON_PUBLIC_SCOPES.has(addressScope(address));
}
