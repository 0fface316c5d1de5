export { DigestAuthenticator } from './authenticator.js';
export type { AuthKind, AuthOutcome, AuthFailure, AuthCounters, DigestAuthenticatorOptions } from './authenticator.js';
export { StaticCredentialSource, JsonFileCredentialSource, parseUsers } from './credentials.js';
export type { CredentialSource, Credentials } from './credentials.js';
export { computeHa1, computeDigestResponse, digestHash, parseAlgorithm, DIGEST_ALGORITHMS } from './digest.js';
export type { DigestAlgorithm, DigestResponseInput } from './digest.js';
export { NonceIssuer, NonceCountTracker } from './nonce.js';
export type { NonceVerdict } from './nonce.js';
