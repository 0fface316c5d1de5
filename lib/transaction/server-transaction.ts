import { InvalidArgumentError } from '../errors.js';
import type { SipRequest, SipResponse } from '../transport/message-api.js';
import type { Endpoint, MessageInfo } from '../transport/transport.js';
import { Transaction, revive, textToKeep, toSend } from './transaction.js';
import type { TransactionContext, TransactionState } from './transaction.js';
import type { ServerTransactionUser } from './transaction-user.js';

/** The server side (§17.2): absorbs retransmissions, sends the TU's responses. */
export abstract class ServerTransaction extends Transaction<ServerTransactionUser> {
  /** Where the request that created the transaction came from. */
  readonly info: MessageInfo;
  /** The last response passed to the transport (resent on retransmissions); bytes once compacted. */
  #last: SipResponse | string | undefined;
  #lastStatus = 0;
  #destination: Endpoint | Promise<Endpoint> | undefined;

  protected constructor(id: string, request: SipRequest, initial: TransactionState, info: MessageInfo, context: TransactionContext) {
    super(id, request, initial, context, undefined);
    this.info = info;
  }

  /** The most recent response sent by this transaction (parsed again from its bytes if read after `compact`). */
  get lastResponse(): SipResponse | undefined {
    const last = this.#last;
    if (typeof last !== 'string') return last;
    const again = revive<SipResponse>(last);
    this.#last = again;
    return again;
  }

  /** The status of the last response sent (0: none yet). */
  protected get lastStatus(): number {
    return this.#lastStatus;
  }

  /** True once a final response (200-699) has been sent. */
  get finalResponseSent(): boolean {
    return this.#lastStatus >= 200;
  }

  /** Keeps a response as the last one sent: the one to send again on a retransmission of the request. */
  protected keep(response: SipResponse): void {
    this.#last = response;
    this.#lastStatus = response.status;
  }

  /** Sends the kept response again (§17.2.1, §17.2.2 retransmissions); false when there is none. */
  protected retransmitLast(): boolean {
    if (this.#last === undefined) return false;
    this.transmit(toSend(this.#last));
    return true;
  }

  protected override compactMessages(): void {
    // the destination is read from the request's top Via, which is about to become bytes
    this.#destination ??= this.context.responseDestination(this.request);
    if (this.#last !== undefined && typeof this.#last !== 'string') this.#last = textToKeep(this.#last);
  }

  /** Sends a response from the TU (§17.2.1 / §17.2.2). Responses the state does not allow are discarded. */
  respond(response: SipResponse): void {
    const s = response.status;
    if (!Number.isInteger(s) || s < 100 || s > 699) throw new InvalidArgumentError(`invalid status code ${String(s)}`);
    this.sendResponse(response);
  }

  protected abstract sendResponse(response: SipResponse): void;

  /** A retransmission of the request that created the transaction (§17.2.3 matched). */
  abstract receiveRequest(request: SipRequest): void;

  /** §18.2.2: responses go where the stamped top Via of the request says. */
  protected transmit(response: SipResponse | Buffer): void {
    this.#destination ??= this.context.responseDestination(this.request);
    this.sendMessage(response, this.#destination);
  }
}
