import createDebug from 'debug';
import { createHash } from 'node:crypto';
import type { SipRequest, SipResponse } from '../message/message.js';
import { makeResponse, generateCallId, generateTag, generateBranch } from '../message/build.js';
import { removeTopVia } from '../message/edit.js';
import { SipRequest as Request } from '../message/message.js';
import { formatHost, parseUri } from '../message/uri.js';
import { Via } from '../message/via.js';
import { RelayError } from '../errors.js';
import { createUdpTransport } from '../transport/udp-transport.js';
import type { UdpTransport } from '../transport/udp-transport.js';
import type { Endpoint, MessageInfo } from '../transport/transport.js';
import { TransactionLayer } from '../transaction/transaction-layer.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { InviteServerTransaction } from '../transaction/invite-server.js';
import type { TransactionLayerUser } from '../transaction/transaction-user.js';
import { systemClock } from '../transaction/clock.js';
import type { Clock } from '../transaction/clock.js';
import { DefaultNatDetector } from '../nat/detector.js';
import type { NatDetector } from '../nat/detector.js';
import { fixNatedContact } from '../nat/contact-fixup.js';
import { NatKeepalive } from '../nat/keepalive.js';
import type { MediaCounters, RelayAllocator, RelayParty } from '../relay/relay-allocator.js';
import { LocalRelayAllocator } from '../relay/local/local-relay-allocator.js';
import { Registrar } from './registrar.js';
import { MemoryLocationStore } from './location-store.js';
import type { LocationStore } from './location-store.js';
import type { Binding } from './binding.js';
import { canonicalAor } from './binding.js';
import type { LocalIdentity } from './local-identity.js';
import { isLocalUri } from './local-identity.js';
import { validateRequest } from './validate.js';
import type { Refusal } from './validate.js';
import { preprocessRoute } from './route.js';
import { loopBranchHash } from './loop-detection.js';
import { ForwardingContext } from './forwarding-context.js';
import type { ForwardTarget, ForwardingHost } from './forwarding-context.js';
import { Call, CallTable } from './call.js';
import { RelayEngine } from './relay-engine.js';
import { callRecord } from './call-log.js';
import type { CallRecord } from './call-log.js';
import type { ProxyOptions } from './proxy-options.js';

const debug = createDebug('natter:proxy');

/** A snapshot of what the proxy holds, for monitoring and leak checks. */
export interface ProxyStats {
  calls: number;
  transactions: number;
  bindings: number;
}

/**
 * The NAT-aware stateful proxy (RFC 3261 §16) of claims 1 and 7: a registrar and location
 * service, the comparison engine (a NatDetector) run on every INVITE, the relay resource engine
 * (a RelayAllocator) engaged when a party is behind NAT, and the messaging module that puts the
 * relay's SDP into the INVITE to the callee and into the 200 OK to the caller, which goes back to
 * the caller's source address (RFC 3581).
 */
export class SipProxy implements TransactionLayerUser, ForwardingHost {
  readonly transport: UdpTransport;
  readonly layer: TransactionLayer;
  readonly self: LocalIdentity;
  readonly clock: Clock;
  readonly timerC: number;
  readonly recordRoute: boolean;
  readonly store: LocationStore;
  readonly detector: NatDetector;
  readonly relay: RelayAllocator;
  readonly registrar: Registrar;
  readonly calls = new CallTable();
  readonly #engine: RelayEngine;
  readonly #domains: ReadonlySet<string>;
  readonly #maxCalls: number;
  readonly #contexts = new WeakMap<ServerTransaction, ForwardingContext>();
  readonly #live = new Set<ForwardingContext>();
  readonly #callOf = new WeakMap<ForwardingContext, { call: Call; sender: RelayParty; initial: boolean }>();
  readonly #keepalive: NatKeepalive | undefined;
  readonly #onCallEnd: ((record: CallRecord) => void) | undefined;
  readonly #ownsRelay: boolean;
  readonly #ownsStore: boolean;
  #closed = false;

  private constructor(transport: UdpTransport, options: ProxyOptions) {
    this.transport = transport;
    this.clock = options.clock ?? systemClock;
    this.layer = new TransactionLayer({
      transport,
      core: this,
      clock: this.clock,
      ...(options.timers ? { timers: options.timers } : {}),
      onError: (err) => debug('transport error: %s', err.message),
    });
    const host = transport.sentBy.host;
    const aliases = new Set([host.toLowerCase(), transport.localAddress.toLowerCase()]);
    if (options.advertisedAddress !== undefined) aliases.add(options.advertisedAddress.toLowerCase());
    this.self = { host, port: transport.sentBy.port, aliases };
    this.timerC = options.timerC ?? 180_000;
    this.recordRoute = options.recordRoute ?? true;
    this.#domains = new Set((options.domains ?? []).map((d) => d.toLowerCase()));
    this.#maxCalls = options.maxCalls ?? 10_000;
    this.#onCallEnd = options.onCallEnd;
    this.#ownsStore = options.locationStore === undefined;
    this.store = options.locationStore ?? new MemoryLocationStore();
    this.detector = options.natDetector ?? new DefaultNatDetector();
    this.#ownsRelay = options.relay === undefined;
    this.relay =
      options.relay ??
      new LocalRelayAllocator({
        mediaAddress: options.mediaAddress ?? transport.localAddress,
        ...(options.rtpPorts ? { portMin: options.rtpPorts.min, portMax: options.rtpPorts.max } : {}),
        ...(options.mediaTimeoutMs !== undefined ? { mediaTimeoutMs: options.mediaTimeoutMs } : {}),
        clock: this.clock,
      });
    this.#engine = new RelayEngine(this.relay, { relayAlways: options.relayAlways ?? false });
    this.relay.onSessionEnded?.((event) => {
      const call = this.calls.find(event.key.callId, event.key.fromTag, event.key.toTag);
      if (call !== undefined) this.#endCall(call, event.reason);
    });
    this.registrar = new Registrar({ store: this.store, ...(this.#domains.size > 0 ? { domains: [...this.#domains] } : {}), detector: this.detector });
    if (options.keepalive !== false) {
      this.#keepalive = new NatKeepalive({
        store: this.store,
        send: (binding) => this.#ping(binding),
        ...(options.keepalive?.interval !== undefined ? { interval: options.keepalive.interval } : {}),
        ...(options.keepalive?.maxFailures !== undefined ? { maxFailures: options.keepalive.maxFailures } : {}),
      });
      this.#keepalive.start();
    }
  }

  /** Binds the proxy's socket and starts it. */
  static async start(options: ProxyOptions = {}): Promise<SipProxy> {
    const listen = options.listen ?? { address: '127.0.0.1', port: 5060 };
    const transport = await createUdpTransport({
      address: listen.address,
      port: listen.port,
      ...(options.advertisedAddress !== undefined ? { advertisedAddress: options.advertisedAddress } : {}),
    });
    return new SipProxy(transport, options);
  }

  /** The address the proxy listens on. */
  get address(): Endpoint {
    return { address: this.transport.localAddress, port: this.transport.localPort };
  }

  async stats(): Promise<ProxyStats> {
    const bindings = await this.store.all();
    return { calls: this.calls.size, transactions: this.layer.size, bindings: bindings.length };
  }

  /** Ends every call (releasing its relay ports), stops the keepalive and closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#keepalive?.stop();
    for (const call of this.calls.all()) this.#endCall(call, 'shutdown');
    for (const ctx of this.#live) ctx.dispose();
    this.layer.close();
    if (this.#ownsRelay) await this.relay.close();
    else await Promise.all(this.calls.all().map((c) => this.#engine.release(c)));
    if (this.#ownsStore) await this.store.close();
    await this.transport.close();
  }

  // ---- requests -------------------------------------------------------------------------

  /** TransactionLayerUser: a new request in its server transaction. */
  receiveRequest(request: SipRequest, tx: ServerTransaction, info: MessageInfo): void {
    this.#handleRequest(request, tx, info).catch((err: unknown) => {
      debug('request handling failed: %s', (err as Error).stack);
      if (!tx.finalResponseSent) this.#respond(tx, request, { status: 500 });
    });
  }

  async #handleRequest(request: SipRequest, tx: ServerTransaction, info: MessageInfo): Promise<void> {
    if (request.method === 'CANCEL') return this.#handleCancel(request, tx);
    const refusal = validateRequest(request, this.self);
    if (refusal !== undefined) return this.#respond(tx, request, refusal);
    // §16.2 / §16.6: a stateful proxy answers an INVITE with 100 Trying at once
    if (request.method === 'INVITE') tx.respond(makeResponse(request, 100));
    if (request.method === 'REGISTER' && this.#isOurs(request)) {
      tx.respond(await this.registrar.handle(request, info.source, this.detector.detect(request, info.source)));
      return;
    }
    if (request.method === 'OPTIONS' && this.#isOurs(request) && request.uri.user === undefined) {
      return this.#respond(tx, request, { status: 200, headers: { Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, MESSAGE, NOTIFY, SUBSCRIBE, REFER, PRACK' } });
    }
    const loopHash = loopBranchHash(request);
    preprocessRoute(request, this.self);
    if (request.to.tag !== undefined) return this.#forwardInDialog(request, tx, info, loopHash);
    return this.#forwardInitial(request, tx, info, loopHash);
  }

  /** A request outside a dialog: lookup, NAT verdict, relay, forward (§16.5, §16.6). */
  async #forwardInitial(request: SipRequest, tx: ServerTransaction, info: MessageInfo, loopHash: string): Promise<void> {
    const targets = await this.#targets(request);
    if (!Array.isArray(targets)) return this.#respond(tx, request, targets);
    const verdict = this.detector.detect(request, info.source);
    // the messaging module reaches a NATed client through its own mapping (fix_nated_contact)
    if (verdict.natted) fixNatedContact(request, info.source);
    if (request.method !== 'INVITE') {
      this.#startContext(tx, request, targets, loopHash);
      return;
    }

    if (this.calls.size >= this.#maxCalls) return this.#respond(tx, request, { status: 503, headers: { 'Retry-After': '5' } });
    const call = new Call({
      callId: request.callId,
      callerTag: request.from.tag ?? '',
      caller: { uri: request.from.uri.toString(), source: info.source, natted: verdict.natted },
      callee: { uri: request.uri.toString(), natted: targets.some((t) => t.natted) },
      verdict,
      now: Date.now(),
    });
    call.relayed = this.#engine.shouldRelay(call.caller.natted, call.callee.natted);
    try {
      await this.#engine.process(call, request, 'INVITE', 'caller');
    } catch (err) {
      if (!(err instanceof RelayError)) throw err;
      // a relay that cannot allocate is a clear answer to the caller, never a hang
      const status = err.status === 481 ? 500 : err.status;
      await this.#engine.release(call);
      this.#report(call, String(status));
      return this.#respond(tx, request, { status, reason: err.message.slice(0, 80), ...(status === 503 ? { headers: { 'Retry-After': '10' } } : {}) });
    }
    this.calls.add(call);
    const ctx = this.#startContext(tx, request, targets, loopHash);
    this.#callOf.set(ctx, { call, sender: 'caller', initial: true });
  }

  /** A request inside a dialog (§16.4 loose routing already applied): BYE, re-INVITE, UPDATE... */
  async #forwardInDialog(request: SipRequest, tx: ServerTransaction, info: MessageInfo, loopHash: string): Promise<void> {
    const call = this.calls.find(request.callId, request.from.tag, request.to.tag);
    const sender = call?.partyOfFromTag(request.from.tag);
    if (call !== undefined && sender !== undefined) {
      const party = call.party(sender);
      party.source ??= info.source;
      if (party.natted) fixNatedContact(request, info.source);
    }
    if (request.route.length === 0 && isLocalUri(request.uri, this.self)) return this.#respond(tx, request, { status: 481 });
    if (call !== undefined && sender !== undefined) {
      if (request.method === 'BYE') this.#endCall(call, 'bye');
      else {
        try {
          await this.#engine.process(call, request, request.method, sender);
        } catch (err) {
          if (!(err instanceof RelayError)) throw err;
          return this.#respond(tx, request, { status: err.status === 481 ? 500 : err.status });
        }
      }
    }
    const target = this.#inDialogTarget(call, sender);
    const ctx = this.#startContext(tx, request, [target], loopHash);
    if (call !== undefined && sender !== undefined && request.method !== 'BYE') this.#callOf.set(ctx, { call, sender, initial: false });
  }

  /** Where an in-dialog request goes: to the other party's public address when it is behind NAT. */
  #inDialogTarget(call: Call | undefined, sender: RelayParty | undefined): ForwardTarget {
    if (call === undefined || sender === undefined) return { natted: false };
    const other = call.party(sender === 'caller' ? 'callee' : 'caller');
    return other.natted && other.source !== undefined ? { natted: true, destination: other.source } : { natted: other.natted };
  }

  #startContext(tx: ServerTransaction, request: SipRequest, targets: ForwardTarget[], loopHash: string): ForwardingContext {
    const ctx = new ForwardingContext(this, tx, request, targets, loopHash);
    this.#contexts.set(tx, ctx);
    this.#live.add(ctx);
    tx.user = {
      onStateChange: (state) => {
        if (state === 'Terminated') {
          this.#live.delete(ctx);
          ctx.dispose();
        }
      },
    };
    ctx.start();
    return ctx;
  }

  /**
   * §16.5: the targets of a request. A Route left after preprocessing means loose routing to it;
   * a Request-URI in a domain this proxy serves is looked up in the location service; anything
   * else is forwarded to its Request-URI.
   */
  async #targets(request: SipRequest): Promise<ForwardTarget[] | Refusal> {
    if (request.route.length > 0) return [{ natted: false }];
    const uri = request.uri;
    if (!uri.isSip) return [{ natted: false }];
    const host = uri.host.toLowerCase();
    const ours = this.self.aliases.has(host) || this.#domains.has(host);
    if (ours || this.#domains.size === 0) {
      const bindings = await this.store.lookup(canonicalAor(uri));
      if (bindings.length > 0) {
        // RFC 3261 §16.6: contacts tried in decreasing q order (sequential forking)
        const sorted = [...bindings].sort((a, b) => (b.q ?? 1) - (a.q ?? 1));
        return sorted.map((b) => this.#bindingTarget(b));
      }
      if (ours) return { status: uri.user === undefined ? 404 : 480, reason: uri.user === undefined ? 'Not Found' : 'Temporarily Unavailable' };
    }
    return [{ natted: false }];
  }

  #bindingTarget(b: Binding): ForwardTarget {
    const target: ForwardTarget = { uri: parseUri(b.contact), natted: b.natted };
    if (b.natted) target.destination = { address: b.source.address, port: b.source.port };
    return target;
  }

  /** True when a REGISTER or OPTIONS is addressed to this proxy or a domain it serves. */
  #isOurs(request: SipRequest): boolean {
    if (request.route.some((r) => !isLocalUri(r.uri, this.self))) return false;
    const host = request.uri.host.toLowerCase();
    return this.#domains.size === 0 || this.#domains.has(host) || this.self.aliases.has(host);
  }

  /** §16.10: CANCEL matching a pending INVITE is answered 200 and cancels its branches. */
  #handleCancel(cancel: SipRequest, tx: ServerTransaction): void {
    const invite = this.layer.findTransactionToCancel(cancel);
    const ctx = invite !== undefined ? this.#contexts.get(invite) : undefined;
    if (invite === undefined) return this.#respond(tx, cancel, { status: 481 });
    tx.respond(makeResponse(cancel, 200));
    if (ctx !== undefined && !ctx.finalSent) ctx.cancel();
  }

  #respond(tx: ServerTransaction, request: SipRequest, r: Refusal): void {
    tx.respond(makeResponse(request, r.status, { ...(r.reason ? { reason: r.reason } : {}), ...(r.headers ? { headers: r.headers } : {}) }));
  }

  // ---- responses ------------------------------------------------------------------------

  /** ForwardingHost: NAT fix and relay SDP for a response before it goes upstream. */
  async prepareResponse(ctx: ForwardingContext, response: SipResponse, target: ForwardTarget): Promise<void> {
    if (target.natted && target.destination !== undefined && response.status < 300) fixNatedContact(response, target.destination);
    const link = this.#callOf.get(ctx);
    if (link === undefined) return;
    const { call, sender, initial } = link;
    const responder: RelayParty = sender === 'caller' ? 'callee' : 'caller';
    if (initial && response.status > 100 && response.status < 300) {
      const tag = response.to.tag;
      if (tag !== undefined && (response.status >= 200 || call.calleeTag === undefined)) call.calleeTag = tag;
      if (target.destination !== undefined) call.callee.source ??= target.destination;
    }
    try {
      await this.#engine.process(call, response, ctx.request.method, responder);
    } catch (err) {
      // the answer could not go through the relay: the call goes on with the callee's own SDP
      debug('relay failed on %d for call %s: %s', response.status, call.callId, (err as Error).message);
    }
  }

  /** ForwardingHost: the final response a context sent upstream. */
  finished(ctx: ForwardingContext, response: SipResponse): void {
    const link = this.#callOf.get(ctx);
    if (link === undefined || !link.initial) return;
    const call = link.call;
    call.status = response.status;
    if (response.status < 300) call.answeredAt = Date.now();
    else this.#endCall(call, String(response.status));
  }

  /** A response no client transaction matched: a 2xx retransmission after the INVITE transaction ended (§16.7). */
  receiveResponse(response: SipResponse): void {
    const top = response.via[0];
    if (top === undefined || top.host !== this.self.host || (top.port ?? 5060) !== this.self.port || response.via.length < 2) return;
    if (response.status < 200 || response.status >= 300 || response.cseq.method !== 'INVITE') return;
    removeTopVia(response);
    const call = this.calls.find(response.callId, response.from.tag, response.to.tag);
    const send = async (): Promise<void> => {
      if (call !== undefined) await this.#engine.process(call, response, 'INVITE', 'callee');
      await this.layer.sendStateless(response);
    };
    send().catch((err: unknown) => debug('stray 2xx not forwarded: %s', (err as Error).message));
  }

  // ---- ACK for 2xx ----------------------------------------------------------------------

  /**
   * The ACK for a 2xx is its own transaction (§17.1.1.1), forwarded statelessly along the route
   * set (§16.11 applies to it as to any stateless forward). It may carry the caller's answer to a
   * late offer.
   */
  receiveAck(ack: SipRequest, info: MessageInfo, _tx?: InviteServerTransaction): void {
    this.#forwardAck(ack, info).catch((err: unknown) => debug('ACK not forwarded: %s', (err as Error).message));
  }

  async #forwardAck(ack: SipRequest, info: MessageInfo): Promise<void> {
    preprocessRoute(ack, this.self);
    if (ack.route.length === 0 && isLocalUri(ack.uri, this.self)) return; // addressed to us
    if (ack.maxForwards === 0) return;
    const call = this.calls.find(ack.callId, ack.from.tag, ack.to.tag);
    const sender = call?.partyOfFromTag(ack.from.tag);
    if (call !== undefined && sender !== undefined) {
      if (call.party(sender).natted) fixNatedContact(ack, info.source);
      await this.#engine.process(call, ack, 'ACK', sender);
    }
    const copy = ack.clone();
    copy.set('Max-Forwards', String(ack.maxForwards === undefined ? 70 : ack.maxForwards - 1));
    // §16.11: a stateless branch must be the same for retransmissions of the same request
    const branch = 'z9hG4bK' + createHash('sha1').update(`${ack.via[0]?.branch ?? ''}|${ack.callId}|${ack.cseq.seq}`).digest('base64url').slice(0, 20);
    copy.prepend('Via', new Via({ host: this.self.host, port: this.self.port, params: { branch, rport: null } }).toString());
    const target = this.#inDialogTarget(call, sender);
    await this.layer.sendStateless(copy, target.destination);
  }

  // ---- calls ----------------------------------------------------------------------------

  #endCall(call: Call, result: string): void {
    if (call.ended) return;
    call.ended = true;
    this.calls.remove(call);
    const packets = call.relayed ? this.relay.mediaCounters?.(call.relayKey) : undefined;
    void this.#engine.release(call);
    this.#report(call, result, packets);
  }

  #report(call: Call, result: string, packets?: MediaCounters): void {
    const record = callRecord(call, result, Date.now(), packets);
    debug('call ended: %o', record);
    this.#onCallEnd?.(record);
  }

  // ---- NAT keepalive --------------------------------------------------------------------

  /** Pings a NATed binding (OPTIONS, or a CRLF for clients that asked for it); true when answered. */
  #ping(binding: Binding): Promise<boolean> {
    const destination = { address: binding.source.address, port: binding.source.port };
    if (binding.keepalive === 'crlf') {
      return this.transport.send(Buffer.from('\r\n\r\n'), destination).then(
        () => true,
        () => false,
      );
    }
    const me = `sip:natter@${formatHost(this.self.host)}:${this.self.port}`;
    const options = new Request({
      method: 'OPTIONS',
      uri: binding.contact,
      headers: {
        Via: new Via({ host: this.self.host, port: this.self.port, params: { branch: generateBranch(), rport: null } }).toString(),
        'Max-Forwards': '70',
        From: `<${me}>;tag=${generateTag()}`,
        To: `<${binding.aor}>`,
        'Call-ID': generateCallId(),
        CSeq: '1 OPTIONS',
      },
    });
    return new Promise((resolve) => {
      try {
        this.layer.sendRequest(options, {
          receiveResponse: (r) => {
            if (r.status >= 200) resolve(true);
          },
          onRequestTimeout: () => resolve(false),
          onTransportError: () => resolve(false),
        }, { destination });
      } catch {
        resolve(false);
      }
    });
  }
}

/** Starts a proxy: `const proxy = await createProxy({ listen: { address: '127.0.0.1', port: 5060 } })`. */
export function createProxy(options: ProxyOptions = {}): Promise<SipProxy> {
  return SipProxy.start(options);
}

