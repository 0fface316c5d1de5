/** Builders of raw SIP text for transaction and transport tests. */

let counter = 0;

export function uniqueBranch(prefix = 'z9hG4bK'): string {
  counter++;
  return `${prefix}${counter.toString(36)}x${Math.random().toString(36).slice(2, 8)}`;
}

export interface RequestText {
  method: string;
  uri?: string;
  branch?: string;
  /** Whole top Via value; overrides branch/sentBy. */
  via?: string;
  sentBy?: string;
  extraVia?: string[];
  from?: string;
  to?: string;
  callId?: string;
  cseq?: number;
  cseqMethod?: string;
  headers?: string[];
  body?: string;
}

export function requestText(o: RequestText): string {
  const branch = o.branch ?? uniqueBranch();
  const via = o.via ?? `SIP/2.0/UDP ${o.sentBy ?? '198.51.100.7:5062'};branch=${branch};rport`;
  const body = o.body ?? '';
  const lines = [
    `${o.method} ${o.uri ?? 'sip:bob@192.0.2.1'} SIP/2.0`,
    `Via: ${via}`,
    ...(o.extraVia ?? []).map((v) => `Via: ${v}`),
    'Max-Forwards: 70',
    `From: ${o.from ?? '<sip:alice@example.com>;tag=a1'}`,
    `To: ${o.to ?? '<sip:bob@example.com>'}`,
    `Call-ID: ${o.callId ?? 'call-1@example.com'}`,
    `CSeq: ${o.cseq ?? 1} ${o.cseqMethod ?? o.method}`,
    ...(o.method === 'INVITE' ? ['Contact: <sip:alice@198.51.100.7:5062>'] : []),
    ...(o.headers ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}

/** A response to a request we sent (copies its Via list, From, To (+tag), Call-ID, CSeq). */
export function responseTo(
  request: { getAll(name: string): string[]; get(name: string): string | undefined },
  status: number,
  o: { reason?: string; toTag?: string; headers?: string[]; body?: string } = {},
): string {
  const body = o.body ?? '';
  let to = request.get('to') ?? '';
  if (o.toTag !== undefined && !/;tag=/.test(to)) to += `;tag=${o.toTag}`;
  const lines = [
    `SIP/2.0 ${status} ${o.reason ?? 'Reason'}`,
    ...request.getAll('via').map((v) => `Via: ${v}`),
    `From: ${request.get('from') ?? ''}`,
    `To: ${to}`,
    `Call-ID: ${request.get('call-id') ?? ''}`,
    `CSeq: ${request.get('cseq') ?? ''}`,
    ...(o.headers ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}
