import { skipWs } from './charset.js';
import { SyntaxFault, quote, scanQuoted, scanToken, unquote } from './params.js';

/**
 * A challenge (WWW-Authenticate, Proxy-Authenticate) or credentials (Authorization,
 * Proxy-Authorization) header value (RFC 3261 §20.7, §20.27, §20.28, §20.44; RFC 7616 field names):
 * a scheme and comma-separated `name=value` parameters, quoted values unquoted.
 */
export interface AuthValue {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Digest realm="x", nonce="y", algorithm=MD5`. Parameter names are lower-cased. */
export function parseAuth(value: string): AuthValue {
  let i = skipWs(value, 0);
  const schemeEnd = scanToken(value, i);
  if (schemeEnd === i) throw new SyntaxFault('missing auth scheme');
  const scheme = value.slice(i, schemeEnd);
  const params: Record<string, string> = {};
  i = schemeEnd;
  for (;;) {
    i = skipWs(value, i);
    if (i >= value.length) break;
    const nameStart = i;
    i = scanToken(value, i);
    if (i === nameStart) throw new SyntaxFault('bad auth parameter');
    const name = value.slice(nameStart, i).toLowerCase();
    i = skipWs(value, i);
    if (value.charCodeAt(i) !== 61) throw new SyntaxFault(`auth parameter ${name} has no value`);
    i = skipWs(value, i + 1);
    const vStart = i;
    if (value.charCodeAt(i) === 34) i = scanQuoted(value, i);
    else while (i < value.length && value.charCodeAt(i) !== 44 && value.charCodeAt(i) !== 32 && value.charCodeAt(i) !== 9) i++;
    params[name] = unquote(value.slice(vStart, i));
    i = skipWs(value, i);
    if (i < value.length) {
      if (value.charCodeAt(i) !== 44) throw new SyntaxFault('expected comma between auth parameters');
      i++;
    }
  }
  return { scheme, params };
}

/** These digest parameters are written without quotes (RFC 7616 §3.4, RFC 3261 §25.1). */
const UNQUOTED = new Set(['algorithm', 'nc', 'stale', 'qop-value']);

/** Writes an AuthValue; `qop` is quoted in a challenge and bare in credentials. */
export function formatAuth(auth: AuthValue, kind: 'challenge' | 'credentials' = 'challenge'): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(auth.params)) {
    const bare = UNQUOTED.has(name) || (name === 'qop' && kind === 'credentials');
    parts.push(`${name}=${bare ? value : quote(value)}`);
  }
  return `${auth.scheme} ${parts.join(', ')}`;
}
