import type { SipResponse } from '../message/message.js';

/**
 * RFC 3261 §16.7 step 6, choosing the best final response from those stored in a response
 * context: "the proxy MUST choose from the 6xx class responses if any exist. If no 6xx class
 * responses are present, the proxy SHOULD choose from the lowest response class stored in the
 * response context." Within a class, the first received wins.
 */
export function bestResponse(responses: readonly SipResponse[]): SipResponse | undefined {
  let best: SipResponse | undefined;
  for (const r of responses) {
    if (r.status < 300) continue;
    if (best === undefined) {
      best = r;
      continue;
    }
    const bestClass = Math.floor(best.status / 100);
    const cls = Math.floor(r.status / 100);
    if (bestClass === 6) continue;
    if (cls === 6 || cls < bestClass) best = r;
  }
  return best;
}

/**
 * Whether a failed branch should be followed by the next target in sequential forking: not
 * after a 6xx ("global failure", §21.6), nor a 487 (the request was cancelled).
 */
export function tryNextTarget(status: number): boolean {
  return status >= 300 && status < 600 && status !== 487;
}
