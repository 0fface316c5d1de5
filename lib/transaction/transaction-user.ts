/**
 * The transaction user (TU) boundary (RFC 3261 §17): interfaces of optional callbacks that a
 * proxy core and a user agent core both implement. A transaction knows nothing about dialogs or
 * proxies; it calls these.
 */
import type { TimeoutError, TransportError } from '../errors.js';
import type { SipRequest, SipResponse } from '../transport/message-api.js';
import type { MessageInfo } from '../transport/transport.js';
import type { TransactionState } from './transaction.js';
import type { ServerTransaction } from './server-transaction.js';
import type { InviteServerTransaction } from './invite-server.js';

export interface TransactionUser {
  /** Every state change, Terminated included (the transaction is gone after that one). */
  onStateChange?(state: TransactionState): void;
  /**
   * RFC 3261 §8.1.3.1: "If a fatal transport error is reported by the transport layer (generally,
   * due to fatal ICMP errors in UDP or connection failures in TCP), the condition MUST be treated
   * as a 503 (Service Unavailable) status code."
   */
  onTransportError?(error: TransportError): void;
}

export interface ClientTransactionUser extends TransactionUser {
  /** Responses the transaction passes up: provisional, final, and (RFC 6026) retransmitted 2xx to INVITE. */
  receiveResponse?(response: SipResponse): void;
  /**
   * Timer B or F fired. RFC 3261 §8.1.3.1: "If the transaction layer reports a timeout, the
   * condition MUST be treated as a 408 (Request Timeout) status code."
   */
  onRequestTimeout?(error: TimeoutError): void;
}

export interface ServerTransactionUser extends TransactionUser {
  /**
   * RFC 6026 (§17.2.1 as updated): "Any ACKs received from the network while in the "Accepted" state MUST be
   * passed directly to the TU and not absorbed." When absent, the ACK goes to the core's
   * `receiveAck`.
   */
  receiveAck?(ack: SipRequest, info: MessageInfo): void;
  /**
   * Timer H fired: RFC 3261 §17.2.1 "it implies that the ACK was never received. In this case,
   * the server transaction MUST transition to the "Terminated" state, and MUST indicate to the TU
   * that a transaction failure has occurred."
   */
  onAckTimeout?(error: TimeoutError): void;
}

/**
 * The core above the transaction layer (a proxy or a user agent): receives what no transaction
 * absorbs. Only `receiveRequest` is required.
 */
export interface TransactionLayerUser {
  /**
   * A new request (not ACK), with the server transaction created for it (§17.2). The core must
   * answer through `transaction.respond()`. A CANCEL arrives here too, in its own transaction;
   * `layer.findTransactionToCancel(cancel)` finds the INVITE it cancels (§9.2).
   */
  receiveRequest(request: SipRequest, transaction: ServerTransaction, info: MessageInfo): void;
  /**
   * An ACK that matched no server transaction (the ACK for a 2xx, §17.2.3 / §13.2.2.4), or one
   * that matched an INVITE server transaction in the Accepted state whose TU has no `receiveAck`
   * (then `transaction` is that transaction).
   */
  receiveAck?(ack: SipRequest, info: MessageInfo, transaction?: InviteServerTransaction): void;
  /**
   * A response that matched no client transaction. RFC 3261 §18.1.2: "If there are any client
   * transactions in existence, the client transport uses the matching procedures of Section
   * 17.1.3 to attempt to match the response to an existing transaction. If there is a match, the
   * response MUST be passed to that transaction. Otherwise, the response MUST be passed to the
   * core (whether it be stateless proxy, stateful proxy, or UA) for further processing."
   */
  receiveResponse?(response: SipResponse, info: MessageInfo): void;
}
