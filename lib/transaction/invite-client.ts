/**
 * The INVITE client transaction: RFC 3261 §17.1.1 (Figure 5) as updated by RFC 6026
 * (Figure 5 of RFC 6026: 2xx → Accepted, Timer M).
 */
import { TimeoutError } from '../errors.js';
import type { TransportError } from '../errors.js';
import type { SipRequest, SipResponse } from '../transport/message-api.js';
import type { Endpoint } from '../transport/transport.js';
import type { TimerHandle } from './clock.js';
import { ClientTransaction } from './client-transaction.js';
import { buildAckForNonSuccess } from './requests.js';
import { statusClass, textToKeep, toSend } from './transaction.js';
import type { TransactionContext, TransactionKind, TransactionState, TransitionTable } from './transaction.js';
import type { ClientTransactionUser } from './transaction-user.js';

/** The arrows of the figure, by source state (one table for every ICT). */
const ICT_TRANSITIONS: TransitionTable = {
  Calling: ['Proceeding', 'Completed', 'Accepted', 'Terminated'],
  Proceeding: ['Completed', 'Accepted'],
  Completed: ['Terminated'],
  Accepted: ['Terminated'],
};

export class InviteClientTransaction extends ClientTransaction {
  readonly kind: TransactionKind = 'INVITE client';
  protected readonly transitions: TransitionTable = ICT_TRANSITIONS;
  /** Request retransmit (Calling). */
  private timerA: TimerHandle | undefined;
  private intervalA = 0;
  /** Transaction timeout (Calling). */
  private timerB: TimerHandle | undefined;
  /** Wait for response retransmissions (Completed). */
  private timerD: TimerHandle | undefined;
  /** Wait for 2xx retransmissions (Accepted, RFC 6026). */
  private timerM: TimerHandle | undefined;
  /** The ACK sent for the non-2xx final response, resent for its retransmissions (bytes once compacted). */
  private ack: SipRequest | string | undefined;

  constructor(id: string, request: SipRequest, destination: Endpoint | Promise<Endpoint>, context: TransactionContext, user: ClientTransactionUser | undefined) {
    super(id, request, 'Calling', destination, context, user);
  }

  start(): void {
    const t = this.context.timers;
    // "The initial state, "calling", MUST be entered when the TU initiates a new client
    // transaction with an INVITE request. The client transaction MUST pass the request to the
    // transport layer for transmission (see Section 18). If an unreliable transport is being used,
    // the client transaction MUST start timer A with a value of T1."
    this.sendMessage(this.request, this.destination);
    this.intervalA = t.A;
    this.timerA = this.startTimer(this.onTimerA, this.intervalA);
    // "For any transport, the client transaction MUST start timer B with a value of 64*T1 seconds
    // (Timer B controls transaction timeouts)."
    this.timerB = this.startTimer(this.onTimerB, t.B);
  }

  private onTimerA(): void {
    if (this.state !== 'Calling') return;
    // "When timer A fires, the client transaction MUST retransmit the request by passing it to the
    // transport layer, and MUST reset the timer with a value of 2*T1. ... This process MUST
    // continue so that the request is retransmitted with intervals that double after each
    // transmission."
    this.sendMessage(this.requestToSend, this.destination);
    this.intervalA *= 2;
    this.timerA = this.startTimer(this.onTimerA, this.intervalA);
  }

  private onTimerB(): void {
    if (this.state !== 'Calling') return;
    // "If the client transaction is still in the "Calling" state when timer B fires, the client
    // transaction SHOULD inform the TU that a timeout has occurred. The client transaction MUST
    // NOT generate an ACK."
    this.timerB = undefined;
    try {
      this.user?.onRequestTimeout?.(new TimeoutError(`INVITE ${this.branch}: no response (Timer B)`));
    } finally {
      this.transition('Terminated');
    }
  }

  private onTimerD(): void {
    // "If timer D fires while the client transaction is in the "Completed" state, the client
    // transaction MUST move to the terminated state."
    this.timerD = undefined;
    if (this.state === 'Completed') this.transition('Terminated');
  }

  private onTimerM(): void {
    // RFC 6026 (§17.1.1.2 as updated): "When Timer M fires and the state machine is in the "Accepted" state, the
    // machine MUST transition to the "Terminated" state. Once the transaction is in the
    // "Terminated" state, it MUST be destroyed immediately."
    this.timerM = undefined;
    if (this.state === 'Accepted') this.transition('Terminated');
  }

  receiveResponse(response: SipResponse): void {
    const kind = statusClass(response.status);
    switch (this.state) {
      case 'Calling':
      case 'Proceeding':
        if (kind === 'provisional') {
          // "If the client transaction receives a provisional response while in the "Calling"
          // state, it transitions to the "Proceeding" state. In the "Proceeding" state, the client
          // transaction SHOULD NOT retransmit the request any longer. Furthermore, the provisional
          // response MUST be passed to the TU. Any further provisional responses MUST be passed up
          // to the TU while in the "Proceeding" state."
          if (this.state === 'Calling') this.transition('Proceeding');
          this.user?.receiveResponse?.(response);
        } else if (kind === 'success') {
          // RFC 6026 (§17.1.1.2 as updated): "If a 2xx response is received while the client INVITE state machine
          // is in the "Calling" or "Proceeding" states, it MUST transition to the "Accepted"
          // state, pass the 2xx response to the TU, and set Timer M to 64*T1."
          this.transition('Accepted');
          this.timerM = this.startTimer(this.onTimerM, this.context.timers.M);
          this.user?.receiveResponse?.(response);
        } else {
          // "When in either the "Calling" or "Proceeding" states, reception of a response with
          // status code from 300-699 MUST cause the client transaction to transition to
          // "Completed". The client transaction MUST pass the received response up to the TU, and
          // the client transaction MUST generate an ACK request, even if the transport is reliable
          // (guidelines for constructing the ACK from the response are given in Section 17.1.1.3)
          // and then pass the ACK to the transport layer for transmission. The ACK MUST be sent to
          // the same address, port, and transport to which the original request was sent. The
          // client transaction SHOULD start timer D when it enters the "Completed" state, with a
          // value of at least 32 seconds for unreliable transports".
          this.transition('Completed');
          this.ack = buildAckForNonSuccess(this.request, response);
          this.sendMessage(this.ack, this.destination);
          this.timerD = this.startTimer(this.onTimerD, this.context.timers.D);
          this.user?.receiveResponse?.(response);
        }
        return;
      case 'Completed':
        // "Any retransmissions of the final response that are received while in the "Completed"
        // state MUST cause the ACK to be re-passed to the transport layer for retransmission, but
        // the newly received response MUST NOT be passed up to the TU."
        if (kind === 'failure' && this.ack !== undefined) this.sendMessage(toSend(this.ack), this.destination);
        return;
      case 'Accepted':
        // RFC 6026 (§17.1.1.2 as updated): "A 2xx response received while in the "Accepted" state MUST be passed to
        // the TU and the machine remains in the "Accepted" state. The client transaction MUST NOT
        // generate an ACK to any 2xx response on its own. The TU responsible for the transaction
        // will generate the ACK."
        if (kind === 'success') this.user?.receiveResponse?.(response);
        return;
      default:
        return;
    }
  }

  protected onTransportError(error: TransportError): void {
    // Figure 5: "Transport Err. Inform TU" from Calling (the INVITE) and from Completed (the ACK).
    if (this.state !== 'Calling' && this.state !== 'Completed') return;
    try {
      this.user?.onTransportError?.(error);
    } finally {
      this.transition('Terminated');
    }
  }

  protected override compactMessages(): void {
    if (this.ack !== undefined && typeof this.ack !== 'string') this.ack = textToKeep(this.ack);
  }

  protected leave(from: TransactionState): void {
    if (from === 'Calling') {
      this.timerA = this.stopTimer(this.timerA);
      this.timerB = this.stopTimer(this.timerB);
    } else if (from === 'Completed') this.timerD = this.stopTimer(this.timerD);
    else if (from === 'Accepted') this.timerM = this.stopTimer(this.timerM);
  }

  protected clearTimers(): void {
    this.timerA = this.stopTimer(this.timerA);
    this.timerB = this.stopTimer(this.timerB);
    this.timerD = this.stopTimer(this.timerD);
    this.timerM = this.stopTimer(this.timerM);
  }
}
