/**
 * A small user agent (RFC 3261 §8, §12, §13, §15) over the transaction layer: builds requests,
 * sends them and resolves with the final response, acknowledges 2xx to INVITE (§13.2.2.4),
 * answers incoming requests through a handler, retransmits its own 2xx to INVITE until the ACK
 * arrives (§13.3.1.4), handles CANCEL (§9.2) and keeps the dialogs (§12) needed for ACK and BYE.
 */
import createDebug from 'debug';
import { ClosedError } from '../errors.js';
import { SipRequest, generateBranch, generateCallId, generateTag, makeResponse, parseUri } from '../transport/message-api.js';
import type { HeaderField, HeaderInit, SipResponse, Uri } from '../transport/message-api.js';
import type { Endpoint, MessageInfo, Transport } from '../transport/transport.js';
import { createUdpTransport } from '../transport/udp-transport.js';
import type { UdpTransportOptions } from '../transport/udp-transport.js';
import { formatHost } from '../transport/via-text.js';
import type { LookupFunction } from '../transport/resolver.js';
import type { Clock, TimerHandle } from '../transaction/clock.js';
import type { ClientTransaction } from '../transaction/client-transaction.js';
import { InviteServerTransaction } from '../transaction/invite-server.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { TimerOptions } from '../transaction/timers.js';
import { TransactionLayer } from '../transaction/transaction-layer.js';
import type { TransactionLayerUser } from '../transaction/transaction-user.js';
import { Dialog, appendHeaders, dialogId } from './dialog.js';
import type { DialogOwner } from './dialog.js';
import { IncomingRequest } from './incoming-request.js';
import type { IncomingOwner } from './incoming-request.js';

const debug = createDebug('natter:transaction');

export interface UserAgentOptions {
  transport: Transport;
  /** Use this layer (the user agent becomes its core); otherwise one is created. */
  layer?: TransactionLayer;
  clock?: Clock;
  timers?: TimerOptions;
  maxTransactions?: number;
  lookup?: LookupFunction;
  /** The Contact URI for dialogs; default `sip:<user>@<sent-by host>:<port>`. */
  contact?: string;
  /** User part of the default Contact. Default `natter`. */
  user?: string;
  /** User-Agent (requests) and Server (responses) header value; none when undefined. */
  userAgent?: string;
  /** Send every request (and in-dialog ones) here instead of resolving the Route / Request-URI. */
  outboundProxy?: Endpoint;
  /** Methods listed in Allow when the user agent answers OPTIONS itself. */
  allow?: string[];
}

export interface CreateRequestOptions {
  method: string;
  uri: string | Uri;
  /** From: a URI or a name-addr (`"Alice" <sip:alice@example.com>`); a tag is added when absent. */
  from: string;
  /** To: a URI or a name-addr. */
  to: string;
  callId?: string;
  cseq?: number;
  /** Contact URI; default the user agent's for INVITE (and when given); false for none. */
  contact?: string | false;
  body?: Buffer | string;
  /** Content-Type of the body; default application/sdp. */
  contentType?: string;
  /** Route header values, in order (a pre-loaded route set, §8.1.1.1). */
  route?: string[];
  maxForwards?: number;
  headers?: HeaderInit;
}

export interface RequestOptions {
  /** Each provisional response. */
  onProvisional?: (response: SipResponse) => void;
  /** Send here (overrides the user agent's outboundProxy and the Route / Request-URI). */
  destination?: Endpoint;
  /** INVITE: acknowledge a 2xx automatically (default true); false to call `dialog.sendAck()` yourself. */
  ack?: boolean;
  /** INVITE: body and content type for the automatic ACK (an answer to an offer in the 2xx). */
  ackBody?: Buffer | string;
  ackContentType?: string;
}

export type RequestHandler = (incoming: IncomingRequest) => void | Promise<void>;

interface PendingInvite {
  transaction: ClientTransaction;
  provisional: boolean;
  cancelRequested: boolean;
  settled: boolean;
}

/** §13.3.1.4: the UAS core retransmits its 2xx until the ACK comes. */
interface SuccessRetransmission {
  dialog: Dialog;
  incoming: IncomingRequest;
  response: SipResponse;
  seq: number;
  interval: number;
  timer: TimerHandle | undefined;
  giveUp: TimerHandle | undefined;
}

export class UserAgent implements TransactionLayerUser {
  readonly transport: Transport;
  readonly layer: TransactionLayer;
  readonly #options: UserAgentOptions;
  readonly #ownsLayer: boolean;
  #ownsTransport = false;
  #handler: RequestHandler | undefined;
  readonly #dialogs = new Map<string, Dialog>();
  readonly #pendingInvites = new Map<SipRequest, PendingInvite>();
  readonly #incomingInvites = new WeakMap<ServerTransaction, IncomingRequest>();
  readonly #retransmissions = new Map<string, SuccessRetransmission>();
  #closed = false;
  readonly #dialogOwner: DialogOwner;
  readonly #incomingOwner: IncomingOwner;

  constructor(options: UserAgentOptions) {
    this.#options = options;
    this.transport = options.transport;
    this.#ownsLayer = options.layer === undefined;
    this.layer =
      options.layer ??
      new TransactionLayer({
        transport: options.transport,
        clock: options.clock,
        timers: options.timers,
        maxTransactions: options.maxTransactions,
        lookup: options.lookup,
      });
    this.layer.core = this;
    const ua = this;
    this.#dialogOwner = {
      get sentBy() {
        return ua.transport.sentBy;
      },
      get contact() {
        return ua.contact;
      },
      userAgentHeader: options.userAgent,
      sendInDialog: (dialog, request) => this.request(request, { destination: dialog.destination }),
      sendAck: (dialog, ack) => this.#sendAck(dialog, ack),
      forget: (dialog) => this.#forget(dialog),
    };
    this.#incomingOwner = {
      get contact() {
        return ua.contact;
      },
      serverHeader: options.userAgent,
      accepted: (incoming, response) => this.#accepted(incoming, response),
    };
  }

  /** Binds a UDP transport and creates a user agent on it; close() releases both. */
  static async listen(transportOptions: UdpTransportOptions, options: Omit<UserAgentOptions, 'transport' | 'layer'> = {}): Promise<UserAgent> {
    const transport = await createUdpTransport(transportOptions);
    const ua = new UserAgent({ ...options, transport });
    ua.#ownsTransport = true;
    return ua;
  }

  /** The Contact URI this user agent puts in dialog-creating messages. */
  get contact(): string {
    if (this.#options.contact !== undefined) return this.#options.contact;
    const s = this.transport.sentBy;
    return `sip:${this.#options.user ?? 'natter'}@${formatHost(s.host)}:${s.port}`;
  }

  /** Dialogs alive. */
  get dialogCount(): number {
    return this.#dialogs.size;
  }

  /** Sets the handler for incoming requests (ACK and CANCEL are handled by the user agent). */
  onRequest(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /**
   * Builds a request outside a dialog (§8.1.1): Via with a new branch and rport, Max-Forwards 70,
   * From with a new tag, To, Call-ID, CSeq, Contact (INVITE), Content-Type for a body.
   */
  createRequest(o: CreateRequestOptions): SipRequest {
    const uri = typeof o.uri === 'string' ? parseUri(o.uri) : o.uri;
    const s = this.transport.sentBy;
    const headers: HeaderField[] = [
      { name: 'Via', value: `SIP/2.0/UDP ${formatHost(s.host)}:${s.port};branch=${generateBranch()};rport` },
      { name: 'Max-Forwards', value: String(o.maxForwards ?? 70) },
      ...(o.route ?? []).map((value) => ({ name: 'Route', value })),
      { name: 'From', value: withTag(nameAddr(o.from), generateTag()) },
      { name: 'To', value: nameAddr(o.to) },
      { name: 'Call-ID', value: o.callId ?? generateCallId(s.host) },
      { name: 'CSeq', value: `${o.cseq ?? 1} ${o.method}` },
    ];
    const contact = o.contact ?? (o.method === 'INVITE' ? this.contact : false);
    if (contact !== false) headers.push({ name: 'Contact', value: `<${contact}>` });
    if (this.#options.userAgent !== undefined) headers.push({ name: 'User-Agent', value: this.#options.userAgent });
    if (o.body !== undefined && o.body.length > 0) headers.push({ name: 'Content-Type', value: o.contentType ?? 'application/sdp' });
    const req = new SipRequest({ method: o.method, uri, headers, body: o.body ?? Buffer.alloc(0) });
    appendHeaders(req, o.headers);
    return req;
  }

  /**
   * Sends a request in a client transaction and resolves with its final response (provisional
   * ones go to `onProvisional`). A 2xx to INVITE creates a dialog (`dialogFor(response)`) and is
   * acknowledged (§13.2.2.4). Rejects with TimeoutError (Timer B/F: "treated as a 408") or
   * TransportError ("treated as a 503"), §8.1.3.1.
   */
  request(request: SipRequest, options: RequestOptions = {}): Promise<SipResponse> {
    if (this.#closed) return Promise.reject(new ClosedError('user agent closed'));
    const destination = options.destination ?? this.#options.outboundProxy;
    const isInvite = request.method === 'INVITE';
    return new Promise<SipResponse>((resolve, reject) => {
      const pending: PendingInvite = { transaction: undefined as unknown as ClientTransaction, provisional: false, cancelRequested: false, settled: false };
      // The dialogs this INVITE's 2xx responses created, kept while its transaction lives (Timer
      // M) so that a 2xx retransmission arriving after the dialog ended (BYE already sent) is
      // ACKed again without bringing the dialog back.
      const confirmed = new Map<string, Dialog>();
      const settle = (fn: () => void): void => {
        if (pending.settled) return;
        pending.settled = true;
        this.#pendingInvites.delete(request);
        fn();
      };
      pending.transaction = this.layer.sendRequest(
        request,
        {
          receiveResponse: (response) => {
            if (response.status < 200) {
              if (isInvite && !pending.provisional) {
                pending.provisional = true;
                // §9.1: "a CANCEL request SHOULD NOT be sent to cancel an INVITE until a
                // provisional response is received" — a cancel() asked before now goes out now.
                if (pending.cancelRequested) this.#sendCancel(pending);
              }
              if (!pending.settled) safely(() => options.onProvisional?.(response));
              return;
            }
            if (isInvite && response.status < 300) this.#acknowledge(request, response, options, destination, confirmed);
            settle(() => resolve(response));
          },
          onRequestTimeout: (error) => settle(() => reject(error)),
          onTransportError: (error) => settle(() => reject(error)),
        },
        destination !== undefined ? { destination } : {},
      );
      if (isInvite && !pending.settled) this.#pendingInvites.set(request, pending);
    });
  }

  /** Like request() for an INVITE, also giving the dialog a 2xx created. */
  async invite(request: SipRequest, options: RequestOptions = {}): Promise<{ response: SipResponse; dialog: Dialog | undefined }> {
    const response = await this.request(request, options);
    return { response, dialog: response.status >= 200 && response.status < 300 ? this.dialogFor(response) : undefined };
  }

  /**
   * Cancels an INVITE sent with request() (§9.1): the CANCEL goes out once a provisional response
   * has arrived; the INVITE's promise then resolves with the 487 (or whatever final response wins),
   * or rejects with TimeoutError when none comes within 64*T1 of the CANCEL (§9.1: the transaction
   * is then destroyed). Returns false when the INVITE is no longer pending.
   */
  cancel(invite: SipRequest): boolean {
    const pending = this.#pendingInvites.get(invite);
    if (pending === undefined || pending.settled) return false;
    if (pending.cancelRequested) return true;
    pending.cancelRequested = true;
    if (pending.provisional) this.#sendCancel(pending);
    return true;
  }

  /** The dialog a 2xx response to our INVITE created. */
  dialogFor(response: SipResponse): Dialog | undefined {
    return this.#dialogs.get(dialogId(response.callId, response.from.tag ?? '', response.to.tag ?? ''));
  }

  /** Stops every timer, ends every transaction; closes the layer and transport it created. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const r of this.#retransmissions.values()) this.#stopRetransmission(r);
    this.#retransmissions.clear();
    this.#dialogs.clear();
    if (this.#ownsLayer) this.layer.close();
    if (this.#ownsTransport) await this.transport.close();
  }

  // ---- TransactionLayerUser: what the layer passes up ----

  receiveRequest(request: SipRequest, transaction: ServerTransaction, info: MessageInfo): void {
    if (request.method === 'CANCEL') {
      this.#receiveCancel(request, transaction);
      return;
    }
    let dialog: Dialog | undefined;
    const toTag = request.to.tag;
    if (toTag !== undefined) {
      dialog = this.#dialogs.get(dialogId(request.callId, toTag, request.from.tag ?? ''));
      if (dialog === undefined) {
        // §12.2.2: "If the UAS receives a request within a dialog ... that doesn't match any
        // existing dialog, ... the UAS SHOULD respond to the request with a 481
        // (Call/Transaction Does Not Exist) status code and pass that to the server transaction."
        transaction.respond(makeResponse(request, 481));
        return;
      }
      // §12.2.2: "If the remote sequence number was not empty, but the sequence number of the
      // request is lower than the remote sequence number, the request is out of order and MUST be
      // rejected with a 500 (Server Internal Error) response."
      if (dialog.remoteSeq !== undefined && request.cseq.seq < dialog.remoteSeq) {
        transaction.respond(makeResponse(request, 500, { reason: 'CSeq Out of Order' }));
        return;
      }
      dialog.remoteSeq = request.cseq.seq;
      if (request.method === 'INVITE' && request.contact[0] !== undefined) dialog.remoteTarget = request.contact[0].uri.clone();
      if (request.method === 'BYE') {
        // §15.1.2: "the UAS MUST still respond to any pending requests received for that dialog";
        // the 2xx no longer needs an ACK.
        const r = this.#retransmissions.get(dialog.id);
        if (r !== undefined) this.#finishRetransmission(r);
        dialog.terminate('BYE received');
      }
    }
    const incoming = new IncomingRequest(this.#incomingOwner, request, transaction, info, generateTag(), dialog);
    if (transaction instanceof InviteServerTransaction) {
      this.#incomingInvites.set(transaction, incoming);
      transaction.user = { receiveAck: (ack, i) => this.receiveAck(ack, i) };
    }
    const handler = this.#handler;
    if (handler === undefined) {
      this.#defaultAnswer(incoming);
      return;
    }
    let result: void | Promise<void>;
    try {
      result = handler(incoming);
    } catch (err) {
      this.#handlerFailed(incoming, err);
      return;
    }
    if (result instanceof Promise) result.catch((err: unknown) => this.#handlerFailed(incoming, err));
  }

  receiveAck(ack: SipRequest, _info: MessageInfo): void {
    const dialog = this.#dialogs.get(dialogId(ack.callId, ack.to.tag ?? '', ack.from.tag ?? ''));
    if (dialog === undefined) {
      debug('ACK for no dialog (Call-ID %s) ignored', ack.callId);
      return;
    }
    const r = this.#retransmissions.get(dialog.id);
    if (r === undefined || r.seq !== ack.cseq.seq) return; // a retransmitted ACK
    // §13.3.1.4: "Response retransmissions cease when an ACK request for the response is
    // received."
    this.#finishRetransmission(r);
    safely(() => r.incoming.onack?.(ack));
  }

  receiveResponse(response: SipResponse, _info: MessageInfo): void {
    // A 2xx retransmission after the INVITE client transaction is gone (Timer M): "The UAC core
    // MUST generate an ACK request for each 2xx received from the transaction layer" (§13.2.2.4).
    if (response.cseq.method !== 'INVITE' || response.status < 200 || response.status >= 300) return;
    const dialog = this.dialogFor(response);
    if (dialog?.ack !== undefined) this.#sendAck(dialog, dialog.ack);
  }

  // ---- UAC internals ----

  #acknowledge(invite: SipRequest, response: SipResponse, options: RequestOptions, destination: Endpoint | undefined, confirmed: Map<string, Dialog>): void {
    const id = dialogId(response.callId, response.from.tag ?? '', response.to.tag ?? '');
    let dialog = this.#dialogs.get(id) ?? confirmed.get(id);
    if (dialog === undefined) {
      if (response.to.tag === undefined) debug('2xx to INVITE without a To tag (RFC 2543 peer)');
      dialog = Dialog.fromUacResponse(this.#dialogOwner, invite, response, destination);
      this.#dialogs.set(dialog.id, dialog);
      confirmed.set(dialog.id, dialog);
    }
    if (dialog.ack !== undefined) {
      // a retransmission of the 2xx: the same ACK again
      this.#sendAck(dialog, dialog.ack);
      return;
    }
    if (options.ack === false) return;
    dialog.sendAck({ body: options.ackBody, contentType: options.ackContentType });
  }

  #sendAck(dialog: Dialog, ack: SipRequest): void {
    if (this.#closed) return;
    const dest = dialog.destination;
    this.layer.sendStateless(ack, dest).catch((err: unknown) => debug('ACK for %s not sent: %s', dialog.callId, (err as Error).message));
  }

  #sendCancel(pending: PendingInvite): void {
    try {
      this.layer.cancel(pending.transaction, {});
    } catch (err) {
      debug('CANCEL not sent: %s', (err as Error).message);
    }
  }

  #forget(dialog: Dialog): void {
    if (this.#dialogs.get(dialog.id) === dialog) this.#dialogs.delete(dialog.id);
    const r = this.#retransmissions.get(dialog.id);
    if (r !== undefined) this.#finishRetransmission(r);
  }

  // ---- UAS internals ----

  /** §9.2 */
  #receiveCancel(cancel: SipRequest, transaction: ServerTransaction): void {
    const invite = this.layer.findTransactionToCancel(cancel);
    if (invite === undefined) {
      // "If the UAS did not find a matching transaction for the CANCEL according to the procedure
      // above, it SHOULD respond to the CANCEL with a 481 (Call Leg/Transaction Does Not Exist)."
      transaction.respond(makeResponse(cancel, 481));
      return;
    }
    const incoming = this.#incomingInvites.get(invite);
    // "Regardless of the method of the original request, as long as the CANCEL matched an existing
    // transaction, the UAS answers the CANCEL request itself with a 200 (OK) response."
    transaction.respond(makeResponse(cancel, 200, { toTag: incoming?.toTag }));
    // "If the original request was an INVITE, the UAS SHOULD immediately respond to the INVITE
    // with a 487 (Request Terminated)." — unless a final response was already sent ("the CANCEL
    // request has no effect on the processing of the original request").
    if (invite.finalResponseSent) return;
    if (incoming !== undefined) incoming.markCancelled(cancel);
    else invite.respond(makeResponse(invite.request, 487));
  }

  #defaultAnswer(incoming: IncomingRequest): void {
    const m = incoming.method;
    if (m === 'OPTIONS') incoming.respond(200, undefined, { headers: { Allow: (this.#options.allow ?? ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS']).join(', ') } });
    else if (m === 'BYE') incoming.respond(200);
    else incoming.respond(501);
  }

  #handlerFailed(incoming: IncomingRequest, err: unknown): void {
    debug('request handler failed on %s: %s', incoming.method, (err as Error)?.stack ?? String(err));
    if (!incoming.answered) incoming.respond(500);
  }

  /** A 2xx to INVITE is about to be sent: the dialog, and the §13.3.1.4 retransmissions. */
  #accepted(incoming: IncomingRequest, response: SipResponse): Dialog {
    let dialog = incoming.dialog;
    if (dialog === undefined) {
      dialog = Dialog.fromUasRequest(this.#dialogOwner, incoming.request, incoming.toTag);
      this.#dialogs.set(dialog.id, dialog);
    }
    const old = this.#retransmissions.get(dialog.id);
    if (old !== undefined) this.#stopRetransmission(old);
    const t = this.layer.timers;
    const r: SuccessRetransmission = { dialog, incoming, response, seq: incoming.request.cseq.seq, interval: t.T1, timer: undefined, giveUp: undefined };
    this.#retransmissions.set(dialog.id, r);
    // §13.3.1.4: "The 2xx response is passed to the transport with an interval that starts at T1
    // seconds and doubles for each retransmission until it reaches T2 seconds."
    const retransmit = (): void => {
      r.timer = undefined;
      if (this.#retransmissions.get(dialog.id) !== r) return;
      const tx = incoming.transaction;
      if (!tx.disposed) tx.respond(response);
      else this.layer.sendStateless(response).catch((err: unknown) => debug('2xx retransmission failed: %s', (err as Error).message));
      r.interval = Math.min(2 * r.interval, t.T2);
      r.timer = this.layer.clock.setTimeout(retransmit, r.interval);
    };
    r.timer = this.layer.clock.setTimeout(retransmit, r.interval);
    // "If the server retransmits the 2xx response for 64*T1 seconds without receiving an ACK, the
    // dialog is confirmed, but the session SHOULD be terminated. This is accomplished with a BYE".
    r.giveUp = this.layer.clock.setTimeout(() => {
      r.giveUp = undefined;
      if (this.#retransmissions.get(dialog.id) !== r) return;
      this.#finishRetransmission(r);
      debug('no ACK for 2xx (Call-ID %s): sending BYE', dialog.callId);
      if (dialog.state !== 'terminated') dialog.bye().catch((err: unknown) => debug('BYE failed: %s', (err as Error).message));
      safely(() => incoming.onacktimeout?.());
    }, 64 * t.T1);
    return dialog;
  }

  #stopRetransmission(r: SuccessRetransmission): void {
    if (r.timer !== undefined) this.layer.clock.clearTimeout(r.timer);
    if (r.giveUp !== undefined) this.layer.clock.clearTimeout(r.giveUp);
    r.timer = undefined;
    r.giveUp = undefined;
  }

  #finishRetransmission(r: SuccessRetransmission): void {
    this.#stopRetransmission(r);
    if (this.#retransmissions.get(r.dialog.id) === r) this.#retransmissions.delete(r.dialog.id);
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    debug('user callback threw: %s', (err as Error).message);
  }
}

/** A bare URI becomes `<uri>`; a name-addr is kept. */
function nameAddr(s: string): string {
  const t = s.trim();
  return t.includes('<') ? t : `<${t}>`;
}

function withTag(s: string, tag: string): string {
  return /;\s*tag\s*=/i.test(s.replace(/<[^>]*>/, '')) ? s : `${s};tag=${tag}`;
}
