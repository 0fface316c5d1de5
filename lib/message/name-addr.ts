import type { Params } from './types.js';
import { TOKEN, skipWs } from './charset.js';
import { SyntaxFault, findParam, formatParams, parseParams, paramMap, quote, scanQuoted, unquote } from './params.js';
import { Uri, parseUriText } from './uri.js';
import { uriFromChecked, uriFromLayout } from './uri-checked.js';
import type { UriLayout } from './marks.js';

/** Latin1 text holding UTF-8 bytes, decoded to a JS string (display names may be UTF-8, §25.1). */
export function latin1ToUtf8(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 127) return Buffer.from(s, 'latin1').toString('utf8');
  }
  return s;
}

/** What `new NameAddr()` is given when the parser builds a lazy view (the parts are then read from the text). */
const LAZY: { displayName?: string | null; params?: Params; wildcard?: boolean } = {};
const NO_URI = new Uri({ host: '' });
/** A parameter position the parser did not mark: the view scans the text for it. */
const UNMARKED = -2;

/**
 * A name-addr or addr-spec with header parameters (RFC 3261 §20.10, §25.1): the value of From,
 * To, Contact, Route, Record-Route, Reply-To... `wildcard` is true for `Contact: *` (§10.2.2), in
 * which case `uri` is an empty placeholder.
 *
 * A NameAddr the parser hands out wraps the text of its checked header: the display name, URI and
 * parameter map are built when first read, and `tag` scans the text until then.
 */
export class NameAddr {
  wildcard: boolean;
  /** undefined while only in #text */
  #displayName: string | null | undefined;
  #uri: Uri | undefined;
  #params: Params | undefined;
  /** the text of a view the parser built (see _checked), and where its parts lie in it once #locate ran */
  #text: string;
  #located: boolean;
  #nameStart: number;
  #nameEnd: number;
  #quoted: boolean;
  #uriStart: number;
  #uriEnd: number;
  #paramsAt: number;
  /** where the tag value is in #text, when the parser marked it (-1: none; UNMARKED: not marked) */
  #tagStart: number;
  #tagEnd: number;
  /** where the parser found the URI's parts in #text, when it marked them */
  #uriLayout: UriLayout | undefined;

  constructor(uri: Uri, options?: { displayName?: string | null; params?: Params; wildcard?: boolean }) {
    // every field is set once, here: a lazy view (LAZY) gets its text and marks in _checked
    const lazy = options === LAZY;
    this.wildcard = options?.wildcard ?? false;
    this.#displayName = lazy ? undefined : options?.displayName ?? null;
    this.#uri = lazy ? undefined : uri;
    this.#params = lazy ? undefined : options?.params ?? {};
    this.#text = '';
    this.#located = !lazy;
    this.#nameStart = 0;
    this.#nameEnd = 0;
    this.#quoted = false;
    this.#uriStart = 0;
    this.#uriEnd = 0;
    this.#paramsAt = 0;
    this.#tagStart = UNMARKED;
    this.#tagEnd = 0;
    this.#uriLayout = undefined;
  }

  /**
   * @internal a view over text check-header.scanNameAddr accepted (not `*`), with the bounds of
   * the tag value when the parser marked them
   */
  static _checked(this: void, text: string, tagStart: number = UNMARKED, tagEnd = 0): NameAddr {
    const na = new NameAddr(NO_URI, LAZY);
    na.#text = text;
    na.#tagStart = tagStart;
    na.#tagEnd = tagEnd;
    return na;
  }

  /**
   * Finds the display name, URI and parameters in #text, whose shape (scanNameAddr checked it) is
   * `[ quoted-string / words ] "<" uri ">" params` or `uri params` (the URI ending at ";" or WSP).
   */
  #locate(): void {
    const text = this.#text;
    this.#located = true;
    let i = skipWs(text, 0);
    let lt: number;
    this.#nameStart = i;
    if (text.charCodeAt(i) === 34 /* " */) {
      this.#quoted = true;
      this.#nameEnd = scanQuoted(text, i);
      lt = skipWs(text, this.#nameEnd);
    } else {
      lt = text.indexOf('<', i);
      this.#nameEnd = lt === -1 ? i : lt;
    }
    if (lt !== -1) {
      const gt = text.indexOf('>', lt);
      this.#uriStart = lt + 1;
      this.#uriEnd = gt;
      this.#paramsAt = gt + 1;
    } else {
      while (i < text.length) {
        const c = text.charCodeAt(i);
        if (c === 59 || c === 32 || c === 9) break;
        i++;
      }
      this.#uriStart = this.#nameStart;
      this.#uriEnd = i;
      this.#paramsAt = i;
    }
  }

  /**
   * @internal a Contact value scanNameAddr accepted, with the layout of its URI when the parser
   * marked it; `*` is parsed in full
   */
  static _checkedContact(this: void, text: string, uri?: UriLayout): NameAddr {
    const i = skipWs(text, 0);
    if (text.charCodeAt(i) === 42 /* * */) return parseNameAddr(text, true);
    const na = NameAddr._checked(text);
    na.#uriLayout = uri;
    return na;
  }

  get displayName(): string | null {
    if (this.#displayName === undefined) {
      if (!this.#located) this.#locate();
      const t = this.#text;
      if (this.#quoted) this.#displayName = latin1ToUtf8(unquote(t.slice(this.#nameStart, this.#nameEnd)));
      else {
        // display-name = *(token LWS): runs of whitespace read as one space
        const dn = t.slice(this.#nameStart, this.#nameEnd).trim();
        this.#displayName = dn.length > 0 ? dn.replace(/[ \t]+/g, ' ') : null;
      }
    }
    return this.#displayName;
  }
  set displayName(v: string | null) {
    this.#displayName = v;
  }
  get uri(): Uri {
    if (this.#uri === undefined) {
      const layout = this.#uriLayout;
      if (layout !== undefined) this.#uri = uriFromLayout(this.#text, layout);
      else {
        if (!this.#located) this.#locate();
        this.#uri = uriFromChecked(this.#text, this.#uriStart, this.#uriEnd);
      }
    }
    return this.#uri;
  }
  set uri(v: Uri) {
    this.#uri = v;
  }
  get params(): Params {
    if (this.#params === undefined) {
      if (!this.#located) this.#locate();
      this.#params = paramMap(this.#text, this.#paramsAt);
    }
    return this.#params;
  }
  set params(v: Params) {
    this.#params = v;
  }

  /** The `tag` header parameter (§19.3), if present. */
  get tag(): string | undefined {
    if (this.#params === undefined && this.#tagStart !== UNMARKED) {
      return this.#tagStart === -1 ? undefined : this.#text.slice(this.#tagStart, this.#tagEnd);
    }
    if (this.#params === undefined && !this.#located) this.#locate();
    const t = this.#params === undefined ? findParam(this.#text, this.#paramsAt, 'tag') : this.#params['tag'];
    return typeof t === 'string' ? t : undefined;
  }

  set tag(value: string | undefined) {
    if (value === undefined) delete this.params['tag'];
    else this.params['tag'] = value;
  }

  clone(): NameAddr {
    return new NameAddr(this.uri.clone(), { displayName: this.displayName, params: { ...this.params }, wildcard: this.wildcard });
  }

  /** Always writes the name-addr form (`<uri>`), which is valid wherever addr-spec is. */
  toString(): string {
    if (this.wildcard) return '*' + formatParams(this.params);
    const dn = this.displayName !== null ? quote(this.displayName) + ' ' : '';
    return dn + '<' + this.uri.toString() + '>' + formatParams(this.params);
  }
}

/** Parses one name-addr / addr-spec value (one element of a comma-separated list). */
export function parseNameAddr(value: string, allowWildcard = false): NameAddr {
  let i = skipWs(value, 0);
  if (allowWildcard && value.charCodeAt(i) === 42 /* * */) {
    const params: Params = {};
    const end = parseParams(value, i + 1, params);
    if (skipWs(value, end) !== value.length) throw new SyntaxFault('text after *');
    return new NameAddr(new Uri({ host: '' }), { params, wildcard: true });
  }
  let displayName: string | null = null;
  let uriText: string;
  if (value.charCodeAt(i) === 34 /* " */) {
    const end = scanQuoted(value, i);
    displayName = latin1ToUtf8(unquote(value.slice(i, end)));
    i = skipWs(value, end);
    if (value.charCodeAt(i) !== 60 /* < */) throw new SyntaxFault('quoted display name not followed by <');
  }
  const lt = value.indexOf('<', i);
  if (lt !== -1) {
    if (displayName === null && lt > i) {
      // display-name = *(token LWS): only token characters and whitespace before the <
      const dn = value.slice(i, lt).trim();
      for (let k = 0; k < dn.length; k++) {
        const c = dn.charCodeAt(k);
        if (c !== 32 && c !== 9 && (c >= 128 || TOKEN[c] === 0)) throw new SyntaxFault(`bad display name ${dn}`);
      }
      displayName = dn.length > 0 ? dn.replace(/[ \t]+/g, ' ') : null;
    }
    const gt = value.indexOf('>', lt);
    if (gt === -1) throw new SyntaxFault('unterminated <');
    uriText = value.slice(lt + 1, gt);
    i = gt + 1;
  } else {
    // addr-spec: parameters after it belong to the header, and the URI cannot contain
    // a comma, question mark or semicolon (§20.10)
    const start = i;
    while (i < value.length) {
      const c = value.charCodeAt(i);
      if (c === 59 || c === 32 || c === 9) break;
      i++;
    }
    uriText = value.slice(start, i);
    if (uriText.indexOf('?') !== -1 || uriText.indexOf(',') !== -1) {
      throw new SyntaxFault('URI with ? or , must be enclosed in <>');
    }
  }
  if (uriText.length === 0) throw new SyntaxFault('empty URI');
  // whitespace inside the URI fails the URI's character tables (a space is in none of them)
  const uri = parseUriText(uriText);
  const params: Params = {};
  const end = parseParams(value, i, params);
  if (skipWs(value, end) !== value.length) throw new SyntaxFault(`unexpected text: ${value.slice(end)}`);
  return new NameAddr(uri, { displayName, params });
}
