/**
 * What the four RFC 3261 §17 transactions share: a state, an explicit transition guard, timers
 * held by the clock the layer injects, and removal from the layer on Terminated.
 */
import createDebug from 'debug';
import { SipError, TransportError } from '../errors.js';
import { parse, serialize } from '../transport/message-api.js';
import type { SipMessageAny, SipRequest } from '../transport/message-api.js';
import type { Endpoint } from '../transport/transport.js';
import type { Clock, TimerHandle } from './clock.js';
import type { TimerValues } from './timers.js';
import type { TransactionUser } from './transaction-user.js';

export const debug = createDebug('natter:transaction');

/** The states RFC 3261 §17 (Figures 5–8) and RFC 6026 (Accepted) draw. */
export type TransactionState = 'Calling' | 'Trying' | 'Proceeding' | 'Completed' | 'Confirmed' | 'Accepted' | 'Terminated';

/**
 * The states in which a transaction's work is done and it only waits, for 64*T1 or T4, to absorb
 * retransmissions (Completed, Confirmed; RFC 6026 Accepted). A transaction that lingers keeps its
 * messages as bytes (`compact`), and the layer bounds lingering transactions apart from working ones.
 */
export function isLingering(state: TransactionState): boolean {
  return state === 'Completed' || state === 'Confirmed' || state === 'Accepted';
}

/**
 * A message as a lingering transaction keeps it: its bytes as a latin1 string. One flat string is
 * a single leaf object for the garbage collector, where a Buffer is three (and a serialized
 * message is a slice of Node's 8 KiB buffer pool, which would keep whole pool slabs alive).
 */
export function textToKeep(message: SipMessageAny): string {
  return serialize(message).toString('latin1');
}

/** What to hand the transport for a message a transaction keeps: the message, or the bytes of its kept text. */
export function toSend<M extends SipMessageAny>(kept: M | string): M | Buffer {
  return typeof kept === 'string' ? Buffer.from(kept, 'latin1') : kept;
}

/** A kept message parsed again (the API hands out messages, not text). */
export function revive<M extends SipMessageAny>(kept: M | string): M {
  return typeof kept === 'string' ? (parse(Buffer.from(kept, 'latin1')) as M) : kept;
}

/** ICT, NICT, IST, NIST: INVITE / non-INVITE, client / server. */
export type TransactionKind = 'INVITE client' | 'non-INVITE client' | 'INVITE server' | 'non-INVITE server';

/** A transition the RFC does not draw was attempted: a bug in natter, never a network event. */
export class TransactionStateError extends SipError {
  constructor(message: string) {
    super('ERR_SIP_TRANSACTION_STATE', message);
  }
}

/** The transitions a machine allows, by source state. */
export type TransitionTable = Readonly<Partial<Record<TransactionState, readonly TransactionState[]>>>;

/**
 * What a transaction needs from the layer that owns it.
 * @internal
 */
export interface TransactionContext {
  readonly clock: Clock;
  readonly timers: TimerValues;
  /** Hands a message (or its bytes) to the transport; rejects with TransportError. */
  send(message: SipMessageAny | Buffer, destination: Endpoint | Promise<Endpoint>): Promise<void>;
  /** §18.2.2 destination for the responses to a request (from its stamped top Via). */
  responseDestination(request: SipRequest): Endpoint | Promise<Endpoint>;
  /** The transaction reached Terminated (or was disposed): remove it. */
  terminated(transaction: Transaction): void;
  /** The transaction entered a lingering state (see isLingering). */
  lingering(transaction: Transaction): void;
}

export abstract class Transaction<U extends TransactionUser = TransactionUser> {
  abstract readonly kind: TransactionKind;
  /** The matching key (§17.1.3 / §17.2.3) under which the layer holds this transaction. */
  readonly id: string;
  /** The request that created the transaction; its bytes once the transaction lingers (compact). */
  #request: SipRequest | string;
  /** The transaction user; may be set or replaced after creation. */
  user: U | undefined;
  protected readonly context: TransactionContext;
  protected abstract readonly transitions: TransitionTable;
  #state: TransactionState;
  #disposed = false;

  protected constructor(id: string, request: SipRequest, initial: TransactionState, context: TransactionContext, user: U | undefined) {
    this.id = id;
    this.#request = request;
    this.#state = initial;
    this.context = context;
    this.user = user;
  }

  get state(): TransactionState {
    return this.#state;
  }

  /** The request that created the transaction (parsed again from its bytes if read after `compact`). */
  get request(): SipRequest {
    const r = this.#request;
    if (typeof r !== 'string') return r;
    const again = revive<SipRequest>(r);
    this.#request = again;
    return again;
  }

  /** What to hand the transport to send the request again: the message, or its bytes once compacted. */
  protected get requestToSend(): SipRequest | Buffer {
    return toSend(this.#request);
  }

  /**
   * @internal Called by the layer once the transaction lingers: the messages it keeps only to
   * send them again become bytes, so that thousands of finished transactions cost buffers, not
   * parsed messages (what the TU still needs it holds itself).
   */
  compact(): void {
    if (this.#disposed) return;
    this.compactMessages();
    if (typeof this.#request !== 'string') this.#request = textToKeep(this.#request);
  }

  /** Subclasses turn the other messages they keep into bytes (before the request is). */
  protected compactMessages(): void {}

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Moves to `to`, or throws TransactionStateError if the RFC's figure has no such arrow. Timers
   * that belong to the state being left are cleared (`leave`), the TU is told, and on Terminated
   * the transaction is disposed ("it MUST be destroyed immediately").
   */
  protected transition(to: TransactionState): void {
    const from = this.#state;
    if (this.#disposed) return; // disposed by the layer (or by a TU callback) meanwhile
    if (!(this.transitions[from] ?? []).includes(to)) {
      throw new TransactionStateError(`Invalid state transition from ${from} to ${to} (${this.kind} ${this.id})`);
    }
    this.#state = to;
    this.leave(from, to);
    debug('%s %s: %s -> %s', this.kind, this.id, from, to);
    if (isLingering(to) && !isLingering(from)) this.context.lingering(this);
    this.user?.onStateChange?.(to);
    if (to === 'Terminated') this.dispose();
  }

  /** Clears the timers of the state being left. */
  protected abstract leave(from: TransactionState, to: TransactionState): void;

  /** Clears every timer field. */
  protected abstract clearTimers(): void;

  /**
   * Releases the transaction: clears every timer and removes it from its layer. Called on
   * Terminated; calling it earlier (layer shutdown) ends the transaction without telling the TU.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.clearTimers();
    this.#state = 'Terminated';
    this.context.terminated(this);
  }

  /**
   * Starts a timer on the injected clock that calls one of this transaction's methods; it does
   * nothing if it fires after dispose. (A method, not a closure: one less object per timer for
   * the many transactions that linger.)
   */
  protected startTimer(fire: (this: this) => void, ms: number): TimerHandle {
    return this.context.clock.setTimeout(() => {
      if (!this.#disposed) fire.call(this);
    }, ms);
  }

  /** Stops a timer; returns undefined to assign back to the field. */
  protected stopTimer(handle: TimerHandle | undefined): undefined {
    if (handle !== undefined) this.context.clock.clearTimeout(handle);
    return undefined;
  }

  /** Passes a message to the transport; a failure arrives at `onTransportError`. */
  protected sendMessage(message: SipMessageAny | Buffer, destination: Endpoint | Promise<Endpoint>): void {
    this.context.send(message, destination).catch((err: unknown) => {
      if (this.#disposed) return;
      const error = err instanceof TransportError ? err : new TransportError(String((err as Error).message ?? err), { cause: err });
      debug('%s %s: transport error in %s: %s', this.kind, this.id, this.#state, error.message);
      this.onTransportError(error);
    });
  }

  /** The transport failed to send something this transaction sent. */
  protected abstract onTransportError(error: TransportError): void;
}

/** 1xx, 2xx, 3xx-6xx. */
export function statusClass(status: number): 'provisional' | 'success' | 'failure' {
  return status < 200 ? 'provisional' : status < 300 ? 'success' : 'failure';
}
