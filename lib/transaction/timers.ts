/**
 * RFC 3261 Table 4 (§A) and RFC 6026 (Timers L and M) values for an unreliable transport,
 * computed from T1, T2 and T4.
 */
import { InvalidArgumentError } from '../errors.js';

export interface TimerOptions {
  /** RTT estimate. Default 500 ms. */
  T1?: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses. Default 4 s. */
  T2?: number;
  /** Maximum duration a message will remain in the network. Default 5 s. */
  T4?: number;
  /** Timer D: "> 32s for UDP". Default 32 s (or 64*T1 if that is larger). */
  D?: number;
  /** How long an INVITE server transaction waits for the TU before it sends 100 Trying itself. Default 200 ms. */
  trying?: number;
}

export interface TimerValues {
  readonly T1: number;
  readonly T2: number;
  readonly T4: number;
  /** INVITE request retransmit interval, initially T1. */
  readonly A: number;
  /** INVITE transaction timeout: 64*T1. */
  readonly B: number;
  /** Wait time for response retransmits: at least 32 s for UDP. */
  readonly D: number;
  /** Non-INVITE request retransmit interval, initially T1. */
  readonly E: number;
  /** Non-INVITE transaction timeout: 64*T1. */
  readonly F: number;
  /** INVITE response retransmit interval, initially T1. */
  readonly G: number;
  /** Wait time for ACK receipt: 64*T1. */
  readonly H: number;
  /** Wait time for ACK retransmits: T4. */
  readonly I: number;
  /** Wait time for non-INVITE request retransmits: 64*T1. */
  readonly J: number;
  /** Wait time for response retransmits: T4. */
  readonly K: number;
  /** RFC 6026: wait time for accepted INVITE request retransmits: 64*T1. */
  readonly L: number;
  /** RFC 6026: wait time for retransmission of 2xx to INVITE or additional 2xx from other branches: 64*T1. */
  readonly M: number;
  /** §17.2.1: 200 ms before the server INVITE transaction sends 100 Trying on its own. */
  readonly trying: number;
}

function positive(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`timer ${name} must be a positive number of milliseconds`);
  return v;
}

export function timerValues(options: TimerOptions = {}): TimerValues {
  const T1 = positive('T1', options.T1 ?? 500);
  const T2 = positive('T2', options.T2 ?? 4000);
  const T4 = positive('T4', options.T4 ?? 5000);
  if (T2 < T1) throw new InvalidArgumentError('timer T2 must not be smaller than T1');
  const D = positive('D', options.D ?? Math.max(32000, 64 * T1));
  const trying = positive('trying', options.trying ?? 200);
  const t64 = 64 * T1;
  return { T1, T2, T4, A: T1, B: t64, D, E: T1, F: t64, G: T1, H: t64, I: T4, J: t64, K: T4, L: t64, M: t64, trying };
}
