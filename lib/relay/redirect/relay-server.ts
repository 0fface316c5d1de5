/**
 * The relay server of claims 2-3 and 8-9: the local media forwarder behind a SIP front end that
 * speaks the relay-by-redirect protocol (docs/relay-protocol.md) over natter's transaction layer.
 * An INVITE allocates or updates a resource and is answered 302 with the resource URI in Contact
 * and the relay's SDP in the body; BYE releases; OPTIONS checks health, queries and lists.
 */
import { randomBytes } from 'node:crypto';
import createDebug from 'debug';
import { InvalidArgumentError, RelayError } from '../../errors.js';
import { makeResponse } from '../../transport/message-api.js';
import type { SipRequest } from '../../transport/message-api.js';
import { formatHost } from '../../transport/via-text.js';
import { createUdpTransport } from '../../transport/udp-transport.js';
import type { UdpTransport } from '../../transport/udp-transport.js';
import type { Endpoint, MessageInfo } from '../../transport/transport.js';
import { TransactionLayer } from '../../transaction/transaction-layer.js';
import type { ServerTransaction } from '../../transaction/server-transaction.js';
import type { TransactionLayerUser } from '../../transaction/transaction-user.js';
import { type Clock, type TimerHandle, systemClock } from '../../transaction/clock.js';
import type { TimerOptions } from '../../transaction/timers.js';
import { type LatchPolicy, LocalRelayAllocator } from '../local/local-relay-allocator.js';
import type { MediaCounters, RelayParty, RelaySessionKey } from '../relay-allocator.js';
import { AllowList, SignatureChecker } from './auth.js';
import {
  LISTING_CONTENT_TYPE,
  RELAY_METHODS,
  RELAY_USER,
  RelayHeader,
  RelayProtocolError,
  type RelayCallId,
  type RelayLoad,
  type RelayResourceInfo,
  type RelaySdpRole,
  formatLoad,
  formatResourceLine,
  isToken,
  parseFamily,
  parseListRequest,
  parseNat,
  parseParty,
  parseRelayCall,
  parseSdpRole,
  parseSource,
} from './protocol.js';

const debug = createDebug('natter:relay:server');

/** Why a resource ended. */
export type ResourceEndReason = 'bye' | 'media-timeout' | 'offer-timeout' | 'shutdown';

/** What a relay server reports, for its log. */
export type RelayServerEvent =
  | { type: 'allocated'; resource: RelayResourceInfo; source: Endpoint }
  | { type: 'updated'; resource: RelayResourceInfo; party: RelayParty; sdp: RelaySdpRole }
  | { type: 'released'; resource: RelayResourceInfo; reason: ResourceEndReason }
  | { type: 'refused'; method: string; status: number; reason: string; source: Endpoint };

export interface RelayServerOptions {
  /** Where the SIP front end listens (UDP). Default `0.0.0.0:5070`. */
  listen?: { address: string; port: number };
  /** Host written into resource URIs (Contact); needed when listening on `0.0.0.0` / `::`. */
  advertisedAddress?: string;
  /** Media address(es) the forwarder binds: at most one IPv4 and one IPv6. Default: the listen address. */
  mediaAddress?: string | readonly string[];
  /** Media address(es) written into SDP instead of the bound ones (a relay behind 1:1 NAT). */
  advertisedMediaAddress?: string | readonly string[];
  /** The media port range. Default 30000-39999. */
  rtpPorts?: { min: number; max: number };
  /** An answered resource without media for this long is freed. Default 60 000 ms; 0 never. */
  mediaTimeoutMs?: number;
  /** A resource never answered is freed after this long. Default 300 000 ms; 0 never. */
  offerTimeoutMs?: number;
  /** Symmetric RTP latching (see LocalRelayAllocator). Default `always`. */
  latch?: LatchPolicy;
  /** Source addresses or prefixes allowed to use the relay (`203.0.113.1`, `10.0.0.0/8`); default anyone. */
  allow?: readonly string[];
  /** Shared secret: requests must carry a valid `X-Relay-Auth` (docs/relay-protocol.md, section 8). */
  secret?: string | Buffer;
  /** Largest clock difference accepted in `X-Relay-Auth`. Default 30 000 ms. */
  maxSkewMs?: number;
  /** Retry-After of a 503, in seconds. Default 10. */
  retryAfter?: number;
  /** The instance token; default random (it must change on every start). */
  instance?: string;
  /** T1, T2, T4 of the transaction layer. */
  timers?: TimerOptions;
  clock?: Clock;
  /** Allocations, updates, releases and refusals, for a log. */
  onEvent?: (event: RelayServerEvent) => void;
}

/** A snapshot of a relay server. */
export interface RelayServerStats extends RelayLoad {
  instance: string;
  /** Requests refused (403, 400, 415, 405, 481, 488, 503). */
  refused: number;
}

interface Resource {
  readonly id: string;
  readonly key: RelaySessionKey;
  readonly createdAt: number;
  call: RelayCallId | undefined;
  readonly owner: string | undefined;
  answered: boolean;
  /** The last ports seen, for describing the resource after the media relay let it go. */
  ports: { caller: number[]; callee: number[] };
  /** The last counters seen (sampled often enough to be exact when a media timeout ends it). */
  counters: MediaCounters;
}

/** Stream relay keys inside the local allocator: the resource id as Call-ID, one fixed tag. */
const INTERNAL_TAG = 'caller';

/** Whether the user part of a Request-URI names the relay itself. */
function namesRelay(user: string | undefined): boolean {
  return user === undefined || user === '' || user.toLowerCase() === RELAY_USER;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class RelayServer implements TransactionLayerUser {
  readonly transport: UdpTransport;
  readonly layer: TransactionLayer;
  readonly media: LocalRelayAllocator;
  /** Changes on every start: a client that sees a new one knows every earlier resource is gone. */
  readonly instance: string;
  readonly #resources = new Map<string, Resource>();
  readonly #allow: AllowList | undefined;
  readonly #signatures: SignatureChecker | undefined;
  readonly #clock: Clock;
  readonly #retryAfter: number;
  readonly #portsTotal: number;
  readonly #onEvent: ((event: RelayServerEvent) => void) | undefined;
  #refused = 0;
  readonly #sampleEveryMs: number;
  #sampleTimer: TimerHandle | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;

  private constructor(transport: UdpTransport, options: RelayServerOptions, mediaAddress: string | readonly string[]) {
    this.transport = transport;
    this.#clock = options.clock ?? systemClock;
    this.instance = options.instance ?? randomBytes(6).toString('hex');
    if (!isToken(this.instance)) throw new InvalidArgumentError(`relay instance must be a token: ${this.instance}`);
    this.#allow = options.allow !== undefined && options.allow.length > 0 ? new AllowList(options.allow) : undefined;
    const secret = options.secret === undefined ? undefined : Buffer.isBuffer(options.secret) ? options.secret : Buffer.from(options.secret, 'utf8');
    this.#signatures = secret !== undefined ? new SignatureChecker(secret, options.maxSkewMs !== undefined ? { maxSkewMs: options.maxSkewMs } : {}) : undefined;
    this.#retryAfter = options.retryAfter ?? 10;
    this.#onEvent = options.onEvent;
    const ports = options.rtpPorts ?? { min: 30000, max: 39999 };
    const families = typeof mediaAddress === 'string' ? 1 : mediaAddress.length;
    this.#portsTotal = (ports.max - ports.min + 1) * families;
    this.media = new LocalRelayAllocator({
      mediaAddress,
      ...(options.advertisedMediaAddress !== undefined ? { advertisedAddress: options.advertisedMediaAddress } : {}),
      portMin: ports.min,
      portMax: ports.max,
      ...(options.mediaTimeoutMs !== undefined ? { mediaTimeoutMs: options.mediaTimeoutMs } : {}),
      ...(options.offerTimeoutMs !== undefined ? { offerTimeoutMs: options.offerTimeoutMs } : {}),
      ...(options.latch !== undefined ? { latch: options.latch } : {}),
      clock: this.#clock,
    });
    this.media.onSessionEnded((event) => {
      const resource = this.#resources.get(event.key.callId);
      if (resource === undefined) return;
      this.#resources.delete(resource.id);
      const reason: ResourceEndReason = event.reason === 'offer-timeout' ? 'offer-timeout' : 'media-timeout';
      this.#emit({ type: 'released', resource: this.#describe(resource), reason });
    });
    // a resource ended by its media timeout saw no packet during the timeout: a sample taken
    // within it holds the final counters
    const mediaTimeoutMs = options.mediaTimeoutMs ?? 60_000;
    this.#sampleEveryMs = Math.max(50, Math.min(5000, mediaTimeoutMs > 0 ? Math.floor(mediaTimeoutMs / 3) : 5000));
    this.#scheduleSample();
    this.layer = new TransactionLayer({
      transport,
      core: this,
      clock: this.#clock,
      ...(options.timers ? { timers: options.timers } : {}),
      onError: (err) => debug('transport error: %s', err.message),
    });
  }

  /** Binds the SIP socket and starts serving. */
  static async start(options: RelayServerOptions = {}): Promise<RelayServer> {
    const listen = options.listen ?? { address: '0.0.0.0', port: 5070 };
    const mediaAddress = options.mediaAddress ?? listen.address;
    if (typeof mediaAddress === 'string' && (mediaAddress === '0.0.0.0' || mediaAddress === '::') && options.advertisedMediaAddress === undefined) {
      throw new InvalidArgumentError('the relay listens on an unspecified address: give mediaAddress (or advertisedMediaAddress)');
    }
    const transport = await createUdpTransport({
      address: listen.address,
      port: listen.port,
      ...(options.advertisedAddress !== undefined ? { advertisedAddress: options.advertisedAddress } : {}),
    });
    try {
      return new RelayServer(transport, options, mediaAddress);
    } catch (error) {
      await transport.close();
      throw error;
    }
  }

  /** The address the SIP front end listens on. */
  get address(): Endpoint {
    return { address: this.transport.localAddress, port: this.transport.localPort };
  }

  /** `host:port` as written into resource URIs. */
  get hostPort(): string {
    const s = this.transport.sentBy;
    return `${formatHost(s.host)}:${s.port}`;
  }

  /** The relay's own URI, `sip:relay@HOST:PORT`: what a proxy's `--relay` names. */
  get uri(): string {
    return `sip:${RELAY_USER}@${this.hostPort}`;
  }

  /** The URI of a resource. */
  resourceUri(id: string): string {
    return `sip:${id}@${this.hostPort}`;
  }

  /** The live resources, in order of id. */
  resources(): RelayResourceInfo[] {
    return [...this.#resources.keys()].sort().map((id) => this.#describe(this.#resources.get(id)!));
  }

  /** One resource, or undefined. */
  resource(id: string): RelayResourceInfo | undefined {
    const r = this.#resources.get(id);
    return r === undefined ? undefined : this.#describe(r);
  }

  stats(): RelayServerStats {
    return { instance: this.instance, refused: this.#refused, ...this.#load() };
  }

  /** Frees every resource, stops answering and closes the socket. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      if (this.#sampleTimer !== undefined) this.#clock.clearTimeout(this.#sampleTimer);
      const left = [...this.#resources.values()].map((r) => this.#describe(r));
      this.#resources.clear();
      await this.media.close();
      for (const resource of left) this.#emit({ type: 'released', resource, reason: 'shutdown' });
      this.layer.close();
      await this.transport.close();
    })();
    return this.#closed;
  }

  // ---- the transaction user --------------------------------------------------------------

  receiveRequest(request: SipRequest, tx: ServerTransaction, info: MessageInfo): void {
    this.#handle(request, tx, info).catch((err: unknown) => {
      if (err instanceof Refusal) return this.#refuse(request, tx, info, err);
      debug('%s failed: %s', request.method, (err as Error).stack);
      if (!tx.finalResponseSent) this.#refuse(request, tx, info, new Refusal(500, (err as Error).message));
    });
  }

  /** The ACK for a 302 is absorbed by the INVITE server transaction; anything else is ignored. */
  receiveAck(): void {}

  async #handle(request: SipRequest, tx: ServerTransaction, info: MessageInfo): Promise<void> {
    if (this.#allow !== undefined && !this.#allow.allows(info.source.address)) throw new Refusal(403, `source ${info.source.address} not allowed`);
    if (this.#signatures !== undefined) {
      const problem = this.#signatures.check(request, this.#now());
      if (problem !== undefined) throw new Refusal(403, problem);
    }
    switch (request.method) {
      case 'INVITE':
        return this.#invite(request, tx, info);
      case 'BYE':
        return this.#bye(request, tx);
      case 'OPTIONS':
        return this.#options(request, tx);
      case 'CANCEL':
        // every INVITE is answered at once: there is never anything left to cancel
        tx.respond(this.#response(request, this.layer.findTransactionToCancel(request) !== undefined ? 200 : 481));
        return;
      default:
        throw new Refusal(405, `${request.method} is not part of the relay protocol`, { Allow: RELAY_METHODS.join(', ') });
    }
  }

  async #invite(request: SipRequest, tx: ServerTransaction, info: MessageInfo): Promise<void> {
    const user = request.uri.user;
    const existing = namesRelay(user) ? undefined : this.#resources.get(user!);
    if (!namesRelay(user) && existing === undefined) throw new Refusal(481, `no resource ${user}`);
    let party: RelayParty;
    let role: RelaySdpRole;
    let natted: boolean;
    let source: string | undefined;
    let family: 'IP4' | 'IP6' | undefined;
    let call: RelayCallId | undefined;
    let owner: string | undefined;
    try {
      party = parseParty(request.get(RelayHeader.party)) ?? 'caller';
      role = parseSdpRole(request.get(RelayHeader.sdp)) ?? 'offer';
      natted = parseNat(request.get(RelayHeader.nat));
      source = parseSource(request.get(RelayHeader.source));
      family = parseFamily(request.get(RelayHeader.family));
      const callHeader = request.get(RelayHeader.call);
      call = callHeader === undefined ? undefined : parseRelayCall(callHeader);
      owner = request.get(RelayHeader.owner)?.trim();
      if (owner !== undefined && !isToken(owner)) throw new RelayProtocolError(`bad ${RelayHeader.owner}: ${owner}`);
    } catch (err) {
      if (err instanceof RelayProtocolError) throw new Refusal(400, err.message);
      throw err;
    }
    if (request.body.length === 0) throw new Refusal(400, 'an INVITE to the relay carries an SDP body');
    const type = request.contentType?.split(';')[0]!.trim().toLowerCase();
    if (type !== undefined && type !== 'application/sdp') throw new Refusal(415, `cannot relay ${type}`, { Accept: 'application/sdp' });
    if (existing === undefined && role === 'answer') throw new Refusal(400, 'an allocation is an offer');
    if (existing === undefined && this.#closing) throw new Refusal(503, 'relay shutting down', { 'Retry-After': String(this.#retryAfter) });
    const options = { natted, from: party, ...(source !== undefined ? { sourceAddress: source } : {}) };

    let resource: Resource;
    let sdp: Buffer;
    if (existing === undefined) {
      const id = this.#newId();
      const key = { callId: id, fromTag: INTERNAL_TAG };
      sdp = await this.#media(() => this.media.offer(key, request.body, { ...options, ...(family !== undefined ? { targetAddressType: family } : {}) }));
      resource = { id, key, createdAt: this.#now(), call, owner, answered: false, ports: { caller: [], callee: [] }, counters: { fromCaller: 0, fromCallee: 0 } };
      if (this.#closing) {
        await this.media.release(key);
        throw new Refusal(503, 'relay shutting down', { 'Retry-After': String(this.#retryAfter) });
      }
      this.#resources.set(id, resource);
      this.#emit({ type: 'allocated', resource: this.#describe(resource), source: info.source });
    } else {
      resource = existing;
      // the local relay would open a new session for an offer on a key it no longer has
      if (this.media.sessionStats(resource.key) === undefined) throw new Refusal(481, `resource ${resource.id} has ended`);
      if (call !== undefined) resource.call = call;
      sdp = await this.#media(() =>
        role === 'offer'
          ? this.media.offer(resource.key, request.body, { ...options, ...(family !== undefined ? { targetAddressType: family } : {}) })
          : this.media.answer(resource.key, request.body, options),
      );
      if (this.#resources.get(resource.id) !== resource) {
        await this.media.release(resource.key);
        throw new Refusal(481, `resource ${resource.id} has ended`);
      }
      if (role === 'answer') resource.answered = true;
      this.#emit({ type: 'updated', resource: this.#describe(resource), party, sdp: role });
    }
    const response = this.#response(request, 302, {
      Contact: `<${this.resourceUri(resource.id)}>`,
      [RelayHeader.resource]: formatResourceLine(this.#describe(resource)),
      'Content-Type': 'application/sdp',
    });
    response.body = sdp;
    tx.respond(response);
  }

  async #bye(request: SipRequest, tx: ServerTransaction): Promise<void> {
    const user = request.uri.user;
    const resource = namesRelay(user) ? undefined : this.#resources.get(user!);
    if (resource === undefined) throw new Refusal(481, `no resource ${user ?? ''}`);
    const info = this.#describe(resource);
    this.#resources.delete(resource.id);
    await this.media.release(resource.key);
    this.#emit({ type: 'released', resource: info, reason: 'bye' });
    tx.respond(this.#response(request, 200, { [RelayHeader.resource]: formatResourceLine(info) }));
  }

  async #options(request: SipRequest, tx: ServerTransaction): Promise<void> {
    const user = request.uri.user;
    if (!namesRelay(user)) {
      const resource = this.#resources.get(user!);
      if (resource === undefined) throw new Refusal(481, `no resource ${user}`);
      tx.respond(this.#response(request, 200, { [RelayHeader.resource]: formatResourceLine(this.#describe(resource)) }));
      return;
    }
    const headers: Record<string, string> = {
      Allow: RELAY_METHODS.join(', '),
      Accept: 'application/sdp',
      [RelayHeader.load]: formatLoad(this.#load()),
    };
    const listHeader = request.get(RelayHeader.list);
    if (listHeader === undefined) {
      tx.respond(this.#response(request, 200, headers));
      return;
    }
    let ask;
    try {
      ask = parseListRequest(listHeader);
    } catch (err) {
      if (err instanceof RelayProtocolError) throw new Refusal(400, err.message);
      throw err;
    }
    const max = Math.min(ask.max ?? 100, 100);
    const ids = [...this.#resources.keys()].filter((id) => ask.after === undefined || id > ask.after).sort();
    const lines: string[] = [];
    let bytes = 0;
    let next: string | undefined;
    for (const id of ids) {
      const resource = this.#resources.get(id)!;
      if (ask.owner !== undefined && resource.owner !== ask.owner) continue;
      const line = formatResourceLine(this.#describe(resource));
      if (lines.length >= max || (lines.length > 0 && bytes + line.length + 2 > 8000)) {
        next = lines.length > 0 ? lastId(lines) : undefined;
        break;
      }
      lines.push(line);
      bytes += line.length + 2;
    }
    if (next !== undefined) headers[RelayHeader.listNext] = next;
    headers['Content-Type'] = LISTING_CONTENT_TYPE;
    const response = this.#response(request, 200, headers);
    response.body = lines.map((l) => l + '\r\n').join('');
    tx.respond(response);
  }

  /** Runs a media operation, turning its failures into protocol answers. */
  async #media(op: () => Promise<Buffer>): Promise<Buffer> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof RelayError) {
        if (err.status === 503) throw new Refusal(503, err.message, { 'Retry-After': String(this.#retryAfter) });
        if (err.status === 488) throw new Refusal(488, err.message);
        if (err.status === 481) throw new Refusal(481, err.message);
        throw new Refusal(500, err.message);
      }
      if (err instanceof InvalidArgumentError) throw new Refusal(400, err.message);
      throw err;
    }
  }

  #refuse(request: SipRequest, tx: ServerTransaction, info: MessageInfo, refusal: Refusal): void {
    this.#refused++;
    debug('%s %s from %s:%d refused %d: %s', request.method, String(request.uri), info.source.address, info.source.port, refusal.status, refusal.message);
    this.#emit({ type: 'refused', method: request.method, status: refusal.status, reason: refusal.message, source: info.source });
    if (tx.finalResponseSent) return;
    const text = refusal.message.replace(/["\\\r\n]/g, ' ').slice(0, 200);
    tx.respond(this.#response(request, refusal.status, { ...refusal.headers, Warning: `399 ${this.transport.sentBy.host} "${text}"` }));
  }

  #response(request: SipRequest, status: number, headers: Record<string, string> = {}) {
    return makeResponse(request, status, { headers: { [RelayHeader.instance]: this.instance, Server: 'natter-relay', ...headers } });
  }

  /** Reads the counters of every resource, so that a resource the media relay ends keeps its last ones. */
  #scheduleSample(): void {
    this.#sampleTimer = this.#clock.setTimeout(() => {
      if (this.#closing) return;
      for (const resource of this.#resources.values()) resource.counters = this.media.mediaCounters(resource.key) ?? resource.counters;
      this.#scheduleSample();
    }, this.#sampleEveryMs);
  }

  #describe(resource: Resource): RelayResourceInfo {
    const stats = this.media.sessionStats(resource.key);
    if (stats !== undefined) {
      const streams = stats.streams.filter((s) => s !== null);
      resource.ports = { caller: streams.map((s) => s.caller.local.rtpPort), callee: streams.map((s) => s.callee.local.rtpPort) };
      resource.counters = this.media.mediaCounters(resource.key) ?? resource.counters;
    }
    return {
      id: resource.id,
      state: resource.answered ? 'answered' : 'offered',
      callId: resource.call?.callId,
      fromTag: resource.call?.fromTag,
      toTag: resource.call?.toTag,
      owner: resource.owner,
      age: Math.max(0, (this.#now() - resource.createdAt) / 1000),
      streams: resource.ports.caller.length,
      ports: resource.ports,
      packets: { ...resource.counters },
    };
  }

  #load(): RelayLoad {
    return { resources: this.#resources.size, portsInUse: this.media.stats().portsInUse, portsTotal: this.#portsTotal };
  }

  #newId(): string {
    for (;;) {
      const id = 'r' + randomBytes(10).toString('hex');
      if (!this.#resources.has(id)) return id;
    }
  }

  #emit(event: RelayServerEvent): void {
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent(event);
    } catch (err) {
      debug('event listener threw: %s', (err as Error).message);
    }
  }

  #now(): number {
    return this.#clock.now?.() ?? Date.now();
  }
}

function lastId(lines: string[]): string {
  return lines[lines.length - 1]!.split(' ', 1)[0]!;
}
