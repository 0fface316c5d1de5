/**
 * The handle a user agent's request handler gets: the request, its server transaction, and
 * `respond()`, which builds the response (§8.2.6) and keeps the dialog rules (§12.1.1).
 */
import createDebug from 'debug';
import { makeResponse } from '../transport/message-api.js';
import type { HeaderInit, SipRequest, SipResponse } from '../transport/message-api.js';
import type { Endpoint, MessageInfo } from '../transport/transport.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Dialog } from './dialog.js';
import { appendHeaders } from './dialog.js';

const debug = createDebug('natter:transaction');

export interface RespondOptions {
  headers?: HeaderInit;
  body?: Buffer | string;
  /** Content-Type of the body; default application/sdp when there is a body. */
  contentType?: string;
  /** Contact for dialog-creating responses; default the user agent's; false for none. */
  contact?: string | false;
}

/** What IncomingRequest needs from its user agent. @internal */
export interface IncomingOwner {
  readonly contact: string;
  readonly serverHeader: string | undefined;
  /** A 2xx to INVITE was sent: create the dialog and retransmit until ACK (§13.3.1.4). */
  accepted(incoming: IncomingRequest, response: SipResponse): Dialog;
}

export class IncomingRequest {
  readonly request: SipRequest;
  readonly transaction: ServerTransaction;
  /** Where the request came from (the packet's source). */
  readonly source: Endpoint;
  readonly info: MessageInfo;
  /** The To tag this UAS uses in every response to this request (§8.2.6.2). */
  readonly toTag: string;
  /** The dialog the request belongs to (in-dialog requests), or the one a 2xx to INVITE created. */
  dialog: Dialog | undefined;
  /** INVITE: a CANCEL arrived before the final response; the user agent has answered 487. */
  oncancel: ((cancel: SipRequest) => void) | undefined;
  /** INVITE answered 2xx: the ACK arrived. */
  onack: ((ack: SipRequest) => void) | undefined;
  /** INVITE answered 2xx: no ACK came within 64*T1; the user agent has sent BYE (§13.3.1.4). */
  onacktimeout: (() => void) | undefined;
  #cancelled = false;
  #final: SipResponse | undefined;
  readonly #owner: IncomingOwner;

  constructor(owner: IncomingOwner, request: SipRequest, transaction: ServerTransaction, info: MessageInfo, toTag: string, dialog: Dialog | undefined) {
    this.#owner = owner;
    this.request = request;
    this.transaction = transaction;
    this.info = info;
    this.source = info.source;
    this.toTag = request.to.tag ?? toTag;
    this.dialog = dialog;
  }

  get method(): string {
    return this.request.method;
  }

  /** True once a final response was sent (by the handler or the user agent). */
  get answered(): boolean {
    return this.#final !== undefined;
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** @internal the user agent answered 487 for a CANCEL */
  markCancelled(cancel: SipRequest): void {
    this.#cancelled = true;
    this.respond(487);
    try {
      this.oncancel?.(cancel);
    } catch (err) {
      debug('oncancel threw: %s', (err as Error).message);
    }
  }

  /**
   * Sends a response. Returns it, or undefined when a final response was already sent (late
   * answers after a CANCEL are dropped, §9.2).
   */
  respond(status: number, reason?: string, options: RespondOptions = {}): SipResponse | undefined {
    if (this.#final !== undefined) {
      debug('%s already answered %d: %d dropped', this.request.method, this.#final.status, status);
      return undefined;
    }
    const req = this.request;
    const res = makeResponse(req, status, { reason, toTag: this.toTag, body: options.body });
    const body = options.body;
    if (body !== undefined && body.length > 0) res.set('Content-Type', options.contentType ?? 'application/sdp');
    const establishes = req.method === 'INVITE' && status > 100 && status < 300;
    if (establishes) {
      // §12.1.1: "When a UAS responds to a request with a response that establishes a dialog (such
      // as a 2xx to INVITE), the UAS MUST copy all Record-Route header field values from the
      // request into the response (including the URIs, URI parameters, and any Record-Route
      // header field parameters, whether they are known or unknown to the UAS) and MUST maintain
      // the order of those values. The UAS MUST add a Contact header field to the response."
      for (const rr of req.getAll('record-route')) res.append('Record-Route', rr);
      if (options.contact !== false) res.append('Contact', `<${options.contact ?? this.#owner.contact}>`);
    }
    if (this.#owner.serverHeader !== undefined) res.append('Server', this.#owner.serverHeader);
    appendHeaders(res, options.headers);
    if (status >= 200) this.#final = res;
    if (req.method === 'INVITE' && status >= 200 && status < 300) this.dialog = this.#owner.accepted(this, res);
    this.transaction.respond(res);
    return res;
  }
}
