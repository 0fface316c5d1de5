/**
 * The transaction layer (RFC 3261 §17): owns the client and server transaction maps, routes
 * each message from the transport to its transaction (§17.1.3, §17.2.3) or to the core, creates
 * transactions, finds the INVITE a CANCEL cancels (§9.2), sends what needs no transaction (ACK for
 * 2xx, a proxy's forwarded 2xx retransmissions, stateless answers), and refuses new server
 * transactions with 503 when the configured limit of working transactions is reached.
 *
 * Transactions that linger (Completed, Confirmed, Accepted: their work is done, they wait 64*T1
 * or T4 to absorb retransmissions) keep their messages as bytes and are bounded apart: past
 * `maxLingering`, the oldest one is dropped early. Under that load a late retransmission of its
 * request is then handled as a new request, which is the graceful end of overload; refusing new
 * calls because old ones are still being remembered would not be.
 */
import { ClosedError, InvalidArgumentError, TimeoutError } from '../errors.js';
import { makeResponse } from '../transport/message-api.js';
import type { SipMessageAny, SipRequest, SipResponse } from '../transport/message-api.js';
import { requestDestination, responseDestination } from '../transport/resolver.js';
import type { LookupFunction, ResolveOptions } from '../transport/resolver.js';
import type { Endpoint, MessageInfo, Transport, TransportListener } from '../transport/transport.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import type { ClientTransaction } from './client-transaction.js';
import { InviteClientTransaction } from './invite-client.js';
import { InviteServerTransaction } from './invite-server.js';
import type { AckPassthrough } from './invite-server.js';
import { clientKey, isRfc2543Key, isRfc3261Branch, responseKey, serverKey } from './key.js';
import { NonInviteClientTransaction } from './non-invite-client.js';
import { NonInviteServerTransaction } from './non-invite-server.js';
import { buildCancel } from './requests.js';
import type { ServerTransaction } from './server-transaction.js';
import { timerValues } from './timers.js';
import type { TimerOptions, TimerValues } from './timers.js';
import { debug } from './transaction.js';
import type { Transaction, TransactionContext } from './transaction.js';
import type { ClientTransactionUser, TransactionLayerUser } from './transaction-user.js';

export interface TransactionLayerOptions {
  /** The transport to send and receive on; the layer becomes its listener. */
  transport: Transport;
  /** The core (proxy or user agent); can be set later through `core`. */
  core?: TransactionLayerUser;
  /** Timers source; default the real clock. Tests pass a fake. */
  clock?: Clock;
  /** T1, T2, T4 (and D, the 100 Trying delay). */
  timers?: TimerOptions;
  /**
   * Working transactions (not lingering) above which new server transactions are refused with a
   * stateless 503. Default 100 000.
   */
  maxTransactions?: number;
  /**
   * Lingering transactions kept at most; past it the oldest is dropped before its timer.
   * Default 300 000 (about 64*T1 of 3 000 proxied calls/s at four transactions a call).
   */
  maxLingering?: number;
  /** Replaces dns.lookup when a destination names a host. */
  lookup?: LookupFunction;
  /** Socket errors and exceptions from the core that the transport caught. */
  onError?: (error: Error) => void;
}

export interface SendRequestOptions {
  /** Send here instead of resolving the Route / Request-URI (§8.1.2): an outbound proxy, a test peer. */
  destination?: Endpoint | Promise<Endpoint>;
}

/** Running totals of the layer. */
export interface TransactionLayerCounters {
  clientTransactions: number;
  serverTransactions: number;
  /** Retransmitted requests absorbed by a server transaction. */
  retransmissions: number;
  /** Requests refused with 503 because of `maxTransactions`. */
  refused: number;
  /** Lingering transactions dropped before their timer because of `maxLingering`. */
  evicted: number;
  /** Responses that matched no client transaction (passed to the core). */
  strayResponses: number;
  /** ACKs that matched no server transaction (passed to the core). */
  strayAcks: number;
}

export class TransactionLayer implements TransportListener {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly timers: TimerValues;
  readonly maxTransactions: number;
  readonly maxLingering: number;
  core: TransactionLayerUser | undefined;
  readonly counters: TransactionLayerCounters = {
    clientTransactions: 0,
    serverTransactions: 0,
    retransmissions: 0,
    refused: 0,
    evicted: 0,
    strayResponses: 0,
    strayAcks: 0,
  };
  readonly #client = new Map<string, ClientTransaction>();
  readonly #server = new Map<string, ServerTransaction>();
  /** Lingering transactions, oldest first (a Set keeps insertion order). */
  readonly #lingering = new Set<Transaction>();
  /** Transactions that began to linger since the last compaction pass. */
  #toCompact: Transaction[] = [];
  readonly #context: TransactionContext;
  readonly #resolve: ResolveOptions;
  readonly #onError: ((error: Error) => void) | undefined;
  #closed = false;
  /** Where an INVITE server transaction in Accepted hands ACKs its TU does not take (one function for all). */
  readonly #passAck: AckPassthrough = (ack, info, tx) => this.core?.receiveAck?.(ack, info, tx);

  constructor(options: TransactionLayerOptions) {
    const max = options.maxTransactions ?? 100_000;
    if (!(max > 0)) throw new InvalidArgumentError('maxTransactions must be positive');
    const maxLingering = options.maxLingering ?? 300_000;
    if (!(maxLingering > 0)) throw new InvalidArgumentError('maxLingering must be positive');
    this.maxLingering = maxLingering;
    this.transport = options.transport;
    this.core = options.core;
    this.clock = options.clock ?? systemClock;
    this.timers = timerValues(options.timers);
    this.maxTransactions = max;
    this.#onError = options.onError;
    this.#resolve = { family: options.transport.family, lookup: options.lookup };
    const transport = this.transport;
    this.#context = {
      clock: this.clock,
      timers: this.timers,
      send: (message, destination) =>
        destination instanceof Promise ? destination.then((d) => transport.send(message, d)) : transport.send(message, destination),
      responseDestination: (request) => this.#responseDestination(request),
      terminated: (t) => this.#remove(t),
      lingering: (t) => this.#linger(t),
    };
    transport.setListener(this);
  }

  /** Live transactions, client and server, lingering ones included. */
  get size(): number {
    return this.#client.size + this.#server.size;
  }

  /** Transactions that still work (Calling, Trying, Proceeding): what `maxTransactions` bounds. */
  get workingCount(): number {
    return this.size - this.#lingering.size;
  }

  /** Transactions that only wait to absorb retransmissions (Completed, Confirmed, Accepted). */
  get lingeringCount(): number {
    return this.#lingering.size;
  }

  get clientCount(): number {
    return this.#client.size;
  }

  get serverCount(): number {
    return this.#server.size;
  }

  /**
   * Creates a client transaction for the request and sends it (§17.1). The request must carry
   * its top Via with an RFC 3261 branch. ACK is never sent this way (use `sendStateless`).
   */
  sendRequest(request: SipRequest, user?: ClientTransactionUser, options: SendRequestOptions = {}): ClientTransaction {
    if (this.#closed) throw new ClosedError('transaction layer closed');
    if (request.method === 'ACK') throw new InvalidArgumentError('ACK has no client transaction: use sendStateless()');
    const branch = request.via[0]?.branch;
    if (!isRfc3261Branch(branch)) throw new InvalidArgumentError('the top Via of a request sent by natter needs a branch starting with z9hG4bK');
    const key = clientKey(branch, request.method);
    if (this.#client.has(key)) throw new InvalidArgumentError(`a ${request.method} transaction with branch ${branch} already exists`);
    const destination = options.destination ?? this.#requestDestination(request);
    const t =
      request.method === 'INVITE'
        ? new InviteClientTransaction(key, request, destination, this.#context, user)
        : new NonInviteClientTransaction(key, request, destination, this.#context, user);
    this.#client.set(key, t);
    this.counters.clientTransactions++;
    t.start();
    return t;
  }

  /**
   * §9.1: cancels a pending INVITE client transaction with a CANCEL in its own non-INVITE client
   * transaction, sent to the INVITE's destination. "a CANCEL request SHOULD NOT be sent to cancel
   * an INVITE until a provisional response is received" is the caller's concern.
   */
  cancel(invite: ClientTransaction, user?: ClientTransactionUser): ClientTransaction {
    if (!(invite instanceof InviteClientTransaction)) throw new InvalidArgumentError('only an INVITE client transaction can be cancelled');
    const cancel = this.sendRequest(buildCancel(invite.request), user, { destination: invite.destination });
    this.clock.setTimeout(() => this.#giveUpAfterCancel(invite), this.timers.B);
    return cancel;
  }

  /**
   * §9.1: "If no final response is received for the original request in 64*T1 seconds after the
   * CANCEL was sent, the client SHOULD then consider the original transaction cancelled and
   * SHOULD destroy the client transaction handling the original request." That is the client's
   * act, not an arrow of Figure 5: the transaction is disposed of and its TU told of a timeout.
   */
  #giveUpAfterCancel(invite: InviteClientTransaction): void {
    if (invite.state !== 'Calling' && invite.state !== 'Proceeding') return; // a final response came, or it ended
    const user = invite.user;
    debug('%s %s: no final response 64*T1 after CANCEL, destroyed (§9.1)', invite.kind, invite.id);
    invite.dispose();
    user?.onRequestTimeout?.(new TimeoutError(`INVITE ${invite.branch}: no final response 64*T1 after its CANCEL (RFC 3261 §9.1)`));
  }

  /**
   * §9.2: "the transaction to be cancelled [is found] using the matching procedures of Section
   * 17.2.3 [applied to the CANCEL] ... except the method, which is INVITE".
   */
  findTransactionToCancel(cancel: SipRequest): InviteServerTransaction | undefined {
    const t = this.#server.get(serverKey(cancel, 'INVITE'));
    return t instanceof InviteServerTransaction ? t : undefined;
  }

  /** The server transaction a request (or ACK) matches, if any (§17.2.3). */
  findServerTransaction(request: SipRequest): ServerTransaction | undefined {
    return this.#server.get(serverKey(request));
  }

  /** The client transaction a response matches, if any (§17.1.3). */
  findClientTransaction(response: SipResponse): ClientTransaction | undefined {
    const key = responseKey(response);
    return key === undefined ? undefined : this.#client.get(key);
  }

  /**
   * Sends without a transaction: a request to its Route / Request-URI target (§8.1.2; the ACK
   * for a 2xx, §13.2.2.4), a response where its top Via says (§18.2.2; a proxy forwarding a 2xx
   * retransmission, §16.7), unless a destination is given.
   */
  sendStateless(message: SipMessageAny, destination?: Endpoint): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('transaction layer closed'));
    let dest: Endpoint | Promise<Endpoint>;
    try {
      dest = destination ?? (message.isRequest ? this.#requestDestination(message) : this.#viaDestination(message));
    } catch (err) {
      return Promise.reject(err);
    }
    return dest instanceof Promise ? dest.then((d) => this.transport.send(message, d)) : this.transport.send(message, dest);
  }

  /** TransportListener: every message the transport parsed. */
  onMessage(message: SipMessageAny, info: MessageInfo): void {
    if (this.#closed) return;
    if (message.isRequest) this.#receiveRequest(message, info);
    else this.#receiveResponse(message, info);
  }

  /** TransportListener: socket errors and exceptions the transport caught. */
  onError(error: Error): void {
    debug('transport reported: %s', error.message);
    this.#onError?.(error);
  }

  /** Ends every transaction (without telling their TUs) and stops routing messages. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of [...this.#client.values(), ...this.#server.values()]) t.dispose();
    this.#client.clear();
    this.#server.clear();
    this.#lingering.clear();
    this.#toCompact = [];
  }

  #receiveRequest(request: SipRequest, info: MessageInfo): void {
    const key = serverKey(request);
    const existing = this.#server.get(key);
    if (request.method === 'ACK') {
      // §17.2.3 for RFC 2543 ACKs: "... and the To tag of the ACK matches the To tag of the
      // response sent by the server transaction."
      if (existing instanceof InviteServerTransaction && (!isRfc2543Key(key) || existing.lastResponse?.to.tag === request.to.tag)) {
        existing.receiveAck(request, info);
        return;
      }
      // The ACK for a 2xx is a separate transaction (§17.1.1.1): the core gets it.
      this.counters.strayAcks++;
      this.core?.receiveAck?.(request, info);
      return;
    }
    if (existing !== undefined) {
      this.counters.retransmissions++;
      existing.receiveRequest(request);
      return;
    }
    if (this.workingCount >= this.maxTransactions) {
      this.counters.refused++;
      debug('refusing %s from %s:%d: %d working transactions', request.method, info.source.address, info.source.port, this.workingCount);
      this.sendStateless(makeResponse(request, 503, { headers: { 'Retry-After': '5' } })).catch((err: unknown) =>
        debug('stateless 503 failed: %s', (err as Error).message),
      );
      return;
    }
    let t: ServerTransaction;
    if (request.method === 'INVITE') {
      const ist = new InviteServerTransaction(key, request, info, this.#context, this.#passAck);
      this.#server.set(key, ist);
      ist.start();
      t = ist;
    } else {
      t = new NonInviteServerTransaction(key, request, info, this.#context);
      this.#server.set(key, t);
    }
    this.counters.serverTransactions++;
    const core = this.core;
    if (core === undefined) {
      t.respond(makeResponse(request, 500, { reason: 'No Transaction User' }));
      return;
    }
    core.receiveRequest(request, t, info);
  }

  #receiveResponse(response: SipResponse, info: MessageInfo): void {
    const key = responseKey(response);
    const t = key === undefined ? undefined : this.#client.get(key);
    if (t !== undefined) {
      // RFC 6026: a 2xx retransmission in Accepted goes to the TU; a TU that has let go of the
      // transaction (a proxy whose response context is done) leaves it to the core, as a
      // response that matched nothing (a proxy forwards it statelessly, §16.7)
      if (t.state === 'Accepted' && t.user?.receiveResponse === undefined) {
        this.counters.strayResponses++;
        this.core?.receiveResponse?.(response, info);
        return;
      }
      t.receiveResponse(response);
      return;
    }
    this.counters.strayResponses++;
    this.core?.receiveResponse?.(response, info);
  }

  #requestDestination(request: SipRequest): Endpoint | Promise<Endpoint> {
    return requestDestination(request, this.#resolve);
  }

  #viaDestination(message: SipMessageAny): Endpoint | Promise<Endpoint> {
    const top = message.via[0];
    if (top === undefined) throw new InvalidArgumentError('a response needs a Via to be routed');
    return responseDestination(top, this.#resolve);
  }

  #responseDestination(request: SipRequest): Endpoint | Promise<Endpoint> {
    return this.#viaDestination(request);
  }

  #remove(t: Transaction): void {
    const map: Map<string, Transaction> = t.kind === 'INVITE client' || t.kind === 'non-INVITE client' ? this.#client : this.#server;
    if (map.get(t.id) === t) map.delete(t.id);
    this.#lingering.delete(t);
  }

  /**
   * A transaction began to linger: it is counted apart, its messages become bytes once the
   * handler that moved it has finished with them (a microtask later), and the oldest lingering
   * transaction goes when there are more than `maxLingering`.
   */
  #linger(t: Transaction): void {
    if (this.#closed) return;
    this.#lingering.add(t);
    if (this.#toCompact.push(t) === 1) queueMicrotask(() => this.#compact());
    while (this.#lingering.size > this.maxLingering) {
      const oldest = this.#lingering.values().next().value as Transaction;
      this.counters.evicted++;
      debug('dropping lingering %s %s early: %d lingering', oldest.kind, oldest.id, this.#lingering.size);
      oldest.dispose();
    }
  }

  #compact(): void {
    const batch = this.#toCompact;
    this.#toCompact = [];
    for (const t of batch) t.compact();
  }
}
