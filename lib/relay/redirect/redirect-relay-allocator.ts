/**
 * The relay-by-redirect client (claims 2-3, 5-6 and 8-9): a RelayAllocator that obtains each call's
 * relay resource from one relay server by sending it a SIP INVITE and reading the 302 redirect
 * that comes back (docs/relay-protocol.md). The resource URI in the 302's Contact names the
 * resource for every later answer, update and release; its SDP body is what the proxy forwards.
 *
 * Every request is bounded by `requestTimeoutMs`: a relay that stops answering makes an operation
 * fail with RelayError 503 (`ERR_RELAY_TIMEOUT`), never hang. Health checks (OPTIONS) run on an
 * interval; after `maxFailures` unanswered requests in a row the relay is considered gone and its
 * sessions end (`onSessionEnded`, reason `relay-down`). The same checks list this client's
 * resources, which gives the media counters and shows resources the relay freed on its own.
 */
import { KeyedQueue } from '../keyed-queue.js';
import { SessionEndedListeners } from '../session-ended-listeners.js';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import createDebug from 'debug';
import { InvalidArgumentError, RelayError } from '../../errors.js';
import { SipRequest, generateBranch, generateCallId, generateTag, makeResponse, parseUri } from '../../transport/message-api.js';
import type { HeaderField, SipResponse } from '../../transport/message-api.js';
import { formatHost } from '../../transport/via-text.js';
import { createUdpTransport } from '../../transport/udp-transport.js';
import type { UdpTransport } from '../../transport/udp-transport.js';
import type { LookupFunction } from '../../transport/resolver.js';
import { TransactionLayer } from '../../transaction/transaction-layer.js';
import { type Clock, type TimerHandle, systemClock } from '../../transaction/clock.js';
import type { TimerOptions } from '../../transaction/timers.js';
import type {
  MediaCounters,
  RelayAllocator,
  RelayAnswerOptions,
  RelayOfferOptions,
  RelayParty,
  RelaySessionEndReason,
  RelaySessionEnded,
  RelaySessionKey,
} from '../relay-allocator.js';
import { signRequest } from './auth.js';
import {
  LISTING_CONTENT_TYPE,
  RELAY_USER,
  RelayHeader,
  type RelayLoad,
  type RelayResourceInfo,
  type RelaySdpRole,
  formatListRequest,
  formatRelayCall,
  isToken,
  parseLoad,
  parseResourceLine,
} from './protocol.js';

const debug = createDebug('natter:relay:redirect');

/** What a client knows of a relay's health. */
export type RelayState = 'unknown' | 'up' | 'down';

export interface RedirectRelayAllocatorOptions {
  /** The relay server: `sip:relay@HOST:PORT` (a host name is looked up; the port defaults to 5060). */
  relay: string;
  /** The shared secret, when the relay requires signed requests. */
  secret?: string | Buffer;
  /**
   * The owner token sent with allocations. Give each proxy its own, stable across restarts, to
   * have its leftover resources released when it starts again. Default: random (per process).
   */
  owner?: string;
  /** Bound on every request to the relay. Default 2000 ms. */
  requestTimeoutMs?: number;
  /** Health check (and counter refresh) interval; 0 turns periodic checks off. Default 5000 ms. */
  checkIntervalMs?: number;
  /** Unanswered requests in a row after which the relay is gone and its sessions end. Default 3. */
  maxFailures?: number;
  /** Release this owner's resources that this client does not hold whenever the relay comes up. Default true. */
  cleanup?: boolean;
  /** Local address to send from. Default `0.0.0.0` (or `::` for an IPv6 relay). */
  localAddress?: string;
  /** Local port. Default 0 (any). */
  localPort?: number;
  /** Host for the Via and From of requests (default: the bound address). */
  advertisedAddress?: string;
  /** T1, T2, T4 of the transaction layer (retransmissions). */
  timers?: TimerOptions;
  clock?: Clock;
  /** Replaces dns.lookup for a relay named by host name. */
  lookup?: LookupFunction;
}

/** What one health check saw. */
export interface RelayCheck {
  state: RelayState;
  instance: string | undefined;
  load: RelayLoad | undefined;
  /** Resources of this client's owner the relay listed, when it was asked (the client held sessions). */
  listed: number | undefined;
}

/** One call's resource on the relay, as the client holds it. */
interface Session {
  readonly callId: string;
  callerTag: string;
  calleeTag: string | undefined;
  /** The resource URI (the 302's Contact). */
  readonly uri: string;
  /** The resource id (its user part). */
  readonly id: string;
  /** The relay instance that allocated it. */
  readonly instance: string | undefined;
  /** Call-ID and CSeq of this resource's requests. */
  readonly protocolCallId: string;
  readonly protocolTag: string;
  cseq: number;
  lastOfferFrom: RelayParty;
  answered: boolean;
  counters: MediaCounters | undefined;
}

interface SendOptions {
  callId?: string;
  fromTag?: string;
  cseq?: number;
  body?: Buffer;
  timeoutMs?: number;
  /** A final response that arrives after the request timed out. */
  onLate?: (response: SipResponse) => void;
}

export class RedirectRelayAllocator implements RelayAllocator {
  /** `sip:relay@HOST:PORT`. */
  readonly relayUri: string;
  /** The owner token this client allocates with. */
  readonly owner: string;
  readonly requestTimeoutMs: number;
  readonly #transport: UdpTransport;
  readonly #layer: TransactionLayer;
  readonly #secret: Buffer | undefined;
  readonly #clock: Clock;
  readonly #checkIntervalMs: number;
  readonly #maxFailures: number;
  readonly #cleanup: boolean;
  /** Sessions by Call-ID of the relayed call. */
  readonly #sessions = new Map<string, Session[]>();
  /** Call-IDs with an allocation in flight (cleanup must not release those). */
  readonly #allocating = new Map<string, number>();
  readonly #queue = new KeyedQueue();
  readonly #ended = new SessionEndedListeners();
  #state: RelayState = 'unknown';
  #failures = 0;
  #gone = false;
  #instance: string | undefined;
  #checkTimer: TimerHandle | undefined;
  #checking: Promise<unknown> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(transport: UdpTransport, options: RedirectRelayAllocatorOptions, relayUri: string) {
    this.#transport = transport;
    this.relayUri = relayUri;
    this.owner = options.owner ?? `natter-${randomBytes(6).toString('hex')}`;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 2000;
    this.#secret = options.secret === undefined ? undefined : Buffer.isBuffer(options.secret) ? options.secret : Buffer.from(options.secret, 'utf8');
    this.#clock = options.clock ?? systemClock;
    this.#checkIntervalMs = options.checkIntervalMs ?? 5000;
    this.#maxFailures = options.maxFailures ?? 3;
    this.#cleanup = options.cleanup ?? true;
    this.#layer = new TransactionLayer({
      transport,
      clock: this.#clock,
      ...(options.timers ? { timers: options.timers } : {}),
      ...(options.lookup ? { lookup: options.lookup } : {}),
      onError: (err) => debug('transport error: %s', err.message),
      // nobody should send requests to this socket; whoever does is told so
      core: { receiveRequest: (request, tx) => tx.respond(makeResponse(request, 403)) },
    });
  }

  /** Binds the client's socket and starts the health checks (the first one at once, not awaited). */
  static async start(options: RedirectRelayAllocatorOptions): Promise<RedirectRelayAllocator> {
    const relayUri = normalizeRelayUri(options.relay);
    if (options.owner !== undefined && !isToken(options.owner)) throw new InvalidArgumentError(`relay owner must be a SIP token: ${options.owner}`);
    if (options.requestTimeoutMs !== undefined && !(options.requestTimeoutMs > 0)) throw new InvalidArgumentError('requestTimeoutMs must be positive');
    if (options.maxFailures !== undefined && !(Number.isInteger(options.maxFailures) && options.maxFailures >= 1)) {
      throw new InvalidArgumentError('maxFailures must be a positive integer');
    }
    const host = parseUri(relayUri).host;
    const family = options.localAddress !== undefined ? (isIP(options.localAddress) === 6 ? 6 : 4) : isIP(host) === 6 ? 6 : 4;
    const address = options.localAddress ?? (family === 6 ? '::' : '0.0.0.0');
    // bound to any address: write into Via the address the system sends to the relay from
    const advertised = options.advertisedAddress ?? (address === '0.0.0.0' || address === '::' ? await sourceAddressToward(host, family) : undefined);
    const transport = await createUdpTransport({
      address,
      port: options.localPort ?? 0,
      family,
      ...(advertised !== undefined ? { advertisedAddress: advertised } : {}),
    });
    const allocator = new RedirectRelayAllocator(transport, options, relayUri);
    allocator.#scheduleCheck(0);
    return allocator;
  }

  /** `unknown` until the relay first answers, `up` while it answers, `down` after a request went unanswered. */
  get state(): RelayState {
    return this.#state;
  }

  /** Unanswered requests in a row. */
  get failures(): number {
    return this.#failures;
  }

  /** The relay's instance token, once it answered. */
  get instance(): string | undefined {
    return this.#instance;
  }

  /** Sessions held on the relay. */
  get sessionCount(): number {
    let n = 0;
    for (const list of this.#sessions.values()) n += list.length;
    return n;
  }

  /** The local address and port requests are sent from. */
  get localAddress(): { address: string; port: number } {
    return { address: this.#transport.localAddress, port: this.#transport.localPort };
  }

  /** Whether this client holds a session for the key (either party's tags). */
  has(key: RelaySessionKey): boolean {
    return this.#find(key) !== undefined;
  }

  /** The resource URI of a session, for logs and tests. */
  resourceUri(key: RelaySessionKey): string | undefined {
    return this.#find(key)?.uri;
  }

  // ---- RelayAllocator --------------------------------------------------------------------

  /**
   * RelayAllocator.offer. The first offer of a call allocates (INVITE to the relay); later ones
   * update (INVITE to the resource). `timeoutMs` overrides `requestTimeoutMs` for this call.
   */
  offer(key: RelaySessionKey, sdp: Buffer, options: RelayOfferOptions, timeoutMs?: number): Promise<Buffer> {
    return this.#queue.run(key.callId, async () => {
      this.#assertOpen();
      const session = this.#find(key);
      if (session === undefined) return this.#allocate(key, sdp, options, timeoutMs);
      const from = options.from ?? senderOf(session, key);
      learnTags(session, key, from);
      const headers = this.#sdpHeaders(session, from, 'offer', options);
      const response = await this.#sendForSession(session, 'INVITE', headers, sdp, timeoutMs);
      session.lastOfferFrom = from;
      return response.body;
    });
  }

  answer(key: RelaySessionKey, sdp: Buffer, options: RelayAnswerOptions): Promise<Buffer> {
    return this.#queue.run(key.callId, async () => {
      this.#assertOpen();
      const session = this.#find(key);
      if (session === undefined) throw new RelayError('ERR_RELAY_UNKNOWN_SESSION', `no relay session for call ${key.callId}`, 481);
      const from = options.from ?? (session.lastOfferFrom === 'caller' ? 'callee' : 'caller');
      learnTags(session, key, from);
      const response = await this.#sendForSession(session, 'INVITE', this.#sdpHeaders(session, from, 'answer', options), sdp);
      session.answered = true;
      return response.body;
    });
  }

  /** Releases the resource (BYE). A relay that does not answer is not waited for beyond the request timeout. */
  release(key: RelaySessionKey): Promise<boolean> {
    return this.#queue.run(key.callId, async () => {
      const session = this.#find(key);
      if (session === undefined) return false;
      this.#remove(session);
      await this.#bye(session);
      return true;
    });
  }

  onSessionEnded(listener: (event: RelaySessionEnded) => void): () => void {
    return this.#ended.add(listener);
  }

  /** Packets the relay counted for the call, as of the last health check (or the last answer to a query). */
  mediaCounters(key: RelaySessionKey): MediaCounters | undefined {
    return this.#find(key)?.counters;
  }

  /** Releases every session (BYE, bounded), stops the checks and closes the socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#stopChecks();
      await this.#queue.settled();
      const left = [...this.#sessions.values()].flat();
      this.#sessions.clear();
      if (!this.#gone) await Promise.allSettled(left.map((s) => this.#bye(s)));
      await this.#checking?.catch(() => undefined);
      this.#layer.close();
      await this.#transport.close();
    })();
    return this.#closing;
  }

  // ---- health, listing, cleanup -----------------------------------------------------------

  /**
   * One health check now: OPTIONS to the relay, with the listing of this owner's resources when
   * sessions are held (their counters are refreshed; sessions the relay no longer has end with
   * `media-timeout` or `offer-timeout`). Resolves with the state after the check; never rejects.
   */
  check(): Promise<RelayCheck> {
    const run: Promise<RelayCheck> = (this.#checking ?? Promise.resolve()).then(() => this.#check());
    this.#checking = run;
    void run.finally(() => {
      if (this.#checking === run) this.#checking = undefined;
    });
    return run;
  }

  /** Every resource of an owner (default: this client's) on the relay, following pages; `all` for every owner. */
  async list(owner: string = this.owner): Promise<RelayResourceInfo[]> {
    return (await this.#list(owner)).resources;
  }

  /** Queries one resource (OPTIONS to its URI): its description, or undefined (481). */
  async query(key: RelaySessionKey): Promise<RelayResourceInfo | undefined> {
    const session = this.#find(key);
    if (session === undefined) return undefined;
    const response = await this.#send('OPTIONS', session.uri, {}, { callId: session.protocolCallId, fromTag: session.protocolTag, cseq: ++session.cseq });
    if (response.status !== 200) return undefined;
    const info = parseResourceLine(response.get(RelayHeader.resource) ?? '');
    if (info !== undefined) session.counters = info.packets;
    return info;
  }

  /**
   * Releases the resources the relay lists for this owner that this client neither holds nor is
   * allocating (left over from before a restart, or from an allocation that timed out). Resolves
   * with how many were released.
   */
  async cleanup(): Promise<number> {
    const { resources } = await this.#list(this.owner);
    let released = 0;
    for (const r of resources) {
      if (this.#holdsResource(r.id)) continue;
      if (r.callId !== undefined && (this.#sessions.has(r.callId) || this.#allocating.has(r.callId))) continue;
      const response = await this.#send('BYE', this.#uriOf(r.id), {}).catch(() => undefined);
      if (response?.status === 200) released++;
    }
    if (released > 0) debug('released %d leftover resource(s) on %s', released, this.relayUri);
    return released;
  }

  async #check(): Promise<RelayCheck> {
    const held = [...this.#sessions.values()].flat();
    try {
      if (held.length === 0) {
        const response = await this.#send('OPTIONS', this.relayUri, {});
        return { state: this.#state, instance: this.#instance, load: parseLoad(response.get(RelayHeader.load)), listed: undefined };
      }
      const { resources, load, instance } = await this.#list(this.owner);
      const listed = new Map(resources.map((r) => [r.id, r]));
      for (const session of held) {
        if (this.#find({ callId: session.callId, fromTag: session.callerTag }) !== session) continue;
        const info = listed.get(session.id);
        if (info !== undefined) {
          session.counters = info.packets;
          continue;
        }
        // same instance, not listed: the relay freed it on its own (section 6 of the spec)
        if (session.instance === instance) this.#end(session, session.answered ? 'media-timeout' : 'offer-timeout');
      }
      return { state: this.#state, instance: this.#instance, load, listed: resources.length };
    } catch (err) {
      debug('check of %s failed: %s', this.relayUri, (err as Error).message);
      return { state: this.#state, instance: this.#instance, load: undefined, listed: undefined };
    }
  }

  async #list(owner: string): Promise<{ resources: RelayResourceInfo[]; load: RelayLoad | undefined; instance: string | undefined }> {
    const resources: RelayResourceInfo[] = [];
    let after: string | undefined;
    let load: RelayLoad | undefined;
    let instance: string | undefined;
    const callId = generateCallId();
    for (let page = 0; page < 1000; page++) {
      const list = formatListRequest({ owner: owner === 'all' ? undefined : owner, after, max: 100 });
      const response = await this.#send('OPTIONS', this.relayUri, { [RelayHeader.list]: list }, { callId, cseq: page + 1 });
      if (response.status !== 200) throw this.#errorFor(response);
      load ??= parseLoad(response.get(RelayHeader.load));
      instance ??= response.get(RelayHeader.instance)?.trim();
      const type = response.contentType?.split(';')[0]!.trim().toLowerCase();
      if (response.body.length > 0 && type === LISTING_CONTENT_TYPE) {
        for (const line of response.body.toString('latin1').split(/\r?\n/)) {
          const info = parseResourceLine(line);
          if (info !== undefined) resources.push(info);
        }
      }
      after = response.get(RelayHeader.listNext)?.trim();
      if (after === undefined || after === '') break;
    }
    return { resources, load, instance };
  }

  #scheduleCheck(ms: number): void {
    this.#stopChecks();
    if (this.#closed || (this.#checkIntervalMs <= 0 && ms > 0)) return;
    this.#checkTimer = this.#clock.setTimeout(() => {
      this.#checkTimer = undefined;
      void this.check().then(() => {
        if (this.#checkIntervalMs > 0) this.#scheduleCheck(this.#nextCheckIn());
      });
    }, ms);
  }

  #nextCheckIn(): number {
    return this.#state === 'down' ? Math.min(this.#checkIntervalMs, 1000) : this.#checkIntervalMs;
  }

  #stopChecks(): void {
    if (this.#checkTimer !== undefined) this.#clock.clearTimeout(this.#checkTimer);
    this.#checkTimer = undefined;
  }

  // ---- requests ---------------------------------------------------------------------------

  async #allocate(key: RelaySessionKey, sdp: Buffer, options: RelayOfferOptions, timeoutMs: number | undefined): Promise<Buffer> {
    const from = options.from ?? 'caller';
    const draft = {
      callId: key.callId,
      callerTag: key.fromTag,
      calleeTag: key.toTag,
    };
    const headers = {
      ...this.#sdpHeaders(draft, from, 'offer', options),
      [RelayHeader.owner]: this.owner,
    };
    const protocolCallId = generateCallId();
    const protocolTag = generateTag();
    this.#allocating.set(key.callId, (this.#allocating.get(key.callId) ?? 0) + 1);
    try {
      const response = await this.#send('INVITE', this.relayUri, headers, {
        body: sdp,
        callId: protocolCallId,
        fromTag: protocolTag,
        cseq: 1,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        // a 302 after the client gave up: that resource is nobody's, free it
        onLate: (late) => {
          const uri = late.status === 302 ? late.contact[0]?.uri : undefined;
          if (uri !== undefined && !this.#closed) void this.#send('BYE', uri.toString(), {}).catch(() => undefined);
        },
      });
      if (response.status !== 302) throw this.#errorFor(response);
      const contact = response.contact[0]?.uri;
      if (contact === undefined || contact.user === undefined || response.body.length === 0) {
        if (contact !== undefined) void this.#send('BYE', contact.toString(), {}).catch(() => undefined);
        throw new RelayError('ERR_RELAY_PROTOCOL', `relay ${this.relayUri} answered 302 without a resource URI or SDP`, 503);
      }
      if (this.#closed) {
        await this.#send('BYE', contact.toString(), {}).catch(() => undefined);
        throw new RelayError('ERR_RELAY_CLOSED', 'the relay allocator is closed', 503);
      }
      const session: Session = {
        ...draft,
        uri: contact.toString(),
        id: contact.user,
        instance: response.get(RelayHeader.instance)?.trim(),
        protocolCallId,
        protocolTag,
        cseq: 1,
        lastOfferFrom: from,
        answered: false,
        counters: undefined,
      };
      const list = this.#sessions.get(key.callId);
      if (list) list.push(session);
      else this.#sessions.set(key.callId, [session]);
      debug('allocated %s for call %s', session.uri, key.callId);
      return response.body;
    } finally {
      const n = (this.#allocating.get(key.callId) ?? 1) - 1;
      if (n > 0) this.#allocating.set(key.callId, n);
      else this.#allocating.delete(key.callId);
    }
  }

  /** A request about a session's resource; a 481 means the relay no longer has it. */
  async #sendForSession(session: Session, method: string, headers: Record<string, string>, body: Buffer, timeoutMs?: number): Promise<SipResponse> {
    const response = await this.#send(method, session.uri, headers, {
      body,
      callId: session.protocolCallId,
      fromTag: session.protocolTag,
      cseq: ++session.cseq,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
    if (response.status === 302) return response;
    if (response.status === 481) this.#end(session, session.answered ? 'media-timeout' : 'offer-timeout');
    throw this.#errorFor(response);
  }

  async #bye(session: Session): Promise<void> {
    try {
      const response = await this.#send('BYE', session.uri, {}, { callId: session.protocolCallId, fromTag: session.protocolTag, cseq: ++session.cseq });
      const info = parseResourceLine(response.get(RelayHeader.resource) ?? '');
      if (info !== undefined) session.counters = info.packets;
    } catch (err) {
      debug('release of %s: %s', session.uri, (err as Error).message);
    }
  }

  /** The protocol headers of an INVITE carrying one party's SDP. */
  #sdpHeaders(
    call: { callId: string; callerTag: string; calleeTag: string | undefined },
    from: RelayParty,
    role: RelaySdpRole,
    options: RelayOfferOptions | RelayAnswerOptions,
  ): Record<string, string> {
    const headers: Record<string, string> = {
      [RelayHeader.party]: from,
      [RelayHeader.sdp]: role,
      [RelayHeader.nat]: options.natted ? 'yes' : 'no',
    };
    if (options.sourceAddress !== undefined && isIP(options.sourceAddress) !== 0) headers[RelayHeader.source] = options.sourceAddress;
    const family = role === 'offer' ? (options as RelayOfferOptions).targetAddressType : undefined;
    if (family !== undefined) headers[RelayHeader.family] = family;
    if (!/[\s;]/.test(call.callId) && call.callerTag !== '') {
      headers[RelayHeader.call] = formatRelayCall({ callId: call.callId, fromTag: call.callerTag, ...(call.calleeTag !== undefined ? { toTag: call.calleeTag } : {}) });
    }
    return headers;
  }

  /**
   * Sends one request in a client transaction and resolves with its final response. Rejects with
   * RelayError 503: `ERR_RELAY_TIMEOUT` past the timeout, `ERR_RELAY_UNREACHABLE` on a transport error.
   */
  #send(method: string, uri: string, extra: Record<string, string>, options: SendOptions = {}): Promise<SipResponse> {
    const s = this.#transport.sentBy;
    const me = `${formatHost(s.host)}:${s.port}`;
    const body = options.body ?? Buffer.alloc(0);
    const headers: HeaderField[] = [
      { name: 'Via', value: `SIP/2.0/UDP ${me};branch=${generateBranch()};rport` },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<sip:proxy@${me}>;tag=${options.fromTag ?? generateTag()}` },
      { name: 'To', value: `<${uri}>` },
      { name: 'Call-ID', value: options.callId ?? generateCallId() },
      { name: 'CSeq', value: `${options.cseq ?? 1} ${method}` },
      ...Object.entries(extra).map(([name, value]) => ({ name, value })),
    ];
    if (body.length > 0) headers.push({ name: 'Content-Type', value: 'application/sdp' });
    let request: SipRequest;
    try {
      request = new SipRequest({ method, uri: parseUri(uri), headers, body });
    } catch (err) {
      return Promise.reject(new RelayError('ERR_RELAY_PROTOCOL', `bad relay URI ${uri}: ${(err as Error).message}`, 503, { cause: err }));
    }
    if (this.#secret !== undefined) signRequest(request, this.#secret, this.#now());
    const timeoutMs = Math.max(1, options.timeoutMs ?? this.requestTimeoutMs);
    return new Promise<SipResponse>((resolve, reject) => {
      let settled = false;
      const fail = (error: RelayError): void => {
        if (settled) return;
        settled = true;
        this.#clock.clearTimeout(timer);
        this.#failure();
        reject(error);
      };
      const timer = this.#clock.setTimeout(
        () => fail(new RelayError('ERR_RELAY_TIMEOUT', `relay ${this.relayUri} did not answer ${method} within ${timeoutMs} ms`, 503)),
        timeoutMs,
      );
      try {
        this.#layer.sendRequest(request, {
          receiveResponse: (response) => {
            if (response.status < 200) return;
            this.#observe(response);
            if (settled) {
              options.onLate?.(response);
              return;
            }
            settled = true;
            this.#clock.clearTimeout(timer);
            resolve(response);
          },
          onRequestTimeout: () => fail(new RelayError('ERR_RELAY_TIMEOUT', `relay ${this.relayUri} did not answer ${method}`, 503)),
          onTransportError: (err) => fail(new RelayError('ERR_RELAY_UNREACHABLE', `relay ${this.relayUri} unreachable: ${err.message}`, 503, { cause: err })),
        });
      } catch (err) {
        settled = true;
        this.#clock.clearTimeout(timer);
        reject(new RelayError('ERR_RELAY_CLOSED', `cannot send to relay ${this.relayUri}: ${(err as Error).message}`, 503, { cause: err }));
      }
    });
  }

  /** A response from the relay: it is alive; a new instance means it restarted and lost its resources. */
  #observe(response: SipResponse): void {
    const instance = response.get(RelayHeader.instance)?.trim();
    if (instance !== undefined && instance !== '' && instance !== this.#instance) {
      const previous = this.#instance;
      this.#instance = instance;
      if (previous !== undefined) {
        debug('relay %s restarted (instance %s -> %s)', this.relayUri, previous, instance);
        for (const session of [...this.#sessions.values()].flat()) if (session.instance !== instance) this.#end(session, 'relay-down');
      }
    }
    this.#failures = 0;
    this.#gone = false;
    const was = this.#state;
    this.#state = 'up';
    if (was !== 'up') {
      debug('relay %s is up', this.relayUri);
      if (this.#cleanup && !this.#closed) {
        void this.cleanup().catch((err: unknown) => debug('cleanup on %s failed: %s', this.relayUri, (err as Error).message));
      }
      if (was === 'down' && this.#checkTimer !== undefined) this.#scheduleCheck(this.#checkIntervalMs);
    }
  }

  /** An unanswered request: the relay is down; after maxFailures in a row it is gone. */
  #failure(): void {
    this.#failures++;
    if (this.#state !== 'down') {
      this.#state = 'down';
      debug('relay %s is down', this.relayUri);
      if (this.#checkTimer !== undefined && !this.#closed) this.#scheduleCheck(this.#nextCheckIn());
    }
    if (this.#failures >= this.#maxFailures && !this.#gone) {
      this.#gone = true;
      const sessions = [...this.#sessions.values()].flat();
      if (sessions.length > 0) debug('relay %s is gone: ending %d session(s)', this.relayUri, sessions.length);
      for (const session of sessions) this.#end(session, 'relay-down');
    }
  }

  #errorFor(response: SipResponse): RelayError {
    const warning = /"([^"]*)"/.exec(response.get('Warning') ?? '')?.[1];
    const why = `relay ${this.relayUri}: ${response.status} ${warning ?? response.reason}`;
    switch (response.status) {
      case 488:
        return new RelayError('ERR_RELAY_BAD_SDP', why, 488);
      case 503:
        return new RelayError('ERR_RELAY_NO_PORTS', why, 503);
      case 481:
        return new RelayError('ERR_RELAY_UNKNOWN_SESSION', why, 481);
      case 403:
        return new RelayError('ERR_RELAY_FORBIDDEN', why, 503);
      default:
        return new RelayError('ERR_RELAY_PROTOCOL', why, response.status >= 500 ? 503 : 500);
    }
  }

  // ---- sessions ---------------------------------------------------------------------------

  #find(key: RelaySessionKey): Session | undefined {
    return this.#sessions.get(key.callId)?.find((s) => matches(s, key));
  }

  #holdsResource(id: string): boolean {
    for (const list of this.#sessions.values()) if (list.some((s) => s.id === id)) return true;
    return false;
  }

  #uriOf(id: string): string {
    const relay = parseUri(this.relayUri);
    relay.user = id;
    return relay.toString();
  }

  #remove(session: Session): boolean {
    const list = this.#sessions.get(session.callId);
    if (list === undefined || !list.includes(session)) return false;
    const rest = list.filter((s) => s !== session);
    if (rest.length > 0) this.#sessions.set(session.callId, rest);
    else this.#sessions.delete(session.callId);
    return true;
  }

  /** Forgets a session the relay no longer serves and tells the listeners. */
  #end(session: Session, reason: RelaySessionEndReason): void {
    if (!this.#remove(session)) return;
    debug('session %s of call %s ended: %s', session.uri, session.callId, reason);
    const key: RelaySessionKey = { callId: session.callId, fromTag: session.callerTag, ...(session.calleeTag !== undefined ? { toTag: session.calleeTag } : {}) };
    const event: RelaySessionEnded = { key, reason, ...(session.counters !== undefined ? { counters: session.counters } : {}) };
    this.#ended.emit(event);
  }

  #assertOpen(): void {
    if (this.#closed) throw new RelayError('ERR_RELAY_CLOSED', 'the relay allocator is closed', 503);
  }

  #now(): number {
    return this.#clock.now?.() ?? Date.now();
  }
}

/**
 * The local address the system would send from to reach `host` (a connected UDP socket, nothing
 * sent); undefined for a host name or when there is no route.
 */
async function sourceAddressToward(host: string, family: 4 | 6): Promise<string | undefined> {
  if (isIP(host) !== family) return undefined;
  const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
  try {
    return await new Promise<string | undefined>((resolve) => {
      socket.once('error', () => resolve(undefined));
      socket.connect(9, host, () => resolve(socket.address().address));
    });
  } finally {
    socket.close();
  }
}

/** `sip:relay@HOST:PORT` from what a user wrote (`sip:HOST:PORT` gets the `relay` user; parameters dropped). */
export function normalizeRelayUri(text: string): string {
  let uri;
  try {
    uri = parseUri(text.trim());
  } catch (err) {
    throw new InvalidArgumentError(`bad relay URI ${text}: ${(err as Error).message}`);
  }
  if (uri.scheme !== 'sip' || uri.host === '') throw new InvalidArgumentError(`bad relay URI ${text}: expected sip:relay@HOST:PORT`);
  return `sip:${uri.user ?? RELAY_USER}@${formatHost(uri.host)}${uri.port !== undefined ? `:${uri.port}` : ''}`;
}

/** Whether a key names a session, from either party's side (as the local relay matches). */
function matches(session: Session, key: RelaySessionKey): boolean {
  if (key.callId !== session.callId) return false;
  if (key.fromTag === session.callerTag) return true;
  if (session.calleeTag !== undefined && key.fromTag === session.calleeTag) return true;
  return key.toTag !== undefined && key.toTag === session.callerTag;
}

/** The party whose message carries this key's From tag. */
function senderOf(session: Session, key: RelaySessionKey): RelayParty {
  return session.calleeTag !== undefined && key.fromTag === session.calleeTag && key.fromTag !== session.callerTag ? 'callee' : 'caller';
}

/** Learns the callee's tag from a key, whichever way it is oriented. */
function learnTags(session: Session, key: RelaySessionKey, from: RelayParty): void {
  if (key.fromTag === session.callerTag) {
    if (key.toTag !== undefined) session.calleeTag = key.toTag;
  } else if (key.toTag === session.callerTag || from === 'callee') {
    session.calleeTag = key.fromTag;
  }
}
