import type { Call } from './call.js';

/** What the proxy reports when a call ends: one line per call at info level. */
export interface CallRecord {
  callId: string;
  caller: string;
  callee: string;
  /** NAT verdict: natted or not, and the tests that fired. */
  natted: boolean;
  natTests: string[];
  /** Relay ports handed out, or undefined when media went direct. */
  relayPorts: string | undefined;
  /** Final status of the INVITE, or what ended the call ('bye', 'media-timeout', ...). */
  result: string;
  /** Seconds from answer to end; 0 for a call never answered. */
  duration: number;
}

export function callRecord(call: Call, result: string, now: number): CallRecord {
  return {
    callId: call.callId,
    caller: call.caller.uri,
    callee: call.callee.uri,
    natted: call.verdict.natted,
    natTests: call.verdict.fired.map((t) => t.test),
    relayPorts: call.relayed ? (call.relayPorts ?? 'allocated') : undefined,
    result,
    duration: call.answeredAt === undefined ? 0 : Math.round((now - call.answeredAt) / 100) / 10,
  };
}

/** The call line: `call <caller> -> <callee> nat=<yes (tests)|no> relay=<ports|none> result=<r> duration=<s>s`. */
export function formatCallRecord(r: CallRecord): string {
  const nat = r.natted ? `yes(${r.natTests.join('+')})` : 'no';
  return `call ${r.caller} -> ${r.callee} nat=${nat} relay=${r.relayPorts ?? 'none'} result=${r.result} duration=${r.duration}s call-id=${r.callId}`;
}
