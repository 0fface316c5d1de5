import { isUtf8 } from 'node:buffer';
import { HeaderEntry } from './header-entry.js';
import type { CSeq, HeaderField } from './types.js';
import { LIST_HEADERS, canonicalName, headerKey } from './header-names.js';
import { splitList } from './params.js';
import { NameAddr, parseNameAddr } from './name-addr.js';
import { contactViews, cseqView, nameAddrView, viaViews } from './views.js';
import type { Via } from './via.js';
import { Uri, parseUri } from './uri.js';
import { uriFromChecked } from './uri-checked.js';
import type { Marks } from './marks.js';

/**
 * Header text is held as latin1 (one char per byte), as the parser reads it. A value given by the
 * user is Unicode text and is stored as its UTF-8 bytes, except when it already is a latin1
 * string of valid UTF-8 bytes (a raw value copied from another message), which is kept as is.
 */
function toLatin1(value: string): string {
  let high = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 255) return Buffer.from(value, 'utf8').toString('latin1');
    if (c > 127) high = true;
  }
  if (!high) return value;
  const bytes = Buffer.from(value, 'latin1');
  return isUtf8(bytes) ? value : Buffer.from(value, 'utf8').toString('latin1');
}

export { HeaderEntry };

export type HeaderInit = ReadonlyArray<HeaderField> | Record<string, string | number | ReadonlyArray<string>>;

function toEntries(init: HeaderInit | undefined): HeaderEntry[] {
  const out: HeaderEntry[] = [];
  if (init === undefined) return out;
  if (Array.isArray(init)) {
    for (const h of init as ReadonlyArray<HeaderField>) out.push(new HeaderEntry(h.name, toLatin1(h.value), headerKey(h.name)));
    return out;
  }
  for (const [name, v] of Object.entries(init as Record<string, string | number | ReadonlyArray<string>>)) {
    const values = Array.isArray(v) ? (v as ReadonlyArray<string>) : [String(v)];
    for (const value of values) out.push(new HeaderEntry(name, toLatin1(value), headerKey(name)));
  }
  return out;
}

function toBody(body: Buffer | string | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

// Views whose header text the parser checked (validate.ts quickValidate), so they are built as
// lazy views over that text with the parser's marks; a header changed since is parsed in full
// when its view is read.
const VIA_CHECKED = 1;
const FROM_CHECKED = 2;
const TO_CHECKED = 4;
const CONTACT_CHECKED = 8;
const CSEQ_CHECKED = 16;
const ALL_CHECKED = VIA_CHECKED | FROM_CHECKED | TO_CHECKED | CONTACT_CHECKED | CSEQ_CHECKED;

export interface MessageInit {
  headers?: HeaderInit;
  body?: Buffer | string;
}

/**
 * What requests and responses share: an ordered list of raw header fields (kept byte-faithful so
 * a proxy forwards what it does not change), a body kept as a Buffer, and parsed views of the
 * headers the stack reads, computed on first use and cached until that header changes.
 *
 * The views are snapshots: change a header through `set`/`append`/`prepend`/`remove` (or the
 * helpers in edit.ts), not by mutating a view object.
 */
export abstract class SipMessage {
  abstract readonly isRequest: boolean;
  // The base class only declares its fields: SipRequest and SipResponse define them, each as its
  // own class fields, and the base class has no constructor. Why: Node 20's V8 compiles
  // `super()` into a builtin call (FindNonDefaultConstructorOrConstruct) that its optimizing
  // compiler does not inline, and when the base class has fields or a constructor to run, that
  // call then constructs it out of line. Parsing a message was ~30-70 ns faster without
  // (bench/README.md); the price is the field list written twice, below.
  /** @internal */
  declare _headers: HeaderEntry[];
  /** @internal the exact bytes this message was parsed from, while it is unchanged */
  declare _raw: Buffer | undefined;
  /** undefined until read for a parsed message: then cut from _source */
  protected declare _body: Buffer | undefined;
  /** the datagram a parsed message came from, and where its body lies in it */
  protected declare _source: Buffer | undefined;
  protected declare _bodyStart: number;
  protected declare _bodyEnd: number;
  /** which headers still hold the text the parser checked (bits above), and what it marked there */
  protected declare _checked: number;
  protected declare _marks: Marks | undefined;
  /** whether the header list is as parsed, so the marks' field indices hold */
  protected declare _indexed: boolean;
  // cached views, keyed by header key; reset when that header changes
  protected declare _via: Via[] | undefined;
  protected declare _from: NameAddr | undefined;
  protected declare _to: NameAddr | undefined;
  protected declare _contact: NameAddr[] | undefined;
  protected declare _cseq: CSeq | undefined;
  protected declare _route: NameAddr[] | undefined;
  protected declare _recordRoute: NameAddr[] | undefined;

  /** @internal the parser hands over the header fields and where the body lies in the datagram */
  _parsed(headers: HeaderEntry[], source: Buffer, bodyStart: number, bodyEnd: number, marks: Marks | undefined, raw: Buffer | undefined): void {
    this._headers = headers;
    this._source = source;
    this._bodyStart = bodyStart;
    this._bodyEnd = bodyEnd;
    this._checked = marks !== undefined ? ALL_CHECKED : 0;
    this._marks = marks;
    this._indexed = marks !== undefined;
    this._raw = raw;
  }

  get body(): Buffer {
    if (this._body === undefined) {
      const src = this._source;
      this._body = src === undefined ? Buffer.alloc(0) : src.subarray(this._bodyStart, this._bodyEnd);
      this._source = undefined;
    }
    return this._body;
  }
  set body(value: Buffer | string) {
    this._body = toBody(value);
    this._source = undefined;
    this._raw = undefined;
  }

  /** Every header field, in order, with its raw value. */
  get headers(): readonly HeaderField[] {
    return this._headers;
  }

  /** The first value of a header (any spelling or compact form); for list headers the first element. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const h of this._headers) {
      if (h.key === key) return LIST_HEADERS.has(key) ? splitList(h.value)[0] : h.value;
    }
    return undefined;
  }

  /** Every value of a header, in order; comma-separated lists are split for list headers. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    return LIST_HEADERS.has(key) ? this._elements(key) : this._headers.filter((h) => h.key === key).map((h) => h.value);
  }

  /** Every element of the list header with this key, in order (§7.3.1). */
  private _elements(key: string): string[] {
    const out: string[] = [];
    for (const h of this._headers) {
      if (h.key !== key) continue;
      if (h.value.indexOf(',') === -1) out.push(h.value);
      else for (const v of splitList(h.value)) out.push(v);
    }
    return out;
  }

  has(name: string): boolean {
    const key = headerKey(name);
    return this._headers.some((h) => h.key === key);
  }

  private _changed(key: string): void {
    this._indexed = false;
    switch (key) {
      case 'via': this._via = undefined; this._checked &= ~VIA_CHECKED; break;
      case 'from': this._from = undefined; this._checked &= ~FROM_CHECKED; break;
      case 'to': this._to = undefined; this._checked &= ~TO_CHECKED; break;
      case 'contact': this._contact = undefined; this._checked &= ~CONTACT_CHECKED; break;
      case 'cseq': this._cseq = undefined; this._checked &= ~CSEQ_CHECKED; break;
      case 'route': this._route = undefined; break;
      case 'record-route': this._recordRoute = undefined; break;
    }
    this._raw = undefined;
  }

  /** Replaces every field of this header with the given value(s), at the place of the first one. */
  set(name: string, value: string | number | ReadonlyArray<string | { toString(): string }>): this {
    const key = headerKey(name);
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    const at = this._headers.findIndex((h) => h.key === key);
    const kept = this._headers.filter((h) => h.key !== key);
    const spelled = at === -1 ? canonicalName(name) : this._headers[at]!.name;
    const entries = values.map((v) => new HeaderEntry(spelled, toLatin1(v), key));
    if (at === -1) kept.push(...entries);
    else kept.splice(at, 0, ...entries);
    this._headers = kept;
    this._changed(key);
    return this;
  }

  /** Adds a header field after the existing ones. */
  append(name: string, value: string | { toString(): string }): this {
    const key = headerKey(name);
    const entry = new HeaderEntry(this._spelling(name, key), toLatin1(String(value)), key);
    let last = -1;
    this._headers.forEach((h, i) => {
      if (h.key === key) last = i;
    });
    if (last === -1) this._headers.push(entry);
    else this._headers.splice(last + 1, 0, entry);
    this._changed(key);
    return this;
  }

  /** Adds a header field before the existing ones (a new top Via, Record-Route or Route). */
  prepend(name: string, value: string | { toString(): string }): this {
    const key = headerKey(name);
    const entry = new HeaderEntry(this._spelling(name, key), toLatin1(String(value)), key);
    const first = this._headers.findIndex((h) => h.key === key);
    // with no field of this name yet, a Via goes first and any other header after the Vias
    let at = first;
    if (at === -1) {
      at = 0;
      if (key !== 'via') while (at < this._headers.length && this._headers[at]!.key === 'via') at++;
    }
    this._headers.splice(at, 0, entry);
    this._changed(key);
    return this;
  }

  /** Removes every field of this header. */
  remove(name: string): this {
    const key = headerKey(name);
    this._headers = this._headers.filter((h) => h.key !== key);
    this._changed(key);
    return this;
  }

  /** Removes the first element of a (list) header, keeping the rest of its field. Returns it. */
  shift(name: string): string | undefined {
    const key = headerKey(name);
    const at = this._headers.findIndex((h) => h.key === key);
    if (at === -1) return undefined;
    const field = this._headers[at]!;
    const values = LIST_HEADERS.has(key) ? splitList(field.value) : [field.value];
    const first = values.shift();
    if (values.length === 0) this._headers.splice(at, 1);
    else this._headers[at] = new HeaderEntry(field.name, values.join(', '), key);
    this._changed(key);
    return first;
  }

  private _spelling(name: string, key: string): string {
    const existing = this._headers.find((h) => h.key === key);
    return existing !== undefined ? existing.name : name.length === 1 ? name : canonicalName(name);
  }

  get via(): Via[] {
    if (this._via === undefined) {
      // while the header list is as parsed, the marks say where the Via fields are and how many elements they hold
      const m = this._indexed ? this._marks! : undefined;
      this._via = m !== undefined ? viaViews(this._headers, m, m.viaAt, m.viaLast, m.vias) : viaViews(this._headers, this._marked(VIA_CHECKED), 0, this._headers.length - 1, -1);
    }
    return this._via;
  }
  get from(): NameAddr {
    if (this._from === undefined) {
      const marks = this._marked(FROM_CHECKED);
      this._from = nameAddrView(this._required('from', this._marks?.fromAt), marks !== undefined, marks?.fromTagStart ?? 0, marks?.fromTagEnd ?? 0);
    }
    return this._from;
  }
  get to(): NameAddr {
    if (this._to === undefined) {
      const marks = this._marked(TO_CHECKED);
      this._to = nameAddrView(this._required('to', this._marks?.toAt), marks !== undefined, marks?.toTagStart ?? 0, marks?.toTagEnd ?? 0);
    }
    return this._to;
  }
  get contact(): NameAddr[] {
    if (this._contact === undefined) {
      const m = this._indexed ? this._marks! : undefined;
      this._contact = m !== undefined
        ? contactViews(this._headers, true, m.contactAt, m.contactLast, m.contacts, m.contactUri)
        : contactViews(this._headers, (this._checked & CONTACT_CHECKED) !== 0, 0, this._headers.length - 1, -1);
    }
    return this._contact;
  }
  /** The parser's marks, while the header of this bit still holds the text it checked. */
  private _marked(bit: number): Marks | undefined {
    return (this._checked & bit) !== 0 ? this._marks : undefined;
  }
  get route(): NameAddr[] {
    return (this._route ??= this.getAll('route').map((v) => parseNameAddr(v)));
  }
  get recordRoute(): NameAddr[] {
    return (this._recordRoute ??= this.getAll('record-route').map((v) => parseNameAddr(v)));
  }
  get callId(): string {
    return this._required('call-id', this._marks?.callIdAt);
  }
  get cseq(): CSeq {
    if (this._cseq === undefined) {
      const marks = this._marked(CSEQ_CHECKED);
      // a request's CSeq method is its method string (the parser compared them): nothing to cut from the text
      this._cseq = marks?.method !== undefined ? { seq: marks.seq, method: marks.method } : cseqView(this._required('cseq', this._marks?.cseqAt), marks);
    }
    return this._cseq;
  }
  get maxForwards(): number | undefined {
    const v = this.get('max-forwards');
    return v === undefined ? undefined : Number(v);
  }
  get expires(): number | undefined {
    const v = this.get('expires');
    return v === undefined ? undefined : Number(v);
  }
  get contentType(): string | undefined {
    return this.get('content-type');
  }
  /** The body's length (what serialize writes as Content-Length). */
  get contentLength(): number {
    return this._body !== undefined ? this._body.length : this._bodyEnd - this._bodyStart;
  }

  /**
   * The value of the first field with this key (From, To, Call-ID, CSeq: not list headers); `at`
   * is where the parser saw it, which holds while the header list is as parsed.
   */
  private _required(key: string, at: number | undefined): string {
    if (this._indexed && at !== undefined && at >= 0) return this._headers[at]!.value;
    for (const h of this._headers) if (h.key === key) return h.value;
    throw new Error(`message has no ${canonicalName(key)} header`);
  }

  /** The start line without CRLF. */
  abstract startLine(): string;

  abstract clone(): SipMessage;

  /** @internal copies headers and body into a new message of the same kind */
  protected _copyInto<T extends SipMessage>(target: T): T {
    target._headers = this._headers.slice();
    target.body = this.body;
    return target;
  }
}

export interface RequestInit extends MessageInit {
  method: string;
  uri: Uri | string;
}

/** A SIP request (RFC 3261 §7.1). */
export class SipRequest extends SipMessage {
  readonly isRequest = true as const;
  // SipMessage's fields, defined here and in SipResponse (see the note in SipMessage)
  override _headers: HeaderEntry[];
  override _raw: Buffer | undefined = undefined;
  protected override _body: Buffer | undefined;
  protected override _source: Buffer | undefined = undefined;
  protected override _bodyStart = 0;
  protected override _bodyEnd = 0;
  protected override _checked = 0;
  protected override _marks: Marks | undefined = undefined;
  protected override _indexed = false;
  protected override _via: Via[] | undefined = undefined;
  protected override _from: NameAddr | undefined = undefined;
  protected override _to: NameAddr | undefined = undefined;
  protected override _contact: NameAddr[] | undefined = undefined;
  protected override _cseq: CSeq | undefined = undefined;
  protected override _route: NameAddr[] | undefined = undefined;
  protected override _recordRoute: NameAddr[] | undefined = undefined;
  #method: string;
  #uri: Uri | undefined;
  #uriText: string | undefined;
  /** whether #uriText is a URI the parser checked (check-uri.scanSipUri) */
  #uriChecked = false;

  constructor(init: RequestInit) {
    super();
    this._headers = toEntries(init.headers);
    this._body = init.body === undefined ? undefined : toBody(init.body);
    this.#method = init.method;
    if (typeof init.uri === 'string') this.#uriText = init.uri;
    else this.#uri = init.uri;
  }

  get method(): string {
    return this.#method;
  }
  set method(m: string) {
    this.#method = m;
    this._raw = undefined;
  }

  /** The Request-URI. Reading it hands out the mutable object, so serialize writes it back. */
  get uri(): Uri {
    if (this.#uri === undefined) this.#uri = this.#uriChecked ? uriFromChecked(this.#uriText!) : parseUri(this.#uriText!);
    this.#uriText = undefined;
    this._raw = undefined;
    return this.#uri;
  }
  set uri(u: Uri | string) {
    this.#uriChecked = false;
    if (typeof u === 'string') {
      this.#uri = undefined;
      this.#uriText = u;
    } else {
      this.#uri = u;
      this.#uriText = undefined;
    }
    this._raw = undefined;
  }

  /** @internal the parser checked the Request-URI text */
  _checkedUri(): void {
    this.#uriChecked = true;
  }

  startLine(): string {
    const uri = this.#uriText ?? this.#uri!.toString();
    return `${this.#method} ${uri} SIP/2.0`;
  }

  clone(): SipRequest {
    const copy = new SipRequest({ method: this.#method, uri: this.#uriText ?? this.#uri!.clone() });
    return this._copyInto(copy);
  }
}

export interface ResponseInit extends MessageInit {
  status: number;
  reason?: string;
}

/** A SIP response (RFC 3261 §7.2). */
export class SipResponse extends SipMessage {
  readonly isRequest = false as const;
  // SipMessage's fields, defined here and in SipRequest (see the note in SipMessage)
  override _headers: HeaderEntry[];
  override _raw: Buffer | undefined = undefined;
  protected override _body: Buffer | undefined;
  protected override _source: Buffer | undefined = undefined;
  protected override _bodyStart = 0;
  protected override _bodyEnd = 0;
  protected override _checked = 0;
  protected override _marks: Marks | undefined = undefined;
  protected override _indexed = false;
  protected override _via: Via[] | undefined = undefined;
  protected override _from: NameAddr | undefined = undefined;
  protected override _to: NameAddr | undefined = undefined;
  protected override _contact: NameAddr[] | undefined = undefined;
  protected override _cseq: CSeq | undefined = undefined;
  protected override _route: NameAddr[] | undefined = undefined;
  protected override _recordRoute: NameAddr[] | undefined = undefined;
  #status: number;
  #reason: string;

  constructor(init: ResponseInit) {
    super();
    this._headers = toEntries(init.headers);
    this._body = init.body === undefined ? undefined : toBody(init.body);
    this.#status = init.status;
    this.#reason = init.reason ?? defaultReason(init.status);
  }

  get status(): number {
    return this.#status;
  }
  set status(s: number) {
    this.#status = s;
    this._raw = undefined;
  }
  get reason(): string {
    return this.#reason;
  }
  set reason(r: string) {
    this.#reason = r;
    this._raw = undefined;
  }

  startLine(): string {
    return `SIP/2.0 ${this.#status} ${this.#reason}`;
  }

  clone(): SipResponse {
    return this._copyInto(new SipResponse({ status: this.#status, reason: this.#reason }));
  }
}

export type SipMessageAny = SipRequest | SipResponse;

const REASONS: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily',
  305: 'Use Proxy', 380: 'Alternative Service', 400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  407: 'Proxy Authentication Required', 408: 'Request Timeout', 410: 'Gone', 413: 'Request Entity Too Large',
  414: 'Request-URI Too Long', 415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme', 420: 'Bad Extension',
  421: 'Extension Required', 423: 'Interval Too Brief', 480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete',
  485: 'Ambiguous', 486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here', 491: 'Request Pending',
  493: 'Undecipherable', 500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};

/** The RFC 3261 §21 reason phrase for a status code. */
export function defaultReason(status: number): string {
  return REASONS[status] ?? (status < 200 ? 'Provisional' : status < 300 ? 'OK' : 'Error');
}
