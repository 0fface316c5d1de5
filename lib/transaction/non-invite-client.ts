/**
 * The non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6).
 */
import { TimeoutError } from '../errors.js';
import type { TransportError } from '../errors.js';
import type { SipRequest, SipResponse } from '../transport/message-api.js';
import type { Endpoint } from '../transport/transport.js';
import type { TimerHandle } from './clock.js';
import { ClientTransaction } from './client-transaction.js';
import type { TransactionContext, TransactionKind, TransactionState, TransitionTable } from './transaction.js';
import type { ClientTransactionUser } from './transaction-user.js';

/** The arrows of the figure, by source state (one table for every NICT). */
const NICT_TRANSITIONS: TransitionTable = {
  Trying: ['Proceeding', 'Completed', 'Terminated'],
  Proceeding: ['Completed', 'Terminated'],
  Completed: ['Terminated'],
};

export class NonInviteClientTransaction extends ClientTransaction {
  readonly kind: TransactionKind = 'non-INVITE client';
  protected readonly transitions: TransitionTable = NICT_TRANSITIONS;
  /** Request retransmit (Trying, Proceeding). */
  private timerE: TimerHandle | undefined;
  private intervalE = 0;
  /** Transaction timeout (Trying, Proceeding). */
  private timerF: TimerHandle | undefined;
  /** Wait for response retransmissions (Completed). */
  private timerK: TimerHandle | undefined;

  constructor(id: string, request: SipRequest, destination: Endpoint | Promise<Endpoint>, context: TransactionContext, user: ClientTransactionUser | undefined) {
    super(id, request, 'Trying', destination, context, user);
  }

  start(): void {
    const t = this.context.timers;
    // "The "Trying" state is entered when the TU initiates a new client transaction with a
    // request. When entering this state, the client transaction SHOULD set timer F to fire in
    // 64*T1 seconds. The request MUST be passed to the transport layer for transmission. If an
    // unreliable transport is in use, the client transaction MUST set timer E to fire in T1
    // seconds."
    this.timerF = this.startTimer(this.onTimerF, t.F);
    this.sendMessage(this.request, this.destination);
    this.intervalE = t.E;
    this.timerE = this.startTimer(this.onTimerE, this.intervalE);
  }

  private onTimerE(): void {
    const t = this.context.timers;
    if (this.state === 'Trying') {
      // "If timer E fires while still in this state, the timer is reset, but this time with a
      // value of MIN(2*T1, T2). When the timer fires again, it is reset to a MIN(4*T1, T2). This
      // process continues so that retransmissions occur with an exponentially increasing interval
      // that caps at T2."
      this.intervalE = Math.min(2 * this.intervalE, t.T2);
    } else if (this.state === 'Proceeding') {
      // "If Timer E fires while in the "Proceeding" state, the request MUST be passed to the
      // transport layer for retransmission, and Timer E MUST be reset with a value of T2 seconds."
      this.intervalE = t.T2;
    } else return;
    this.sendMessage(this.requestToSend, this.destination);
    this.timerE = this.startTimer(this.onTimerE, this.intervalE);
  }

  private onTimerF(): void {
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
    this.timerF = undefined;
    // "If Timer F fires while the client transaction is still in the "Trying" state, the client
    // transaction SHOULD inform the TU about the timeout, and then it SHOULD enter the
    // "Terminated" state." / "If timer F fires while in the "Proceeding" state, the TU MUST be
    // informed of a timeout, and the client transaction MUST transition to the terminated state."
    try {
      this.user?.onRequestTimeout?.(new TimeoutError(`${this.request.method} ${this.branch}: no final response (Timer F)`));
    } finally {
      this.transition('Terminated');
    }
  }

  private onTimerK(): void {
    // "If Timer K fires while in this state, the client transaction MUST transition to the
    // "Terminated" state."
    this.timerK = undefined;
    if (this.state === 'Completed') this.transition('Terminated');
  }

  receiveResponse(response: SipResponse): void {
    const provisional = response.status < 200;
    switch (this.state) {
      case 'Trying':
      case 'Proceeding':
        if (provisional) {
          // "If a provisional response is received while in the "Trying" state, the response MUST
          // be passed to the TU, and then the client transaction SHOULD move to the "Proceeding"
          // state." (In Proceeding: "1xx from TL / resp. to TU", Figure 6.)
          if (this.state === 'Trying') this.transition('Proceeding');
          this.user?.receiveResponse?.(response);
        } else {
          // "If a final response (status codes 200-699) is received while in the "Trying" state,
          // the response MUST be passed to the TU, and the client transaction MUST transition to
          // the "Completed" state." (Likewise in "Proceeding".) "Once the client transaction
          // enters the "Completed" state, it MUST set Timer K to fire in T4 seconds for unreliable
          // transports".
          this.transition('Completed');
          this.timerK = this.startTimer(this.onTimerK, this.context.timers.K);
          this.user?.receiveResponse?.(response);
        }
        return;
      default:
        // Completed: "The "Completed" state exists to buffer any additional response
        // retransmissions that may be received (which is why the client transaction remains there
        // only for unreliable transports)." They are absorbed.
        return;
    }
  }

  protected onTransportError(error: TransportError): void {
    // Figure 6: "Transport Err. ... inform TU" from Trying and Proceeding.
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
    try {
      this.user?.onTransportError?.(error);
    } finally {
      this.transition('Terminated');
    }
  }

  protected leave(from: TransactionState, to: TransactionState): void {
    // E and F run across Trying and Proceeding; they stop when the machine leaves both.
    if ((from === 'Trying' || from === 'Proceeding') && to !== 'Proceeding') {
      this.timerE = this.stopTimer(this.timerE);
      this.timerF = this.stopTimer(this.timerF);
    } else if (from === 'Completed') this.timerK = this.stopTimer(this.timerK);
  }

  protected clearTimers(): void {
    this.timerE = this.stopTimer(this.timerE);
    this.timerF = this.stopTimer(this.timerF);
    this.timerK = this.stopTimer(this.timerK);
  }
}
