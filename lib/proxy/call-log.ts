import type { Call } from './call.js';
import type { MediaCounters } from '../relay/relay-allocator.js';

/** What the proxy reports when a call ends: one line per call at info level. */
export interface CallRecord {
  callId: string;
  caller: string;
  callee: string;
  /** NAT verdict: natted or not, and the tests that fired. */
  natted: boolean;
  natTests: string[];
  /**
   * Relay ports, `caller/callee`: the ports given to the caller (in the SDP it received) and to
   * the callee; undefined when media went direct.
   */
  relayPorts: string | undefined;
  /** Final status of the INVITE, or what ended the call ('bye', 'media-timeout', ...). */
  result: string;
  /** Seconds from answer to end; 0 for a call never answered. */
  duration: number;
  /** Media packets the relay received from each party, when the relay counts them. */
  packets?: MediaCounters;
}

export function callRecord(call: Call, result: string, now: number, packets?: MediaCounters): CallRecord {
  return {
    ...(packets !== undefined ? { packets } : {}),
    callId: call.callId,
    caller: call.caller.uri,
    callee: call.callee.uri,
    natted: call.verdict.natted,
    natTests: call.verdict.fired.map((t) => t.test),
    relayPorts: call.relayed ? `${call.relayPorts.caller ?? '-'}/${call.relayPorts.callee ?? '-'}` : undefined,
    result,
    duration: call.answeredAt === undefined ? 0 : Math.round((now - call.answeredAt) / 100) / 10,
  };
}

/** The call line: `call <caller> -> <callee> nat=<yes (tests)|no> relay=<ports|none> result=<r> duration=<s>s`. */
export function formatCallRecord(r: CallRecord): string {
  const nat = r.natted ? `yes(${r.natTests.join('+')})` : 'no';
  const media = r.packets !== undefined ? ` rtp-in=${r.packets.fromCaller}/${r.packets.fromCallee}` : '';
  return `call ${r.caller} -> ${r.callee} nat=${nat} relay=${r.relayPorts ?? 'none'}${media} result=${r.result} duration=${r.duration}s call-id=${r.callId}`;
}
