/**
 * The INVITE server transaction: RFC 3261 §17.2.1 (Figure 7) as updated by RFC 6026
 * (Accepted state, Timer L; 2xx retransmissions come from the TU, ACKs for 2xx go to the TU).
 */
import { TimeoutError } from '../errors.js';
import type { TransportError } from '../errors.js';
import { makeResponse } from '../transport/message-api.js';
import type { SipRequest, SipResponse } from '../transport/message-api.js';
import type { MessageInfo } from '../transport/transport.js';
import type { TimerHandle } from './clock.js';
import { ServerTransaction } from './server-transaction.js';
import { debug, statusClass } from './transaction.js';
import type { TransactionContext, TransactionKind, TransactionState, TransitionTable } from './transaction.js';

/** Hands an ACK that the Accepted state passes up to the core when the TU has no receiveAck. */
export type AckPassthrough = (ack: SipRequest, info: MessageInfo, transaction: InviteServerTransaction) => void;

/** The arrows of the figure, by source state (one table for every IST). */
const IST_TRANSITIONS: TransitionTable = {
  Proceeding: ['Completed', 'Accepted', 'Terminated'],
  Completed: ['Confirmed', 'Terminated'],
  Confirmed: ['Terminated'],
  Accepted: ['Terminated'],
};

export class InviteServerTransaction extends ServerTransaction {
  readonly kind: TransactionKind = 'INVITE server';
  protected readonly transitions: TransitionTable = IST_TRANSITIONS;
  /** 100 Trying on the TU's behalf after 200 ms (Proceeding). */
  private timerTrying: TimerHandle | undefined;
  /** Response retransmit (Completed). */
  private timerG: TimerHandle | undefined;
  private intervalG = 0;
  /** Wait for ACK (Completed). */
  private timerH: TimerHandle | undefined;
  /** Absorb ACK retransmissions (Confirmed). */
  private timerI: TimerHandle | undefined;
  /** Absorb INVITE retransmissions after a 2xx (Accepted, RFC 6026). */
  private timerL: TimerHandle | undefined;
  readonly #passAck: AckPassthrough;

  constructor(id: string, request: SipRequest, info: MessageInfo, context: TransactionContext, passAck: AckPassthrough) {
    super(id, request, 'Proceeding', info, context);
    this.#passAck = passAck;
  }

  /** Starts the 100 Trying timer (called by the layer before the request goes to the core). */
  start(): void {
    // "When a server transaction is constructed for a request, it enters the "Proceeding" state.
    // The server transaction MUST generate a 100 (Trying) response unless it knows that the TU
    // will generate a provisional or final response within 200 ms, in which case it MAY generate
    // a 100 (Trying) response."
    this.timerTrying = this.startTimer(this.onTimerTrying, this.context.timers.trying);
  }

  private onTimerTrying(): void {
    this.timerTrying = undefined;
    if (this.state !== 'Proceeding' || this.lastStatus !== 0) return;
    const trying = makeResponse(this.request, 100);
    this.keep(trying);
    this.transmit(trying);
  }

  protected sendResponse(response: SipResponse): void {
    const kind = statusClass(response.status);
    switch (this.state) {
      case 'Proceeding':
        this.timerTrying = this.stopTimer(this.timerTrying);
        if (kind === 'provisional') {
          // "The TU passes any number of provisional responses to the server transaction. So long
          // as the server transaction is in the "Proceeding" state, each of these MUST be passed to
          // the transport layer for transmission. They are not sent reliably by the transaction
          // layer (they are not retransmitted by it) and do not cause a change in the state of the
          // server transaction."
          this.keep(response);
          this.transmit(response);
        } else if (kind === 'success') {
          // RFC 6026 (§17.2.1 as updated): "If the SIP element's TU (Transaction User) issues a 2xx response for
          // this transaction while the state machine is in the "Proceeding" state, the state
          // machine MUST transition to the "Accepted" state and set Timer L to 64*T1".
          this.keep(response);
          this.transition('Accepted');
          this.timerL = this.startTimer(this.onTimerL, this.context.timers.L);
          this.transmit(response);
        } else {
          // "While in the "Proceeding" state, if the TU passes a response with status code from
          // 300 to 699 to the server transaction, the response MUST be passed to the transport
          // layer for transmission, and the state machine MUST enter the "Completed" state. For
          // unreliable transports, timer G is set to fire in T1 seconds ... When the "Completed"
          // state is entered, timer H MUST be set to fire in 64*T1 seconds for all transports."
          this.keep(response);
          this.transition('Completed');
          this.intervalG = this.context.timers.G;
          this.timerG = this.startTimer(this.onTimerG, this.intervalG);
          this.timerH = this.startTimer(this.onTimerH, this.context.timers.H);
          this.transmit(response);
        }
        return;
      case 'Accepted':
        // RFC 6026 (§17.2.1 as updated): "Any retransmission of the 2xx response passed from the TU to the
        // transaction while in the "Accepted" state MUST be passed to the transport layer for
        // transmission."
        if (kind === 'success') {
          this.keep(response);
          this.transmit(response);
        } else debug('INVITE server %s: %d discarded in Accepted', this.id, response.status);
        return;
      default:
        // Completed, Confirmed, Terminated: the final response has been sent; anything else from
        // the TU is discarded (cf. §17.2.2 "Any other final responses passed by the TU to the
        // server transaction MUST be discarded while in the "Completed" state").
        debug('INVITE server %s: %d discarded in %s', this.id, response.status, this.state);
        return;
    }
  }

  receiveRequest(_request: SipRequest): void {
    if (this.state === 'Proceeding') {
      // "If a request retransmission is received while in the "Proceeding" state, the most recent
      // provisional response that was received from the TU MUST be passed to the transport layer
      // for retransmission."
      this.retransmitLast();
    } else if (this.state === 'Completed') {
      // "Furthermore, while in the "Completed" state, if a request retransmission is received, the
      // server SHOULD pass the response to the transport for retransmission."
      this.retransmitLast();
    }
    // Accepted, RFC 6026 (§17.2.1 as updated): "While in the "Accepted" state, any
    // retransmissions of the INVITE received will match this transaction state machine and will be
    // absorbed by the machine without changing its state. These retransmissions are not passed
    // onto the TU."
    // Confirmed: retransmissions are absorbed as well.
  }

  /** An ACK that matched this transaction (§17.2.3). */
  receiveAck(ack: SipRequest, info: MessageInfo): void {
    switch (this.state) {
      case 'Completed':
        // "If an ACK is received while the server transaction is in the "Completed" state, the
        // server transaction MUST transition to the "Confirmed" state. As Timer G is ignored in
        // this state, any retransmissions of the response will cease." / "When this state is
        // entered, timer I is set to fire in T4 seconds for unreliable transports".
        this.transition('Confirmed');
        this.timerI = this.startTimer(this.onTimerI, this.context.timers.I);
        return;
      case 'Accepted': {
        // RFC 6026 (§17.2.1 as updated): "Any ACKs received from the network while in the "Accepted" state MUST
        // be passed directly to the TU and not absorbed."
        const user = this.user;
        if (user?.receiveAck !== undefined) user.receiveAck(ack, info);
        else this.#passAck(ack, info, this);
        return;
      }
      default:
        // Confirmed: "The purpose of the "Confirmed" state is to absorb any additional ACK
        // messages that arrive, triggered from retransmissions of the final response."
        // Proceeding: an ACK before any final response matches nothing sent; ignored.
        return;
    }
  }

  private onTimerG(): void {
    if (this.state !== 'Completed') return;
    // "If timer G fires, the response is passed to the transport layer once more for
    // retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds. From then on, when
    // timer G fires, the response is passed to the transport again for transmission, and timer G
    // is reset with a value that doubles, unless that value exceeds T2, in which case it is reset
    // with the value of T2."
    if (!this.retransmitLast()) return;
    this.intervalG = Math.min(2 * this.intervalG, this.context.timers.T2);
    this.timerG = this.startTimer(this.onTimerG, this.intervalG);
  }

  private onTimerH(): void {
    this.timerH = undefined;
    if (this.state !== 'Completed') return;
    // "If timer H fires while in the "Completed" state, it implies that the ACK was never
    // received. In this case, the server transaction MUST transition to the "Terminated" state,
    // and MUST indicate to the TU that a transaction failure has occurred."
    try {
      this.user?.onAckTimeout?.(new TimeoutError(`INVITE ${this.id}: no ACK for ${this.lastStatus} (Timer H)`));
    } finally {
      this.transition('Terminated');
    }
  }

  private onTimerI(): void {
    // "Once timer I fires, the server MUST transition to the "Terminated" state."
    this.timerI = undefined;
    if (this.state === 'Confirmed') this.transition('Terminated');
  }

  private onTimerL(): void {
    // RFC 6026 (§17.2.1 as updated): "When Timer L fires and the state machine is in the "Accepted" state, the
    // machine MUST transition to the "Terminated" state."
    this.timerL = undefined;
    if (this.state === 'Accepted') this.transition('Terminated');
  }

  protected onTransportError(error: TransportError): void {
    // Figure 7: "Transport Err. Inform TU" from Proceeding and from Completed.
    if (this.state !== 'Proceeding' && this.state !== 'Completed') {
      this.user?.onTransportError?.(error);
      return;
    }
    try {
      this.user?.onTransportError?.(error);
    } finally {
      this.transition('Terminated');
    }
  }

  protected leave(from: TransactionState): void {
    if (from === 'Proceeding') this.timerTrying = this.stopTimer(this.timerTrying);
    else if (from === 'Completed') {
      this.timerG = this.stopTimer(this.timerG);
      this.timerH = this.stopTimer(this.timerH);
    } else if (from === 'Confirmed') this.timerI = this.stopTimer(this.timerI);
    else if (from === 'Accepted') this.timerL = this.stopTimer(this.timerL);
  }

  protected clearTimers(): void {
    this.timerTrying = this.stopTimer(this.timerTrying);
    this.timerG = this.stopTimer(this.timerG);
    this.timerH = this.stopTimer(this.timerH);
    this.timerI = this.stopTimer(this.timerI);
    this.timerL = this.stopTimer(this.timerL);
  }
}
