import type { Uri } from '../message/uri.js';

/**
 * Who the proxy is: the addresses and names that mean "this proxy" in a Route, Record-Route or
 * Request-URI (RFC 3261 §16.4), and the URI it writes into Record-Route and Via.
 */
export interface LocalIdentity {
  /** Host written into Via and Record-Route (the advertised address). */
  host: string;
  port: number;
  /** Every host that names this proxy: listen and advertised addresses, configured names. */
  aliases: ReadonlySet<string>;
}

/** RFC 3261 §19.1.2: an absent port means the scheme's default, 5060 for sip, 5061 for sips. */
export function defaultPort(uri: Uri): number {
  return uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060);
}

/** True when the URI names this proxy (host among its aliases, same port). */
export function isLocalUri(uri: Uri, self: LocalIdentity): boolean {
  if (!uri.isSip) return false;
  return self.aliases.has(uri.host.toLowerCase()) && defaultPort(uri) === self.port;
}
