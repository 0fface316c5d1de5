import type { Params } from './types.js';
import { isDigits, skipWs } from './charset.js';
import { SyntaxFault, formatParams, parseParams, scanToken } from './params.js';
import { formatHost, parseHostPort } from './uri.js';

/** RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this magic cookie. */
export const BRANCH_COOKIE = 'z9hG4bK';

/**
 * One Via hop (RFC 3261 §20.42, RFC 3581): sent-protocol, sent-by and parameters. `rport` is the
 * port number when the parameter has a value, `null` when present without one (a client asking
 * for symmetric response routing), undefined when absent.
 */
export class Via {
  protocol: string;
  transport: string;
  host: string;
  port: number | undefined;
  params: Params;

  constructor(init: { transport?: string; host: string; port?: number | undefined; params?: Params; protocol?: string }) {
    this.protocol = init.protocol ?? 'SIP/2.0';
    this.transport = (init.transport ?? 'UDP').toUpperCase();
    this.host = init.host;
    this.port = init.port;
    this.params = init.params ?? {};
  }

  get branch(): string | undefined {
    return str(this.params['branch']);
  }
  set branch(v: string | undefined) {
    setParam(this.params, 'branch', v);
  }
  get received(): string | undefined {
    const r = str(this.params['received']);
    // RFC 5118 §4.5: received may hold an IPv6 address with or without brackets
    return r !== undefined && r.charCodeAt(0) === 91 ? r.slice(1, -1) : r;
  }
  set received(v: string | undefined) {
    setParam(this.params, 'received', v);
  }
  get rport(): number | null | undefined {
    if (!Object.prototype.hasOwnProperty.call(this.params, 'rport')) return undefined;
    const v = this.params['rport'];
    return v === null || v === undefined ? null : Number(v);
  }
  set rport(v: number | null | undefined) {
    if (v === undefined) delete this.params['rport'];
    else this.params['rport'] = v === null ? null : String(v);
  }
  get maddr(): string | undefined {
    return str(this.params['maddr']);
  }
  get ttl(): number | undefined {
    const t = str(this.params['ttl']);
    return t === undefined ? undefined : Number(t);
  }

  clone(): Via {
    return new Via({ protocol: this.protocol, transport: this.transport, host: this.host, port: this.port, params: { ...this.params } });
  }

  toString(): string {
    const port = this.port !== undefined ? ':' + this.port : '';
    return `${this.protocol}/${this.transport} ${formatHost(this.host)}${port}${formatParams(this.params)}`;
  }
}

function str(v: string | null | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function setParam(p: Params, name: string, v: string | undefined): void {
  if (v === undefined) delete p[name];
  else p[name] = v;
}

/** Parses one via-parm (one element of the Via list). Throws SyntaxFault. */
export function parseVia(value: string): Via {
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH allows LWS around it
  let i: number;
  let name = 'SIP';
  let version = '2.0';
  let transport = 'UDP';
  if (value.startsWith('SIP/2.0/UDP ')) i = skipWs(value, 12);
  else {
    i = skipWs(value, 0);
    const parts: string[] = [];
    for (let k = 0; k < 3; k++) {
      const start = i;
      i = scanToken(value, i);
      if (i === start) throw new SyntaxFault('bad sent-protocol');
      parts.push(value.slice(start, i));
      i = skipWs(value, i);
      if (k < 2) {
        if (value.charCodeAt(i) !== 47 /* / */) throw new SyntaxFault('bad sent-protocol');
        i = skipWs(value, i + 1);
      }
    }
    [name, version, transport] = parts as [string, string, string];
    if (name.toUpperCase() !== 'SIP') throw new SyntaxFault(`unknown protocol ${name}`);
  }
  // sent-by: host [ COLON port ], ending at ; or , or whitespace before ;
  const start = i;
  if (value.charCodeAt(i) === 91) {
    const close = value.indexOf(']', i);
    if (close === -1) throw new SyntaxFault('unterminated IPv6 reference');
    i = close + 1;
  }
  while (i < value.length) {
    const c = value.charCodeAt(i);
    if (c === 59 || c === 32 || c === 9 || c === 44) break;
    i++;
  }
  let sentBy = value.slice(start, i);
  // LWS is allowed around the colon of sent-by in some stacks' output ("host : port"); RFC allows only COLON = SWS ":" SWS
  const afterWs = skipWs(value, i);
  if (value.charCodeAt(afterWs) === 58) {
    const portStart = skipWs(value, afterWs + 1);
    let portEnd = portStart;
    while (portEnd < value.length && isDigits(value[portEnd]!)) portEnd++;
    sentBy += ':' + value.slice(portStart, portEnd);
    i = portEnd;
  } else if (sentBy.endsWith(':')) {
    const portStart = skipWs(value, i);
    let portEnd = portStart;
    while (portEnd < value.length && isDigits(value[portEnd]!)) portEnd++;
    sentBy += value.slice(portStart, portEnd);
    i = portEnd;
  }
  const hp: { host: string; port: number | undefined } = { host: '', port: undefined };
  parseHostPort(sentBy, hp);
  const params: Params = {};
  const end = parseParams(value, i, params);
  if (skipWs(value, end) !== value.length) throw new SyntaxFault(`unexpected text: ${value.slice(end)}`);
  const rport = params['rport'];
  if (typeof rport === 'string' && (!isDigits(rport) || Number(rport) > 65535)) throw new SyntaxFault('bad rport');
  const ttl = params['ttl'];
  if (ttl !== undefined && (typeof ttl !== 'string' || !isDigits(ttl) || Number(ttl) > 255)) throw new SyntaxFault('bad ttl');
  return new Via({ protocol: `${name}/${version}`, transport, host: hp.host, port: hp.port, params });
}
