import type { SipRequest, SipResponse } from '../transport/message-api.js';
import type { Endpoint } from '../transport/transport.js';
import { Transaction } from './transaction.js';
import type { TransactionContext, TransactionState } from './transaction.js';
import type { ClientTransactionUser } from './transaction-user.js';

/** The client side (§17.1): sends a request, retransmits it, matches its responses. */
export abstract class ClientTransaction extends Transaction<ClientTransactionUser> {
  /** Where the request goes (resolved once; CANCEL goes to the same place, §9.1). */
  readonly destination: Endpoint | Promise<Endpoint>;

  protected constructor(
    id: string,
    request: SipRequest,
    initial: TransactionState,
    destination: Endpoint | Promise<Endpoint>,
    context: TransactionContext,
    user: ClientTransactionUser | undefined,
  ) {
    super(id, request, initial, context, user);
    this.destination = destination;
    // a rejected destination is reported through the first send; keep Node from calling it unhandled
    if (destination instanceof Promise) destination.catch(() => undefined);
  }

  /** The branch of the top Via: the transaction's identity on the wire. */
  get branch(): string {
    return this.request.via[0]?.branch ?? '';
  }

  /** Sends the request and starts the timers (called by the layer once the transaction is registered). */
  abstract start(): void;

  /** A response that matched this transaction (§17.1.3). */
  abstract receiveResponse(response: SipResponse): void;
}
