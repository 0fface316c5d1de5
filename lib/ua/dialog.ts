/**
 * A dialog (RFC 3261 §12): the state two user agents share after an INVITE is answered 2xx, and
 * the construction of requests inside it (§12.2.1.1).
 */
import { InvalidArgumentError } from '../errors.js';
import { SipRequest, generateBranch } from '../transport/message-api.js';
import type { HeaderField, HeaderInit, NameAddr, SipResponse, Uri } from '../transport/message-api.js';
import type { Endpoint } from '../transport/transport.js';
import { formatHost } from '../transport/via-text.js';

export type DialogState = 'confirmed' | 'terminated';

/** What a dialog needs from its user agent. @internal */
export interface DialogOwner {
  readonly sentBy: { host: string; port: number };
  readonly contact: string;
  readonly userAgentHeader: string | undefined;
  sendInDialog(dialog: Dialog, request: SipRequest): Promise<SipResponse>;
  sendAck(dialog: Dialog, ack: SipRequest): void;
  forget(dialog: Dialog): void;
}

export interface InDialogRequestOptions {
  body?: Buffer | string;
  contentType?: string;
  headers?: HeaderInit;
}

export function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return callId + '\u0000' + localTag + '\u0000' + remoteTag;
}

function withoutTag(na: NameAddr): NameAddr {
  const c = na.clone();
  c.tag = undefined;
  return c;
}

export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** The local and remote party (From/To without tags). */
  readonly localUri: NameAddr;
  readonly remoteUri: NameAddr;
  /** §12.1: the Contact of the peer; refreshed by target-refresh requests. */
  remoteTarget: Uri;
  /** §12.1.1 / §12.1.2: Record-Route values, in the order requests must carry them. */
  readonly routeSet: readonly NameAddr[];
  /** True for the UAC side (we sent the INVITE). */
  readonly isUac: boolean;
  /** Sends in-dialog requests here instead of resolving the route set / remote target (outbound proxy). */
  readonly destination: Endpoint | undefined;
  localSeq: number;
  remoteSeq: number | undefined;
  state: DialogState = 'confirmed';
  /** UAC: the ACK last sent for the INVITE's 2xx, resent for each 2xx retransmission (§13.2.2.4). */
  ack: SipRequest | undefined;
  /** Called once when the dialog ends (BYE sent or received, or no ACK came). */
  onterminated: ((reason: string) => void) | undefined;
  readonly #owner: DialogOwner;

  constructor(init: {
    owner: DialogOwner;
    callId: string;
    localTag: string;
    remoteTag: string;
    localUri: NameAddr;
    remoteUri: NameAddr;
    remoteTarget: Uri;
    routeSet: readonly NameAddr[];
    isUac: boolean;
    localSeq: number;
    remoteSeq: number | undefined;
    destination?: Endpoint | undefined;
  }) {
    this.#owner = init.owner;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localUri = withoutTag(init.localUri);
    this.remoteUri = withoutTag(init.remoteUri);
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.isUac = init.isUac;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.destination = init.destination;
  }

  get id(): string {
    return dialogId(this.callId, this.localTag, this.remoteTag);
  }

  /**
   * §12.1.2: "The route set MUST be set to the list of URIs in the Record-Route header field from
   * the response, taken in reverse order and preserving all URI parameters. ... The remote target
   * MUST be set to the URI from the Contact header field of the response."
   */
  static fromUacResponse(owner: DialogOwner, invite: SipRequest, response: SipResponse, destination?: Endpoint): Dialog {
    return new Dialog({
      owner,
      callId: response.callId,
      localTag: response.from.tag ?? '',
      remoteTag: response.to.tag ?? '',
      localUri: invite.from,
      remoteUri: response.to,
      remoteTarget: (response.contact[0]?.uri ?? invite.uri).clone(),
      routeSet: [...response.recordRoute].reverse(),
      isUac: true,
      localSeq: invite.cseq.seq,
      remoteSeq: undefined,
      destination,
    });
  }

  /**
   * §12.1.1: "The route set MUST be set to the list of URIs in the Record-Route header field from
   * the request, taken in order and preserving all URI parameters. ... The remote target MUST be
   * set to the URI from the Contact header field of the request." "The local sequence number MUST
   * be empty."
   */
  static fromUasRequest(owner: DialogOwner, request: SipRequest, localTag: string): Dialog {
    return new Dialog({
      owner,
      callId: request.callId,
      localTag,
      remoteTag: request.from.tag ?? '',
      localUri: request.to,
      remoteUri: request.from,
      remoteTarget: (request.contact[0]?.uri ?? request.from.uri).clone(),
      routeSet: request.recordRoute,
      isUac: false,
      localSeq: 0,
      remoteSeq: request.cseq.seq,
    });
  }

  /**
   * §12.2.1.1: builds a request within the dialog. CSeq is the local sequence number plus one
   * (for ACK of a 2xx, pass `cseq`: "The sequence number of the CSeq header field MUST be the same
   * as the INVITE being acknowledged", §13.2.2.4).
   */
  createRequest(method: string, options: InDialogRequestOptions & { cseq?: number } = {}): SipRequest {
    if (this.state === 'terminated' && method !== 'ACK') throw new InvalidArgumentError(`dialog ${this.callId} is terminated`);
    let seq: number;
    if (options.cseq !== undefined) seq = options.cseq;
    else {
      // "Requests within a dialog MUST contain strictly monotonically increasing and contiguous
      // CSeq sequence numbers (increasing-by-one) in each direction"; an empty local sequence
      // number starts at 1 here.
      this.localSeq += 1;
      seq = this.localSeq;
    }
    // "If the route set is empty, the UAC MUST place the remote target URI into the Request-URI.
    // ... If the route set is not empty, and the first URI in the route set contains the lr
    // parameter ..., the UAC MUST place the remote target URI into the Request-URI and MUST include
    // a Route header field containing the route set values in order, including all parameters. If
    // the route set is not empty, and its first URI does not contain the lr parameter, the UAC MUST
    // place the first URI from the route set into the Request-URI, stripping any parameters that
    // are not allowed in a Request-URI. The UAC MUST add a Route header field containing the
    // remainder of the route set values in order, including all parameters. The UAC MUST then
    // place the remote target URI into the Route header field as the last value."
    let uri: Uri = this.remoteTarget.clone();
    let routes = this.routeSet.map((r) => r.toString());
    const first = this.routeSet[0];
    if (first !== undefined && !('lr' in first.uri.params)) {
      uri = first.uri.clone();
      delete uri.params['method'];
      uri.headers = {};
      routes = [...routes.slice(1), `<${this.remoteTarget.toString()}>`];
    }
    const owner = this.#owner;
    const sentBy = owner.sentBy;
    const headers: HeaderField[] = [
      { name: 'Via', value: `SIP/2.0/UDP ${formatHost(sentBy.host)}:${sentBy.port};branch=${generateBranch()};rport` },
      { name: 'Max-Forwards', value: '70' },
      ...routes.map((value) => ({ name: 'Route', value })),
      // "The URI in the To field of the request MUST be set to the remote URI from the dialog
      // state. The tag in the To header field of the request MUST be set to the remote tag of the
      // dialog ID. The From URI of the request MUST be set to the local URI from the dialog state.
      // The tag in the From header field of the request MUST be set to the local tag of the dialog
      // ID." "The Call-ID of the request MUST be set to the Call-ID of the dialog."
      { name: 'From', value: this.localUri.toString() + (this.localTag !== '' ? ';tag=' + this.localTag : '') },
      { name: 'To', value: this.remoteUri.toString() + (this.remoteTag !== '' ? ';tag=' + this.remoteTag : '') },
      { name: 'Call-ID', value: this.callId },
      { name: 'CSeq', value: `${seq} ${method}` },
    ];
    if (method === 'INVITE' || method === 'UPDATE') headers.push({ name: 'Contact', value: `<${owner.contact}>` });
    if (owner.userAgentHeader !== undefined) headers.push({ name: 'User-Agent', value: owner.userAgentHeader });
    const body = options.body;
    if (body !== undefined && body.length > 0) headers.push({ name: 'Content-Type', value: options.contentType ?? 'application/sdp' });
    const req = new SipRequest({ method, uri, headers, body: body ?? Buffer.alloc(0) });
    appendHeaders(req, options.headers);
    return req;
  }

  /** Sends a request within the dialog; resolves with its final response. */
  request(method: string, options: InDialogRequestOptions = {}): Promise<SipResponse> {
    return this.#owner.sendInDialog(this, this.createRequest(method, options));
  }

  /**
   * UAC: sends the ACK for the INVITE's 2xx (§13.2.2.4). The user agent does this itself unless
   * the request was sent with `ack: false` (to put an answer in the ACK).
   */
  sendAck(options: InDialogRequestOptions = {}): SipRequest {
    if (!this.isUac) throw new InvalidArgumentError('only the UAC side acknowledges a 2xx');
    this.ack ??= this.createRequest('ACK', { ...options, cseq: this.localSeq });
    this.#owner.sendAck(this, this.ack);
    return this.ack;
  }

  /** §15.1.1: ends the dialog with a BYE; resolves with the BYE's final response. */
  async bye(options: InDialogRequestOptions = {}): Promise<SipResponse> {
    const req = this.createRequest('BYE', options);
    this.terminate('BYE sent');
    return this.#owner.sendInDialog(this, req);
  }

  /** Marks the dialog terminated and forgets it. */
  terminate(reason: string): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.#owner.forget(this);
    this.onterminated?.(reason);
  }
}

/** Adds extra headers given as a HeaderInit (array of {name, value} or a record). */
export function appendHeaders(msg: { append(name: string, value: string): unknown }, headers: HeaderInit | undefined): void {
  if (headers === undefined) return;
  if (Array.isArray(headers)) {
    for (const h of headers as ReadonlyArray<HeaderField>) msg.append(h.name, h.value);
    return;
  }
  for (const [name, v] of Object.entries(headers as Record<string, string | number | ReadonlyArray<string>>)) {
    const values = Array.isArray(v) ? (v as ReadonlyArray<string>) : [String(v)];
    for (const value of values) msg.append(name, value);
  }
}
