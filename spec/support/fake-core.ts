import type { TimeoutError, TransportError } from '../../lib/errors.js';
import { makeResponse } from '../../lib/transport/message-api.js';
import type { SipRequest, SipResponse } from '../../lib/transport/message-api.js';
import type { MessageInfo } from '../../lib/transport/transport.js';
import type { InviteServerTransaction } from '../../lib/transaction/invite-server.js';
import type { ServerTransaction } from '../../lib/transaction/server-transaction.js';
import { TransactionLayer } from '../../lib/transaction/transaction-layer.js';
import type { TransactionState } from '../../lib/transaction/transaction.js';
import type { ClientTransactionUser, ServerTransactionUser, TransactionLayerUser } from '../../lib/transaction/transaction-user.js';
import type { TimerOptions } from '../../lib/transaction/timers.js';
import { FakeClock } from './fake-clock.js';
import { FakeTransport } from './fake-transport.js';

/** A core that records what the layer passes up; `onRequest` may answer. */
export class FakeCore implements TransactionLayerUser {
  requests: { request: SipRequest; transaction: ServerTransaction }[] = [];
  acks: { ack: SipRequest; transaction: InviteServerTransaction | undefined }[] = [];
  responses: SipResponse[] = [];
  onRequest: ((request: SipRequest, transaction: ServerTransaction) => void) | undefined;

  receiveRequest(request: SipRequest, transaction: ServerTransaction, _info: MessageInfo): void {
    this.requests.push({ request, transaction });
    this.onRequest?.(request, transaction);
  }
  receiveAck(ack: SipRequest, _info: MessageInfo, transaction?: InviteServerTransaction): void {
    this.acks.push({ ack, transaction });
  }
  receiveResponse(response: SipResponse, _info: MessageInfo): void {
    this.responses.push(response);
  }
}

/** A TU that records every callback. */
export class FakeUser implements ClientTransactionUser, ServerTransactionUser {
  states: TransactionState[] = [];
  responses: SipResponse[] = [];
  timeouts: TimeoutError[] = [];
  transportErrors: TransportError[] = [];
  acks: SipRequest[] = [];
  ackTimeouts: TimeoutError[] = [];

  onStateChange(state: TransactionState): void {
    this.states.push(state);
  }
  receiveResponse(response: SipResponse): void {
    this.responses.push(response);
  }
  onRequestTimeout(error: TimeoutError): void {
    this.timeouts.push(error);
  }
  onTransportError(error: TransportError): void {
    this.transportErrors.push(error);
  }
  receiveAck(ack: SipRequest): void {
    this.acks.push(ack);
  }
  onAckTimeout(error: TimeoutError): void {
    this.ackTimeouts.push(error);
  }
}

/** Small timers so arithmetic in tests stays readable: T1 100, T2 400, T4 500, D 3200. */
export const TEST_TIMERS: Required<TimerOptions> = { T1: 100, T2: 400, T4: 500, D: 3200, trying: 200 };

export interface Harness {
  clock: FakeClock;
  transport: FakeTransport;
  core: FakeCore;
  layer: TransactionLayer;
}

export function harness(options: { maxTransactions?: number; maxLingering?: number; timers?: TimerOptions } = {}): Harness {
  const clock = new FakeClock();
  const transport = new FakeTransport();
  const core = new FakeCore();
  const layer = new TransactionLayer({ transport, core, clock, timers: options.timers ?? TEST_TIMERS, maxTransactions: options.maxTransactions, maxLingering: options.maxLingering });
  return { clock, transport, core, layer };
}

export function respond(request: SipRequest, status: number, toTag = 'srv'): SipResponse {
  return makeResponse(request, status, { toTag });
}

/** Lets pending promise callbacks (transport errors) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
