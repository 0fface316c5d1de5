/**
 * Small helpers over the raw text of Via header-field values. The transport needs them where the
 * message layer cannot help: to answer a request that failed to parse (only raw header text is
 * known, RFC 3261 §8.2.6.2) and to stamp `received`/`rport` without reformatting the rest of the
 * value (RFC 3261 §18.2.1, RFC 3581 §4).
 */
import { isIP } from 'node:net';

/** The fields of one Via value that response routing needs (RFC 3261 §18.2.2, RFC 3581 §4). */
export interface ViaRouting {
  transport: string;
  host: string;
  port: number | undefined;
  branch?: string | undefined;
  received?: string | undefined;
  /** null: present without a value. */
  rport?: number | null | undefined;
  maddr?: string | undefined;
}

/** Splits a header value on commas that are outside quoted strings and <...> (RFC 3261 §7.3.1). */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') angle = true;
    else if (c === '>') angle = false;
    else if (c === ',' && !angle) {
      const part = value.slice(start, i).trim();
      if (part !== '') out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last !== '') out.push(last);
  return out;
}

/** Splits `a;b=c;d` on semicolons outside quoted strings. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ';') {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  out.push(value.slice(start));
  return out;
}

const SENT_PROTOCOL = /^\s*SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9.!%*_+`'~-]+)\s+/i;

/** Parses one raw Via value far enough to route a response; undefined when it is not a Via. */
export function parseViaText(raw: string): ViaRouting | undefined {
  const m = SENT_PROTOCOL.exec(raw);
  if (m === null) return undefined;
  const rest = raw.slice(m[0].length);
  const [sentBy = '', ...params] = splitParams(rest);
  const hp = parseSentBy(sentBy.trim());
  if (hp === undefined) return undefined;
  const via: ViaRouting = { transport: (m[1] ?? '').toUpperCase(), host: hp.host, port: hp.port };
  for (const p of params) {
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : p.slice(eq + 1).trim();
    if (name === 'branch') via.branch = value;
    else if (name === 'received' && value !== undefined) via.received = stripBrackets(value);
    else if (name === 'maddr' && value !== undefined) via.maddr = stripBrackets(value);
    else if (name === 'rport') {
      if (value === undefined || value === '') via.rport = null;
      else if (/^\d{1,5}$/.test(value)) via.rport = Number(value);
    }
  }
  return via;
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** Parses `host[:port]` where host may be an IPv6 reference in brackets. */
export function parseSentBy(s: string): { host: string; port: number | undefined } | undefined {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return undefined;
    host = s.slice(1, close);
    const after = s.slice(close + 1).trim();
    if (after.startsWith(':')) portText = after.slice(1).trim();
    else if (after !== '') return undefined;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon >= 0 && s.indexOf(':') === colon) {
      host = s.slice(0, colon).trim();
      portText = s.slice(colon + 1).trim();
    } else if (colon >= 0) {
      return undefined; // a bare IPv6 address without brackets is not a valid sent-by
    } else host = s;
  }
  if (host === '' || /[\s;,]/.test(host)) return undefined;
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
    if (port > 65535) return undefined;
  }
  return { host, port };
}

/**
 * Returns the raw Via value with `received` set (replacing any present) and, when `rport` is given,
 * the valueless `rport` filled in; every other byte of the value is kept.
 */
export function stampViaText(raw: string, received: string | undefined, rport: number | undefined): string {
  const parts = splitParams(raw);
  const out: string[] = [(parts[0] ?? '').trimEnd()];
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    if (name === 'received' && received !== undefined) continue;
    if (name === 'rport' && rport !== undefined) {
      out.push('rport=' + rport);
      continue;
    }
    out.push(p.trim());
  }
  if (received !== undefined) out.push('received=' + received);
  return out.join(';');
}

/** Canonical text of an IP address for comparisons (IPv6 compressed and lower-case, IPv4-mapped unwrapped). */
export function normalizeAddress(address: string): string {
  let a = address.toLowerCase();
  const pct = a.indexOf('%');
  if (pct >= 0) a = a.slice(0, pct);
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  if (isIP(a) === 6) {
    try {
      a = new URL('http://[' + a + ']/').hostname.slice(1, -1);
    } catch {
      return a;
    }
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a) ?? /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
    if (mapped !== null) {
      if (mapped.length === 2) return mapped[1] ?? a;
      const hi = parseInt(mapped[1] ?? '0', 16);
      const lo = parseInt(mapped[2] ?? '0', 16);
      return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
    }
  }
  return a;
}

/** Writes a host for a URI or sent-by: IPv6 addresses in brackets (RFC 3261 §25.1, RFC 5118). */
export function formatHost(host: string): string {
  return isIP(host) === 6 ? '[' + host + ']' : host;
}
