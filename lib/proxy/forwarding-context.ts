import createDebug from 'debug';
import type { SipRequest, SipResponse } from '../message/message.js';
import { makeResponse } from '../message/build.js';
import { removeTopVia } from '../message/edit.js';
import type { Uri } from '../message/uri.js';
import type { ClientTransaction } from '../transaction/client-transaction.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { ClientTransactionUser } from '../transaction/transaction-user.js';
import type { TransactionLayer } from '../transaction/transaction-layer.js';
import type { Clock, TimerHandle } from '../transaction/clock.js';
import type { Endpoint } from '../transport/transport.js';
import type { LocalIdentity } from './local-identity.js';
import { forwardRequest } from './forward.js';
import { loopBranchHash, proxyBranch } from './loop-detection.js';
import { bestResponse, tryNextTarget } from './best-response.js';

const debug = createDebug('natter:proxy');

/** Where one branch of a forwarded request goes (§16.5). */
export interface ForwardTarget {
  /** The new Request-URI; undefined keeps the request's (loose routing, in-dialog requests). */
  uri?: Uri;
  /** Send here instead of resolving the Route / Request-URI (a NATed binding's public address). */
  destination?: Endpoint;
  /** The target is behind NAT (its binding says so). */
  natted: boolean;
}

/** What a forwarding context needs from the proxy around it. */
export interface ForwardingHost {
  readonly layer: TransactionLayer;
  readonly self: LocalIdentity;
  readonly clock: Clock;
  /** Timer C (§16.6 step 11), for INVITE branches; > 3 minutes by the RFC. */
  readonly timerC: number;
  readonly recordRoute: boolean;
  /** Prepares a response from a branch before it goes upstream (NAT fix, relay SDP). May reject. */
  prepareResponse(context: ForwardingContext, response: SipResponse, target: ForwardTarget): Promise<void>;
  /** The final response the context forwarded upstream (once per context). */
  finished(context: ForwardingContext, response: SipResponse): void;
  /**
   * The context is done: its final response went upstream and every branch has its final
   * response. The proxy lets go of it; the transactions linger on without it.
   */
  released(context: ForwardingContext): void;
}

interface Branch {
  target: ForwardTarget;
  tx: ClientTransaction | undefined;
  provisional: boolean;
  cancelWanted: boolean;
  final: boolean;
  timerC: TimerHandle | undefined;
}

/**
 * A stateful proxy's response context (RFC 3261 §16): the server transaction of a request, the
 * client transactions forwarding it to its targets one after the other (sequential forking),
 * the final responses collected, and the rules of §16.7 for what goes back upstream.
 */
export class ForwardingContext {
  readonly request: SipRequest;
  readonly server: ServerTransaction;
  readonly #host: ForwardingHost;
  readonly #targets: ForwardTarget[];
  readonly #branches: Branch[] = [];
  readonly #responses: SipResponse[] = [];
  readonly #loopHash: string;
  #cancelled = false;
  #finalSent = false;
  #released = false;
  /** Responses are prepared one at a time, in the order they arrived. */
  #queue: Promise<void> = Promise.resolve();

  constructor(host: ForwardingHost, server: ServerTransaction, request: SipRequest, targets: ForwardTarget[], loopHash?: string) {
    this.#host = host;
    this.server = server;
    this.request = request;
    this.#targets = [...targets];
    this.#loopHash = loopHash ?? loopBranchHash(request);
  }

  get finalSent(): boolean {
    return this.#finalSent;
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  start(): void {
    if (this.#nextTarget()) return;
    this.#sendFinal(makeResponse(this.request, 480));
    this.#releaseWhenDone();
  }

  /**
   * §16.10 CANCEL processing: "the proxy MUST cancel any pending client transactions associated
   * with the response context." A branch without a provisional response gets its CANCEL when one
   * arrives (§9.1: a CANCEL SHOULD NOT be sent before a provisional response).
   */
  cancel(): void {
    this.#cancelled = true;
    for (const b of this.#branches) {
      if (b.final) continue;
      if (b.provisional) this.#cancelBranch(b);
      else b.cancelWanted = true;
    }
  }

  /** Sends the request to the next target; false when there is none. */
  #nextTarget(): boolean {
    const target = this.#targets.shift();
    if (target === undefined) return false;
    const forwarded = forwardRequest(this.request, this.#host.self, {
      ...(target.uri !== undefined ? { target: target.uri } : {}),
      branch: proxyBranch(this.#loopHash),
      recordRoute: this.#host.recordRoute,
    });
    const branch: Branch = { target, tx: undefined, provisional: false, cancelWanted: false, final: false, timerC: undefined };
    const user: ClientTransactionUser = {
      receiveResponse: (response) => this.#enqueue(() => this.#onResponse(branch, response)),
      onRequestTimeout: () => this.#enqueue(() => this.#onResponse(branch, this.#synthesize(408))),
      onTransportError: () => this.#enqueue(() => this.#onResponse(branch, this.#synthesize(503))),
    };
    try {
      branch.tx = this.#host.layer.sendRequest(forwarded, user, target.destination ? { destination: target.destination } : {});
    } catch (err) {
      debug('cannot forward %s: %s', this.request.method, (err as Error).message);
      branch.final = true;
      this.#responses.push(this.#synthesize(500));
      return this.#nextTarget();
    }
    this.#branches.push(branch);
    this.#armTimerC(branch);
    return true;
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue
      .then(task)
      .catch((err: unknown) => debug('response handling failed: %s', (err as Error).message))
      .then(() => this.#releaseWhenDone());
  }

  /**
   * Once the final response has gone upstream and every branch has its own, nothing is left for
   * this context to do: its client transactions forget it (a 2xx retransmission they receive in
   * Accepted then reaches the proxy core as a stray 2xx, forwarded statelessly, §16.7 / RFC 6026)
   * and the proxy lets go of it, so that lingering transactions do not keep calls' state alive.
   */
  #releaseWhenDone(): void {
    if (!this.#finalSent || this.#released || this.#branches.some((b) => !b.final)) return;
    this.#released = true;
    for (const b of this.#branches) if (b.tx !== undefined) b.tx.user = undefined;
    this.#host.released(this);
  }

  /** A response made up by the proxy for a branch (timeout, transport error), as §16.7 step 2 allows. */
  #synthesize(status: number): SipResponse {
    const r = makeResponse(this.request, status);
    // carry a Via of ours on top, like a real branch response, so the common path pops it
    r.prepend('Via', `SIP/2.0/UDP ${this.#host.self.host}:${this.#host.self.port};branch=z9hG4bK-synthetic`);
    return r;
  }

  async #onResponse(branch: Branch, response: SipResponse): Promise<void> {
    const status = response.status;
    if (status < 200) {
      branch.provisional = true;
      this.#armTimerC(branch); // "If ... a provisional response is received, timer C MUST be reset"
      if (branch.cancelWanted) {
        branch.cancelWanted = false;
        this.#cancelBranch(branch);
      }
      // §16.7 step 5: 100 (Trying) is not forwarded; other provisional responses are
      if (status === 100 || this.#finalSent) return;
      removeTopVia(response);
      await this.#prepare(branch, response);
      this.server.respond(response);
      return;
    }
    if (!branch.final) {
      branch.final = true;
      this.#clearTimerC(branch);
    }
    if (status < 300) {
      // §16.7 step 5: "Any 2xx response to an INVITE ... MUST be forwarded immediately", and
      // every 2xx retransmission too (RFC 6026), which the INVITE server transaction accepts
      removeTopVia(response);
      await this.#prepare(branch, response);
      this.server.respond(response);
      if (!this.#finalSent) {
        this.#finalSent = true;
        this.#host.finished(this, response);
      }
      return;
    }
    if (this.#finalSent) return;
    removeTopVia(response);
    this.#responses.push(response);
    if (!this.#cancelled && tryNextTarget(status) && this.#nextTarget()) return;
    if (this.#branches.some((b) => !b.final)) return;
    const best = bestResponse(this.#responses) ?? makeResponse(this.request, 500);
    await this.#prepare(branch, best);
    this.#sendFinal(best);
  }

  async #prepare(branch: Branch, response: SipResponse): Promise<void> {
    await this.#host.prepareResponse(this, response, branch.target);
  }

  #sendFinal(response: SipResponse): void {
    if (this.#finalSent) return;
    this.#finalSent = true;
    // §16.7 step 6: a 503 from downstream is not forwarded as such: to the caller it would mean
    // that this proxy cannot serve any request, not just this one
    const out = response.status === 503 ? this.#rewriteStatus(response, 500) : response;
    this.server.respond(out);
    this.#host.finished(this, out);
  }

  #rewriteStatus(response: SipResponse, status: number): SipResponse {
    const copy = response.clone();
    copy.status = status;
    copy.reason = 'Server Internal Error';
    return copy;
  }

  #cancelBranch(branch: Branch): void {
    if (branch.tx === undefined) return;
    try {
      this.#host.layer.cancel(branch.tx);
    } catch (err) {
      debug('CANCEL not sent: %s', (err as Error).message);
    }
  }

  /**
   * §16.6 step 11: "If timer C fires, the proxy MUST either reset the timer with any value it
   * chooses, or terminate the client transaction. If the client transaction has received a
   * provisional response, the proxy MUST generate a CANCEL request matching that transaction. If
   * the client transaction has not received a provisional response, the proxy MUST behave as if
   * the transaction received a 408 (Request Timeout) response."
   */
  #armTimerC(branch: Branch): void {
    if (this.request.method !== 'INVITE' || branch.final) return;
    this.#clearTimerC(branch);
    branch.timerC = this.#host.clock.setTimeout(() => {
      branch.timerC = undefined;
      if (branch.final) return;
      if (branch.provisional) this.#cancelBranch(branch);
      else this.#enqueue(() => this.#onResponse(branch, this.#synthesize(408)));
    }, this.#host.timerC);
  }

  #clearTimerC(branch: Branch): void {
    if (branch.timerC !== undefined) {
      this.#host.clock.clearTimeout(branch.timerC);
      branch.timerC = undefined;
    }
  }

  /** Clears every timer of the context (the proxy is closing). */
  dispose(): void {
    for (const b of this.#branches) this.#clearTimerC(b);
  }
}
