import { randomBase64url, randomHex } from './random.js';
import { SipRequest, SipResponse, defaultReason } from './message.js';
import { BRANCH_COOKIE } from './via.js';
import type { HeaderField } from './types.js';

/** A new branch: the RFC 3261 magic cookie plus 96 random bits (§8.1.1.7). */
export function generateBranch(): string {
  return BRANCH_COOKIE + randomBase64url(12);
}

/** A new tag: at least 32 bits of randomness (§19.3). */
export function generateTag(): string {
  return randomHex(8);
}

/** A new Call-ID, globally unique (§8.1.1.4). */
export function generateCallId(host?: string): string {
  const id = randomHex(16);
  return host !== undefined ? `${id}@${host}` : id;
}

export interface ResponseOptions {
  reason?: string;
  /** Extra headers, added after the copied ones. */
  headers?: ReadonlyArray<HeaderField> | Record<string, string>;
  body?: Buffer | string;
  /** A To tag to add when the request's To has none (§8.2.6.2); omitted for 100 Trying. */
  toTag?: string;
}

/**
 * Builds a response to a request (RFC 3261 §8.2.6): Via (all values, in order), From, Call-ID and
 * CSeq copied; To copied, with a tag added for any status above 100 when the request's To has none.
 */
export function makeResponse(request: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
  const headers: HeaderField[] = [];
  for (const h of request.headers) {
    const key = h.name.toLowerCase();
    if (key === 'via' || key === 'v' || key === 'from' || key === 'f' || key === 'call-id' || key === 'i' || key === 'cseq') {
      headers.push({ name: h.name, value: h.value });
    } else if (key === 'to' || key === 't') {
      let value = h.value;
      if (status > 100 && request.to.tag === undefined) value += ';tag=' + (options.toTag ?? generateTag());
      headers.push({ name: h.name, value });
    }
  }
  const res = new SipResponse({ status, reason: options.reason ?? defaultReason(status), headers, body: options.body ?? Buffer.alloc(0) });
  if (options.headers !== undefined) {
    const extra = Array.isArray(options.headers)
      ? (options.headers as ReadonlyArray<HeaderField>)
      : Object.entries(options.headers as Record<string, string>).map(([name, value]) => ({ name, value }));
    for (const h of extra) res.append(h.name, h.value);
  }
  return res;
}
