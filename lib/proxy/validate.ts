import type { SipRequest } from '../message/message.js';
import type { LocalIdentity } from './local-identity.js';
import { loopBranchHash } from './loop-detection.js';

/** A reason to refuse a request before forwarding it: a status, and headers to add to the answer. */
export interface Refusal {
  status: number;
  reason?: string;
  headers?: Record<string, string>;
}

/** Extensions this proxy supports in Proxy-Require (§16.3 step 5). */
const SUPPORTED_EXTENSIONS: ReadonlySet<string> = new Set();

/**
 * RFC 3261 §16.3 request validation, steps 2-5 (step 1, reasonable syntax, is the parser's; step
 * 6, Proxy-Authorization, belongs to authentication). Returns undefined when the request may go on.
 */
export function validateRequest(request: SipRequest, self: LocalIdentity): Refusal | undefined {
  // Step 2: "If the Request-URI has a URI whose scheme is not understood by the proxy, the proxy
  // SHOULD reject the request with a 416 (Unsupported URI Scheme) response."
  const scheme = request.uri.scheme;
  if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') return { status: 416 };

  // Step 3: "If the request does not contain a Max-Forwards header field, this step is passed.
  // If the request contains a Max-Forwards header field with a field value of zero (0), the
  // element MUST NOT forward the request." (the 483 Too many hops answer)
  if (request.maxForwards === 0 && request.method !== 'ACK') return { status: 483 };

  // Step 4: loop detection. "the proxy MUST inspect the Via values for its own sent-by; if found,
  // computes the branch it would add and compares to the found branch value" - equal: a loop.
  const hash = loopBranchHash(request);
  for (const via of request.via.slice(1)) {
    if (via.host.toLowerCase() === self.host.toLowerCase() && (via.port ?? 5060) === self.port) {
      const branch = via.branch ?? '';
      if (branch.includes('.' + hash + '.')) return { status: 482 };
    }
  }

  // Step 5: "If the request contains a Proxy-Require header field with one or more option-tags
  // this element does not understand, the element MUST return a 420 (Bad Extension) response.
  // The response MUST include an Unsupported header field listing those option-tags"
  const unsupported = request.getAll('proxy-require').filter((t) => !SUPPORTED_EXTENSIONS.has(t.toLowerCase()));
  if (unsupported.length > 0 && request.method !== 'ACK' && request.method !== 'CANCEL') {
    return { status: 420, headers: { Unsupported: unsupported.join(', ') } };
  }
  return undefined;
}
