/**
 * The non-INVITE server transaction: RFC 3261 §17.2.2 (Figure 8).
 */
import type { TransportError } from '../errors.js';
import type { SipRequest, SipResponse } from '../transport/message-api.js';
import type { MessageInfo } from '../transport/transport.js';
import type { TimerHandle } from './clock.js';
import { ServerTransaction } from './server-transaction.js';
import { debug } from './transaction.js';
import type { TransactionContext, TransactionKind, TransactionState, TransitionTable } from './transaction.js';

/** The arrows of the figure, by source state (one table for every NIST). */
const NIST_TRANSITIONS: TransitionTable = {
  Trying: ['Proceeding', 'Completed'],
  Proceeding: ['Completed', 'Terminated'],
  Completed: ['Terminated'],
};

export class NonInviteServerTransaction extends ServerTransaction {
  readonly kind: TransactionKind = 'non-INVITE server';
  protected readonly transitions: TransitionTable = NIST_TRANSITIONS;
  /** Absorb request retransmissions (Completed). */
  private timerJ: TimerHandle | undefined;

  constructor(id: string, request: SipRequest, info: MessageInfo, context: TransactionContext) {
    // "The state machine is initialized in the "Trying" state and is passed a request other than
    // INVITE or ACK when initialized. This request is passed up to the TU."
    super(id, request, 'Trying', info, context);
  }

  protected sendResponse(response: SipResponse): void {
    const provisional = response.status < 200;
    switch (this.state) {
      case 'Trying':
      case 'Proceeding':
        this.keep(response);
        if (provisional) {
          // "While in the "Trying" state, if the TU passes a provisional response to the server
          // transaction, the server transaction MUST enter the "Proceeding" state. The response
          // MUST be passed to the transport layer for transmission. Any further provisional
          // responses that are received from the TU while in the "Proceeding" state MUST be passed
          // to the transport layer for transmission."
          if (this.state === 'Trying') this.transition('Proceeding');
        } else {
          // "If the TU passes a final response (status codes 200-699) to the server while in the
          // "Proceeding" state, the transaction MUST enter the "Completed" state, and the response
          // MUST be passed to the transport layer for transmission." (Likewise from "Trying".)
          // "When the server transaction enters the "Completed" state, it MUST set Timer J to fire
          // in 64*T1 seconds for unreliable transports".
          this.transition('Completed');
          this.timerJ = this.startTimer(this.onTimerJ, this.context.timers.J);
        }
        this.transmit(response);
        return;
      default:
        // "Any other final responses passed by the TU to the server transaction MUST be discarded
        // while in the "Completed" state."
        debug('non-INVITE server %s: %d discarded in %s', this.id, response.status, this.state);
        return;
    }
  }

  receiveRequest(_request: SipRequest): void {
    switch (this.state) {
      case 'Trying':
        // "Once in the "Trying" state, any further request retransmissions are discarded."
        return;
      case 'Proceeding':
        // "If a retransmission of the request is received while in the "Proceeding" state, the
        // most recently sent provisional response MUST be passed to the transport layer for
        // retransmission."
        this.retransmitLast();
        return;
      case 'Completed':
        // "While in the "Completed" state, the server transaction MUST pass the final response to
        // the transport layer for retransmission whenever a retransmission of the request is
        // received."
        this.retransmitLast();
        return;
      default:
        return;
    }
  }

  private onTimerJ(): void {
    // "The server transaction remains in this state until Timer J fires, at which point it MUST
    // transition to the "Terminated" state."
    this.timerJ = undefined;
    if (this.state === 'Completed') this.transition('Terminated');
  }

  protected onTransportError(error: TransportError): void {
    // Figure 8: "Transport Err. / Inform TU" from Proceeding and from Completed to Terminated.
    if (this.state !== 'Proceeding' && this.state !== 'Completed') return;
    try {
      this.user?.onTransportError?.(error);
    } finally {
      this.transition('Terminated');
    }
  }

  protected leave(from: TransactionState): void {
    if (from === 'Completed') this.timerJ = this.stopTimer(this.timerJ);
  }

  protected clearTimers(): void {
    this.timerJ = this.stopTimer(this.timerJ);
  }
}
