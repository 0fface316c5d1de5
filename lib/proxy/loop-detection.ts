import { createHash, randomBytes } from 'node:crypto';
import type { SipRequest } from '../message/message.js';
import { BRANCH_COOKIE } from '../message/via.js';

/**
 * RFC 3261 §16.6 step 8: a proxy that detects loops puts into its branch a hash over the fields
 * that change when a request spirals (Request-URI, To tag, From tag, Call-ID, CSeq number,
 * Proxy-Require, Proxy-Authorization, Route), so §16.3 step 4 can tell a loop (same hash: the
 * request came back unchanged) from a spiral (different hash). The incoming top Via is left out:
 * it differs on every hop, so with it no loop would ever match (the flaw RFC 5393 discusses).
 *
 * The hash is computed over the request as received, before this proxy changes it.
 */
export function loopBranchHash(request: SipRequest): string {
  const h = createHash('sha1');
  h.update(request.uri.toString());
  h.update('\0' + (request.to.tag ?? ''));
  h.update('\0' + (request.from.tag ?? ''));
  h.update('\0' + request.callId);
  h.update('\0' + request.cseq.seq);
  h.update('\0' + request.getAll('proxy-require').join(','));
  h.update('\0' + request.getAll('proxy-authorization').join(','));
  h.update('\0' + request.getAll('route').join(','));
  return h.digest('base64url').slice(0, 12);
}

/** A branch for a forwarded request: cookie, loop hash, and randomness so each fork is unique. */
export function proxyBranch(loopHash: string): string {
  return `${BRANCH_COOKIE}.${loopHash}.${randomBytes(6).toString('base64url')}`;
}
