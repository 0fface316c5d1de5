import { createHash } from 'node:crypto';

/**
 * The digest algorithms natter speaks (RFC 7616 §3.2, RFC 8760 for SIP): SHA-256 and SHA-512/256
 * are preferred; MD5 stays for phones that know nothing else. The `-sess` variants are not offered.
 */
export type DigestAlgorithm = 'MD5' | 'SHA-256' | 'SHA-512-256';

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = Object.freeze(['SHA-512-256', 'SHA-256', 'MD5'] as DigestAlgorithm[]);

const NODE_HASH: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

/** Length of the lower-case hex digest of each algorithm. */
export const DIGEST_HEX_LENGTH: Record<DigestAlgorithm, number> = { MD5: 32, 'SHA-256': 64, 'SHA-512-256': 64 };

/** The algorithm token as written in a challenge or credentials, case-insensitively; undefined when unknown. */
export function parseAlgorithm(token: string | undefined): DigestAlgorithm | undefined {
  // RFC 7616 §3.3: "If this is not present, it is assumed to be "MD5"."
  if (token === undefined) return 'MD5';
  switch (token.trim().toUpperCase()) {
    case 'MD5':
      return 'MD5';
    case 'SHA-256':
      return 'SHA-256';
    case 'SHA-512-256':
      return 'SHA-512-256';
    default:
      return undefined;
  }
}

/** H(data): the algorithm's hash as lower-case hex. */
export function digestHash(algorithm: DigestAlgorithm, data: string): string {
  return createHash(NODE_HASH[algorithm]).update(data, 'utf8').digest('hex');
}

/** RFC 7616 §3.4.2: A1 = unq(username) ":" unq(realm) ":" passwd; HA1 = H(A1). */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

export interface DigestResponseInput {
  algorithm: DigestAlgorithm;
  /** H(A1), lower-case hex. */
  ha1: string;
  method: string;
  /** The digest-uri the client put in its credentials (RFC 3261 §22.4: the Request-URI). */
  uri: string;
  nonce: string;
  /** Present with qop=auth: nc (8 hex digits) and cnonce. */
  qop?: 'auth';
  nc?: string;
  cnonce?: string;
}

/**
 * RFC 7616 §3.4.1 with qop=auth: response = KD(H(A1), nonce:nc:cnonce:qop:H(A2)), A2 = Method:digest-uri;
 * without qop (RFC 2069 compatibility, RFC 3261 §22.4): KD(H(A1), nonce:H(A2)).
 */
export function computeDigestResponse(input: DigestResponseInput): string {
  const ha2 = digestHash(input.algorithm, `${input.method}:${input.uri}`);
  const data = input.qop === 'auth' ? `${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:auth:${ha2}` : `${input.nonce}:${ha2}`;
  return digestHash(input.algorithm, `${input.ha1.toLowerCase()}:${data}`);
}
