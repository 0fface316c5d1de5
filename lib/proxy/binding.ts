import type { Params } from '../message/types.js';
import { type Uri, parseUri, uriEquals, formatHost } from '../message/uri.js';

/** Where a binding's REGISTER came from: the packet's source, as the transport stamped it. */
export interface BindingSource {
  address: string;
  port: number;
  transport: string;
}

/**
 * One binding of an address-of-record to a contact address (RFC 3261 §10, "binding"), with what
 * the registrar learned about the client's NAT. Plain data, so a store can serialize it (JSON).
 */
export interface Binding {
  /** Canonical AOR, `sip:user@domain` (see canonicalAor). */
  aor: string;
  /** The Contact URI the client registered, as it wrote it. */
  contact: string;
  /** Contact header parameters other than `expires` and `q`, echoed in the 200 OK. */
  params?: Params;
  /** When the binding expires, in ms since the epoch. */
  expiresAt: number;
  /** The `q` preference, 0 to 1 (RFC 3261 §20.10). */
  q?: number;
  /** Call-ID and CSeq of the REGISTER that last wrote this binding (§10.3 step 7). */
  callId: string;
  cseq: number;
  /** Where the REGISTER's packets came from. */
  source: BindingSource;
  /** Whether the NAT detector found the client behind NAT. */
  natted: boolean;
  /**
   * For a NATed client, the URI that reaches it: its public source as `sip:addr:port` (with
   * `;transport=` when not UDP), like Kamailio's `fix_nated_register()` "received" AVP. Requests
   * for this binding go there, with the Request-URI set to `contact`.
   */
  received?: string;
  /** RFC 5626 `+sip.instance` (unquoted, e.g. `<urn:uuid:...>`) and `reg-id`. */
  instance?: string;
  regId?: number;
  /** How the NAT keepalive pings this binding, when it does. */
  keepalive?: 'options' | 'crlf';
}

/**
 * The canonical form of an address-of-record (RFC 3261 §10.3 step 5): "all URI parameters MUST be
 * removed (including the user-param), and any escaped characters MUST be converted to their
 * unescaped form". natter also drops the password and port and lower-cases the host, so the AOR
 * is `scheme:user@host` (or `scheme:host` without a user), the key Kamailio's usrloc uses. The
 * user part is kept unescaped, as the RFC says, so the result is a key, not always a valid URI.
 */
export function canonicalAor(uri: Uri | string): string {
  const u = typeof uri === 'string' ? parseUri(uri) : uri;
  if (!u.isSip) return u.opaque !== undefined ? `${u.scheme}:${u.opaque}` : `${u.scheme}:${u.user ?? ''}`;
  const user = u.user !== undefined ? u.user + '@' : '';
  return `${u.scheme}:${user}${formatHost(u.host.toLowerCase())}`;
}

/** The URI a NATed binding is reached at: its source address (Kamailio's "received" URI). */
export function receivedUri(source: BindingSource): string {
  const t = source.transport.toLowerCase();
  return `sip:${formatHost(source.address)}:${source.port}${t === 'udp' ? '' : `;transport=${t}`}`;
}

/** Seconds until a binding expires, rounded up, never negative. */
export function remainingSeconds(binding: Binding, now: number): number {
  return Math.max(0, Math.ceil((binding.expiresAt - now) / 1000));
}

/**
 * Whether a binding is the one a contact refers to: the same RFC 5626 instance and reg-id when
 * both carry them, else the RFC 3261 §19.1.4 URI comparison of the Contact URIs (§10.3 step 7:
 * "searches the list of current bindings using the URI comparison rules").
 */
export function sameBinding(a: Pick<Binding, 'contact' | 'instance' | 'regId'>, b: Pick<Binding, 'contact' | 'instance' | 'regId'>): boolean {
  if (a.instance !== undefined && b.instance !== undefined && a.regId !== undefined && b.regId !== undefined) {
    return a.instance === b.instance && a.regId === b.regId;
  }
  if (a.contact === b.contact) return true;
  try {
    return uriEquals(parseUri(a.contact), parseUri(b.contact));
  } catch {
    return false;
  }
}
