/**
 * Header names: compact forms (RFC 3261 §7.3.3 and the extensions that define one), the
 * canonical spelling used when natter writes a header, which headers are comma-separated lists
 * (§7.3.1), and which may appear only once.
 */
export const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event', // RFC 6665
  u: 'allow-events', // RFC 6665
  r: 'refer-to', // RFC 3515
  x: 'session-expires', // RFC 4028
  y: 'identity', // RFC 8224
  b: 'referred-by', // RFC 3892
  a: 'accept-contact', // RFC 3841
  j: 'reject-contact', // RFC 3841
  d: 'request-disposition', // RFC 3841
  n: 'identity-info', // RFC 4474
};

const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  rack: 'RAck',
  rseq: 'RSeq',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
};

/** Headers whose grammar is `1#element`, so a field with commas holds several values. */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via', 'contact', 'route', 'record-route', 'path', 'service-route', 'allow', 'supported', 'require',
  'proxy-require', 'unsupported', 'accept', 'accept-encoding', 'accept-language', 'content-encoding',
  'content-language', 'alert-info', 'call-info', 'error-info', 'in-reply-to', 'warning', 'allow-events',
  'p-asserted-identity', 'p-preferred-identity', 'reason', 'history-info', 'security-client',
  'security-server', 'security-verify', 'accept-contact', 'reject-contact', 'request-disposition',
]);

/** Headers that a message may carry at most once (their grammar is a single value). */
export const SINGLE_HEADERS: ReadonlySet<string> = new Set([
  'from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length', 'content-type', 'expires', 'min-expires',
]);

const keyCache = new Map<string, string>();

/** The lower-case long form of a header name, as used for lookups: `v` and `VIA` → `via`. */
export function headerKey(name: string): string {
  let key = keyCache.get(name);
  if (key === undefined) {
    const lower = name.toLowerCase();
    key = COMPACT[lower] ?? lower;
    if (keyCache.size < 4096) keyCache.set(name, key);
  }
  return key;
}

/** The spelling natter uses when it writes a header: `call-id` → `Call-ID`, `via` → `Via`. */
export function canonicalName(name: string): string {
  const key = headerKey(name);
  return CANONICAL[key] ?? key.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}
