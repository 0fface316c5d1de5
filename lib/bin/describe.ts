import type { SipRequest, SipResponse } from '../message/message.js';

/** A plain-object summary of a parsed message, for printing. */
export function describeMessage(m: SipRequest | SipResponse): Record<string, unknown> {
  return {
    startLine: m.startLine(),
    ...(m.isRequest ? { method: m.method, uri: String(m.uri) } : { status: m.status, reason: m.reason }),
    via: m.via.map((v) => ({ transport: v.transport, host: v.host, port: v.port, branch: v.branch, received: v.received, rport: v.rport })),
    from: { uri: String(m.from.uri), displayName: m.from.displayName, tag: m.from.tag },
    to: { uri: String(m.to.uri), displayName: m.to.displayName, tag: m.to.tag },
    callId: m.callId,
    cseq: m.cseq,
    contact: m.contact.map((c) => (c.wildcard ? '*' : String(c.uri))),
    maxForwards: m.maxForwards,
    headers: m.headers.length,
    bodyBytes: m.body.length,
  };
}
