import type { Params } from './types.js';
import { HOST, isDigits, skipWs } from './charset.js';
import { SyntaxFault, findParam, formatParams, parseParams, paramMap, scanToken } from './params.js';
import { formatHost, parseHostPort } from './uri.js';

/** RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this magic cookie. */
export const BRANCH_COOKIE = 'z9hG4bK';

/** What `new Via()` is given when the parser builds a lazy view (the fields are then read from the text). */
const LAZY = { host: '' };
/** A parameter position the parser did not mark: the view scans the text for it. */
const UNMARKED = -2;

/**
 * One Via hop (RFC 3261 §20.42, RFC 3581): sent-protocol, sent-by and parameters. `rport` is the
 * port number when the parameter has a value, `null` when present without one (a client asking
 * for symmetric response routing), undefined when absent.
 *
 * A Via the parser hands out wraps the text of its checked header: sent-protocol and sent-by are
 * decoded when first read, the parameter map when `params` (or a setter) is first used, and the
 * parameter getters scan the text until then.
 */
export class Via {
  #protocol: string;
  #transport: string;
  #host: string;
  #port: number | undefined;
  /** undefined while the parameters are only in #text */
  #params: Params | undefined;
  /** the via-parm text of a view the parser built (see _checked) */
  #text: string | undefined;
  /** whether sent-protocol and sent-by are in the fields (always, unless built from #text) */
  #decoded: boolean;
  /** where the parameters start in #text (-1 until first needed) */
  #paramsAt: number;
  /** where the branch value is in #text, when the parser marked it (-1: none; UNMARKED: not marked) */
  #branchStart: number;
  #branchEnd: number;

  constructor(init: { transport?: string; host: string; port?: number | undefined; params?: Params; protocol?: string }) {
    // every field is set once, here: a lazy view (LAZY) gets its text and marks in _checked
    const lazy = init === LAZY;
    this.#protocol = lazy ? '' : init.protocol ?? 'SIP/2.0';
    this.#transport = lazy || init.transport === undefined ? 'UDP' : init.transport.toUpperCase();
    this.#host = init.host;
    this.#port = init.port;
    this.#params = lazy ? undefined : init.params ?? {};
    this.#text = undefined;
    this.#decoded = !lazy;
    this.#paramsAt = 0;
    this.#branchStart = UNMARKED;
    this.#branchEnd = 0;
  }

  /**
   * @internal a view over via-parm text that check-header.scanVia accepted, with the bounds of the
   * branch value when the parser marked them
   */
  static _checked(this: void, text: string, branchStart: number = UNMARKED, branchEnd = 0): Via {
    const via = new Via(LAZY);
    via.#text = text;
    via.#branchStart = branchStart;
    via.#branchEnd = branchEnd;
    via.#paramsAt = -1;
    return via;
  }

  /** Where the parameters start in #text. */
  #paramsStart(): number {
    if (this.#paramsAt === -1) {
      // sent-protocol and sent-by hold no ";" (scanVia turns down IPv6 references)
      const semi = this.#text!.indexOf(';');
      this.#paramsAt = semi === -1 ? this.#text!.length : semi;
    }
    return this.#paramsAt;
  }

  get protocol(): string {
    if (!this.#decoded) this.#decode();
    return this.#protocol;
  }
  set protocol(v: string) {
    if (!this.#decoded) this.#decode();
    this.#protocol = v;
  }
  get transport(): string {
    if (!this.#decoded) this.#decode();
    return this.#transport;
  }
  set transport(v: string) {
    if (!this.#decoded) this.#decode();
    this.#transport = v;
  }
  /** The sent-by host, bare (an IPv6 address without brackets). */
  get host(): string {
    if (!this.#decoded) this.#decode();
    return this.#host;
  }
  set host(v: string) {
    if (!this.#decoded) this.#decode();
    this.#host = v;
  }
  get port(): number | undefined {
    if (!this.#decoded) this.#decode();
    return this.#port;
  }
  set port(v: number | undefined) {
    if (!this.#decoded) this.#decode();
    this.#port = v;
  }
  get params(): Params {
    return (this.#params ??= paramMap(this.#text!, this.#paramsStart()));
  }
  set params(v: Params) {
    this.#params = v;
  }

  /**
   * Reads sent-protocol and sent-by from text scanVia accepted, whose shape is
   * `token *WSP "/" *WSP token *WSP "/" *WSP token *WSP host [ ":" port ]`.
   */
  #decode(): void {
    const t = this.#text!;
    this.#decoded = true;
    const nameEnd = scanToken(t, 0);
    const versionStart = skipWs(t, skipWs(t, nameEnd) + 1);
    const versionEnd = scanToken(t, versionStart);
    const transportStart = skipWs(t, skipWs(t, versionEnd) + 1);
    const transportEnd = scanToken(t, transportStart);
    this.#protocol = t.startsWith('SIP/2.0/') ? 'SIP/2.0' : t.slice(0, nameEnd) + '/' + t.slice(versionStart, versionEnd);
    this.#transport = t.startsWith('UDP', transportStart) && transportEnd - transportStart === 3 ? 'UDP' : t.slice(transportStart, transportEnd).toUpperCase();
    const hostStart = skipWs(t, transportEnd);
    let i = hostStart;
    while (i < t.length && HOST[t.charCodeAt(i)] === 1) i++;
    this.#host = t.slice(hostStart, i);
    if (t.charCodeAt(i) === 58 /* : */) {
      let port = 0;
      for (i++; i < t.length && t.charCodeAt(i) >= 48 && t.charCodeAt(i) <= 57; i++) port = port * 10 + (t.charCodeAt(i) - 48);
      this.#port = port;
    }
  }

  /** A parameter as the map holds it; read from the text while there is no map. */
  #param(name: string): string | null | undefined {
    return this.#params === undefined ? findParam(this.#text!, this.#paramsStart(), name) : this.#params[name];
  }

  get branch(): string | undefined {
    if (this.#params === undefined && this.#branchStart !== UNMARKED) {
      return this.#branchStart === -1 ? undefined : this.#text!.slice(this.#branchStart, this.#branchEnd);
    }
    return str(this.#param('branch'));
  }
  set branch(v: string | undefined) {
    setParam(this.params, 'branch', v);
  }
  get received(): string | undefined {
    const r = str(this.#param('received'));
    // RFC 5118 §4.5: received may hold an IPv6 address with or without brackets
    return r !== undefined && r.charCodeAt(0) === 91 ? r.slice(1, -1) : r;
  }
  set received(v: string | undefined) {
    setParam(this.params, 'received', v);
  }
  get rport(): number | null | undefined {
    if (this.#params === undefined) {
      const r = findParam(this.#text!, this.#paramsStart(), 'rport');
      return r === undefined ? undefined : r === null ? null : Number(r);
    }
    if (!Object.prototype.hasOwnProperty.call(this.#params, 'rport')) return undefined;
    const v = this.#params['rport'];
    return v === null || v === undefined ? null : Number(v);
  }
  set rport(v: number | null | undefined) {
    if (v === undefined) delete this.params['rport'];
    else this.params['rport'] = v === null ? null : String(v);
  }
  get maddr(): string | undefined {
    return str(this.#param('maddr'));
  }
  get ttl(): number | undefined {
    const t = str(this.#param('ttl'));
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
