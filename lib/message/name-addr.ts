import type { Params } from './types.js';
import { TOKEN, skipWs } from './charset.js';
import { SyntaxFault, formatParams, parseParams, quote, scanQuoted, unquote } from './params.js';
import { Uri, parseUriText } from './uri.js';

/** Latin1 text holding UTF-8 bytes, decoded to a JS string (display names may be UTF-8, §25.1). */
export function latin1ToUtf8(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 127) return Buffer.from(s, 'latin1').toString('utf8');
  }
  return s;
}

/**
 * A name-addr or addr-spec with header parameters (RFC 3261 §20.10, §25.1): the value of From,
 * To, Contact, Route, Record-Route, Reply-To... `wildcard` is true for `Contact: *` (§10.2.2), in
 * which case `uri` is an empty placeholder.
 */
export class NameAddr {
  displayName: string | null;
  uri: Uri;
  params: Params;
  wildcard: boolean;

  constructor(uri: Uri, options: { displayName?: string | null; params?: Params; wildcard?: boolean } = {}) {
    this.uri = uri;
    this.displayName = options.displayName ?? null;
    this.params = options.params ?? {};
    this.wildcard = options.wildcard ?? false;
  }

  /** The `tag` header parameter (§19.3), if present. */
  get tag(): string | undefined {
    const t = this.params['tag'];
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
