import { createHash } from 'node:crypto';
import { randomBase64url } from '../message/random.js';
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
  // one update with the fields joined: each update() is a crossing into C++
  const fields = [
    request.uri.toString(),
    request.to.tag ?? '',
    request.from.tag ?? '',
    request.callId,
    request.cseq.seq,
    request.getAll('proxy-require').join(','),
    request.getAll('proxy-authorization').join(','),
    request.getAll('route').join(','),
  ].join('\0');
  return createHash('sha1').update(fields).digest('base64url').slice(0, 12);
}

/** A branch for a forwarded request: cookie, loop hash, and randomness so each fork is unique. */
export function proxyBranch(loopHash: string): string {
  return `${BRANCH_COOKIE}.${loopHash}.${randomBase64url(6)}`;
}
