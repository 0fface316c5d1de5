import { isIPv6 } from 'node:net';
import type { Params } from './types.js';
import { HOST, PASSWORD, URI_HEADER, URI_PARAM, USER, allIn, escape, unescape } from './charset.js';
import { SyntaxFault } from './params.js';
import { SipParseError } from '../errors.js';

export interface UriInit {
  scheme?: string;
  user?: string | undefined;
  password?: string | undefined;
  host?: string;
  port?: number | undefined;
  params?: Params;
  headers?: Record<string, string>;
}

/**
 * A SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966). The user part, password, parameters and
 * headers hold decoded text; `toString()` escapes them again. The host is bare (no IPv6 brackets).
 * A URI of any other scheme is kept opaque: `scheme` plus `opaque`, the text after the colon.
 */
export class Uri {
  scheme: string;
  user: string | undefined;
  password: string | undefined;
  host: string;
  port: number | undefined;
  params: Params;
  headers: Record<string, string>;
  /** For schemes other than sip, sips and tel: the text after `scheme:`, verbatim. */
  opaque: string | undefined;

  constructor(init: UriInit = {}) {
    const scheme = init.scheme;
    this.scheme = scheme === undefined || scheme === 'sip' ? 'sip' : scheme.toLowerCase();
    this.user = init.user;
    this.password = init.password;
    this.host = init.host ?? '';
    this.port = init.port;
    this.params = init.params ?? {};
    this.headers = init.headers ?? {};
    this.opaque = undefined;
  }

  get isSip(): boolean {
    return this.scheme === 'sip' || this.scheme === 'sips';
  }

  /** The `transport` URI parameter, lower-cased, if present. */
  get transport(): string | undefined {
    const t = this.params['transport'];
    return typeof t === 'string' ? t.toLowerCase() : undefined;
  }

  clone(): Uri {
    const u = new Uri({
      scheme: this.scheme,
      user: this.user,
      password: this.password,
      host: this.host,
      port: this.port,
      params: { ...this.params },
      headers: { ...this.headers },
    });
    u.opaque = this.opaque;
    return u;
  }

  toString(): string {
    if (this.opaque !== undefined) return this.scheme + ':' + this.opaque;
    if (this.scheme === 'tel') return 'tel:' + (this.user ?? '') + formatUriParams(this.params);
    let out = this.scheme + ':';
    if (this.user !== undefined) {
      out += escape(this.user, USER);
      if (this.password !== undefined) out += ':' + escape(this.password, PASSWORD);
      out += '@';
    }
    out += formatHost(this.host);
    if (this.port !== undefined) out += ':' + this.port;
    out += formatUriParams(this.params);
    let sep = '?';
    for (const name in this.headers) {
      out += sep + escape(name, URI_HEADER) + '=' + escape(this.headers[name]!, URI_HEADER);
      sep = '&';
    }
    return out;
  }
}

/** Writes a host, bracketing an IPv6 address (RFC 3261 §25.1 IPv6reference). */
export function formatHost(host: string): string {
  return host.indexOf(':') !== -1 ? '[' + host + ']' : host;
}

function formatUriParams(params: Params): string {
  let out = '';
  for (const name in params) {
    const v = params[name];
    out += ';' + escape(name, URI_PARAM);
    if (v !== null && v !== undefined) out += '=' + escape(v, URI_PARAM);
  }
  return out;
}

function decode(s: string, what: string): string {
  const d = unescape(s);
  if (d === undefined) throw new SyntaxFault(`bad escape in ${what}`);
  return d;
}

/** IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, each at most 255. */
export function isIPv4Address(s: string): boolean {
  let groups = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i === s.length ? 46 : s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || value > 255) return false;
      groups++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
    } else return false;
  }
  return groups === 4;
}

/**
 * The address inside an IPv6 reference, or undefined when it is none. RFC 5118 §4.10: RFC 3261's
 * ABNF admits a stray third colon before an embedded IPv4 address (`2001:db8:::192.0.2.1`), and
 * "an implementation must tolerate both" forms: such an address is read as its two-colon form.
 */
export function ipv6Reference(text: string): string | undefined {
  if (isIPv6(text)) return text;
  const fixed = text.replace(':::', '::');
  return fixed !== text && isIPv6(fixed) ? fixed : undefined;
}

/**
 * Parses hostport (RFC 3261 §25.1: host [ ":" port ]) into target.host/target.port. Used by URIs
 * and by Via sent-by. Throws SyntaxFault.
 */
export function parseHostPort(s: string, target: { host: string; port: number | undefined }): void {
  let host: string;
  let portAt: number;
  if (s.charCodeAt(0) === 91 /* [ */) {
    const close = s.indexOf(']');
    if (close === -1) throw new SyntaxFault('unterminated IPv6 reference');
    const v6 = ipv6Reference(s.slice(1, close));
    if (v6 === undefined) throw new SyntaxFault(`bad IPv6 address ${s.slice(1, close)}`);
    host = v6;
    portAt = close + 1;
  } else {
    const colon = s.indexOf(':');
    portAt = colon === -1 ? s.length : colon;
    host = colon === -1 ? s : s.slice(0, colon);
    if (host.length === 0 || !allIn(host, HOST)) throw new SyntaxFault(`bad host ${host}`);
    // a name is never all digits and dots; such a host must be a valid IPv4 address
    if (isDigitsAndDots(host) && !isIPv4Address(host)) throw new SyntaxFault(`bad IPv4 address ${host}`);
  }
  target.host = host;
  if (portAt === s.length) {
    target.port = undefined;
    return;
  }
  if (s.charCodeAt(portAt) !== 58 /* : */) throw new SyntaxFault(`unexpected text after host: ${s.slice(portAt)}`);
  let port = 0;
  const digits = s.length - portAt - 1;
  if (digits < 1 || digits > 5) throw new SyntaxFault(`bad port ${s.slice(portAt + 1)}`);
  for (let i = portAt + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) throw new SyntaxFault(`bad port ${s.slice(portAt + 1)}`);
    port = port * 10 + (c - 48);
  }
  if (port > 65535) throw new SyntaxFault(`bad port ${port}`);
  target.port = port;
}

function isDigitsAndDots(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 46 && (c < 48 || c > 57)) return false;
  }
  return true;
}

/** Splits `;a=b;c` URI parameters (already isolated) into a decoded map. */
function parseUriParams(s: string, into: Params): void {
  if (s.length === 0) return;
  for (const part of s.split(';')) {
    if (part.length === 0) throw new SyntaxFault('empty URI parameter');
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? null : part.slice(eq + 1);
    if (!allIn(name, URI_PARAM) || name.length === 0) throw new SyntaxFault(`bad URI parameter ${part}`);
    if (value !== null && !allIn(value, URI_PARAM)) throw new SyntaxFault(`bad URI parameter value ${part}`);
    into[decode(name, 'URI parameter').toLowerCase()] = value === null ? null : decode(value, 'URI parameter');
  }
}

/** Parses a URI; throws SyntaxFault (internal). */
export function parseUriText(text: string): Uri {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new SyntaxFault(`no scheme in URI ${text}`);
  let scheme = text.slice(0, colon);
  if (scheme !== 'sip') {
    scheme = scheme.toLowerCase();
    // RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) throw new SyntaxFault(`bad URI scheme ${scheme}`);
  }
  const uri = new Uri({ scheme });
  const rest = text.slice(colon + 1);
  if (scheme === 'tel') {
    const semi = rest.indexOf(';');
    const number = semi === -1 ? rest : rest.slice(0, semi);
    if (number.length === 0 || !/^[0-9A-Fa-f*#+().\-%]+$/.test(number)) throw new SyntaxFault(`bad tel number ${number}`);
    uri.user = decode(number, 'tel number');
    if (semi !== -1) parseUriParams(rest.slice(semi + 1), uri.params);
    return uri;
  }
  if (scheme !== 'sip' && scheme !== 'sips') {
    if (rest.length === 0 || /[\s<>"]/.test(rest)) throw new SyntaxFault(`bad ${scheme} URI`);
    uri.opaque = rest;
    return uri;
  }
  let hostStart = 0;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    const pc = userinfo.indexOf(':');
    const user = pc === -1 ? userinfo : userinfo.slice(0, pc);
    if (user.length === 0 || !allIn(user, USER)) throw new SyntaxFault(`bad user part ${user}`);
    uri.user = decode(user, 'user part');
    if (pc !== -1) {
      const password = userinfo.slice(pc + 1);
      if (!allIn(password, PASSWORD)) throw new SyntaxFault('bad password');
      uri.password = decode(password, 'password');
    }
    hostStart = at + 1;
  }
  let hostEnd = rest.length;
  const q = rest.indexOf('?', hostStart);
  if (q !== -1) hostEnd = q;
  const semi = rest.indexOf(';', hostStart);
  if (semi !== -1 && semi < hostEnd) {
    parseUriParams(rest.slice(semi + 1, hostEnd), uri.params);
    hostEnd = semi;
  }
  parseHostPort(rest.slice(hostStart, hostEnd), uri);
  if (q !== -1) {
    for (const part of rest.slice(q + 1).split('&')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new SyntaxFault(`bad URI header ${part}`);
      const name = part.slice(0, eq);
      const value = part.slice(eq + 1);
      if (!allIn(name, URI_HEADER) || !allIn(value, URI_HEADER)) throw new SyntaxFault(`bad URI header ${part}`);
      uri.headers[decode(name, 'URI header')] = decode(value, 'URI header');
    }
  }
  return uri;
}

/** Parses a URI (sip, sips, tel; other schemes are kept opaque). Throws SipParseError. */
export function parseUri(text: string): Uri {
  try {
    return parseUriText(text);
  } catch (e) {
    if (e instanceof SyntaxFault) throw new SipParseError(`Bad URI: ${e.message}`);
    throw e;
  }
}

function paramValue(p: Params, name: string): string | null | undefined {
  return Object.prototype.hasOwnProperty.call(p, name) ? p[name] : undefined;
}

/**
 * URI comparison, RFC 3261 §19.1.4: user and password compare case-sensitively, host
 * case-insensitively, an absent port differs from an explicit default one, the user, ttl, method,
 * maddr and transport parameters must match when either URI has them, other parameters only when
 * both have them, and headers must match in both directions.
 */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (a.opaque !== undefined || b.opaque !== undefined) return a.opaque === b.opaque;
  if (a.user !== b.user || a.password !== b.password) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  const lower = (v: string | null | undefined): string | null | undefined => (typeof v === 'string' ? v.toLowerCase() : v);
  for (const name of ['user', 'ttl', 'method', 'maddr', 'transport']) {
    if (lower(paramValue(a.params, name)) !== lower(paramValue(b.params, name))) return false;
  }
  for (const name in a.params) {
    const bv = paramValue(b.params, name);
    if (bv === undefined) continue;
    if (lower(a.params[name]) !== lower(bv)) return false;
  }
  const ah = Object.keys(a.headers);
  if (ah.length !== Object.keys(b.headers).length) return false;
  for (const name of ah) {
    const match = Object.keys(b.headers).find((n) => n.toLowerCase() === name.toLowerCase());
    if (match === undefined || b.headers[match] !== a.headers[name]) return false;
  }
  return true;
}
