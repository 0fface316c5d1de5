import createDebug from 'debug';
import { isIP } from 'node:net';
import { createHash } from 'node:crypto';
import type { SipRequest, SipResponse } from '../message/message.js';
import { makeResponse, generateCallId, generateTag, generateBranch } from '../message/build.js';
import { removeTopVia } from '../message/edit.js';
import { SipRequest as Request } from '../message/message.js';
import { formatHost, parseUri } from '../message/uri.js';
import { Via } from '../message/via.js';
import { RelayError } from '../errors.js';
import { createUdpTransport, stampVia } from '../transport/udp-transport.js';
import { parse } from '../message/parse.js';
import type { SipMessageAny } from '../message/message.js';
import type { Uri } from '../message/uri.js';
import { DigestAuthenticator } from '../auth/authenticator.js';
import { FloodGuard, countsAsRequest } from '../security/flood-guard.js';
import { scannerMatcher } from '../security/scanners.js';
import { RecentDialogs } from '../security/recent-dialogs.js';
import { createsDialog } from './forward.js';
import type { UdpTransport } from '../transport/udp-transport.js';
import type { Endpoint, MessageInfo } from '../transport/transport.js';
import { TransactionLayer } from '../transaction/transaction-layer.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { InviteServerTransaction } from '../transaction/invite-server.js';
import type { TransactionLayerUser } from '../transaction/transaction-user.js';
import { systemClock } from '../transaction/clock.js';
import type { Clock, TimerHandle } from '../transaction/clock.js';
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
  /** What the proxy refused, dropped and limited since it started (docs/security.md). */
  security: SecurityStats;
}

/** Counters of the proxy's defences, since it started. */
export interface SecurityStats {
  /** 401/407 challenges sent. */
  authChallenges: number;
  /** Requests whose credentials were accepted. */
  authSuccesses: number;
  /** Requests whose credentials were refused (wrong, forged, malformed, replayed). */
  authFailures: number;
  /** Of those, replays (a nonce-count not above the last one). */
  authReplays: number;
  /** 403: relaying for a domain the proxy does not serve, or an identity that is not the authenticated user's. */
  forbidden: number;
  /** Requests dropped silently because their User-Agent is a known scanner's. */
  scannersDropped: number;
  /** Datagrams dropped before parsing because their source is blocked. */
  floodDropped: number;
  /** Times a source was blocked (over the rate, or a scanner). */
  floodBlocks: number;
  /** Sources blocked now. */
  blockedSources: number;
  /** 513: datagrams over maxMessageSize. */
  tooLarge: number;
  /** 503: INVITEs over maxCalls. */
  callLimit: number;
  /** 503: requests over maxTransactions. */
  transactionLimit: number;
  /** 503: REGISTERs over the store's bindings per AOR (or in total). */
  bindingLimit: number;
  /** 503: calls the relay had no ports for. */
  relayLimit: number;
}

/** The counters the proxy keeps itself (the others come from the authenticator, guard and layer). */
interface OwnCounters {
  forbidden: number;
  scannersDropped: number;
  tooLarge: number;
  callLimit: number;
  bindingLimit: number;
  relayLimit: number;
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
  readonly #auth: DigestAuthenticator | undefined;
  /** Requests for any domain are forwarded (no auth, no domains, or openRelay asked for). */
  readonly #openRelay: boolean;
  /** Every domain counts as ours (registrar and location lookups for any host). */
  readonly #serveAny: boolean;
  readonly #guard: FloodGuard | undefined;
  readonly #isScanner: ((userAgent: string | undefined) => boolean) | undefined;
  readonly #maxMessageSize: number;
  readonly #dialogs = new RecentDialogs();
  /** Answered calls whose caller's ACK has been seen, and the timers of those still waiting for it. */
  readonly #acked = new WeakSet<Call>();
  readonly #ackTimers = new Map<Call, TimerHandle>();
  readonly #durationTimers = new Map<Call, TimerHandle>();
  readonly #maxCallDuration: number;
  readonly #counts: OwnCounters = { forbidden: 0, scannersDropped: 0, tooLarge: 0, callLimit: 0, bindingLimit: 0, relayLimit: 0 };
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
      ...(options.maxTransactions !== undefined ? { maxTransactions: options.maxTransactions } : {}),
      ...(options.maxLingeringTransactions !== undefined ? { maxLingering: options.maxLingeringTransactions } : {}),
      onError: (err) => debug('transport error: %s', err.message),
    });
    // between the transport and the transaction layer: scanners are dropped before a
    // transaction exists for them
    transport.setListener({ onMessage: (message, info) => this.#onMessage(message, info), onError: (err) => this.layer.onError(err) });
    const host = transport.sentBy.host;
    const aliases = new Set([host.toLowerCase(), transport.localAddress.toLowerCase()]);
    if (options.advertisedAddress !== undefined) aliases.add(options.advertisedAddress.toLowerCase());
    this.self = { host, port: transport.sentBy.port, aliases };
    this.timerC = options.timerC ?? 180_000;
    this.recordRoute = options.recordRoute ?? true;
    this.#domains = new Set((options.domains ?? []).map((d) => d.toLowerCase()));
    this.#openRelay = options.openRelay ?? (this.#domains.size === 0 && options.auth === undefined);
    this.#serveAny = this.#openRelay && this.#domains.size === 0;
    if (options.auth !== undefined) {
      const realm = options.auth.realm ?? [...this.#domains][0] ?? host;
      this.#auth = new DigestAuthenticator({
        realm,
        credentials: options.auth.credentials,
        ...(options.auth.algorithms ? { algorithms: options.auth.algorithms } : {}),
        ...(options.auth.nonceTtlMs !== undefined ? { nonceTtlMs: options.auth.nonceTtlMs } : {}),
        ...(options.auth.secret ? { secret: options.auth.secret } : {}),
      });
    }
    this.#guard = options.floodGuard === undefined || options.floodGuard === false ? undefined : new FloodGuard({ onBlock: (a, until) => debug('blocking %s until %s', a, new Date(until).toISOString()), ...options.floodGuard });
    const scanners = options.dropScanners;
    this.#isScanner = scanners === undefined || scanners === false ? undefined : scanners === true ? scannerMatcher() : scannerMatcher(scanners);
    this.#maxMessageSize = options.maxMessageSize ?? 32_768;
    this.#maxCalls = options.maxCalls ?? 10_000;
    this.#maxCallDuration = options.maxCallDuration ?? 12 * 3600_000;
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
      if (call !== undefined) this.#endCall(call, event.reason, event.counters);
    });
    const auth = this.#auth;
    this.registrar = new Registrar({
      store: this.store,
      ...(this.#serveAny ? {} : { domains: [...this.#domains, ...this.self.aliases] }),
      detector: this.detector,
      ...(auth !== undefined
        ? {
            // RFC 3261 §10.3 steps 3 and 4: who is registering, and may they change this AOR
            authorize: async (request: SipRequest) => {
              const outcome = await auth.verify(request, 'www');
              if (!outcome.ok) return auth.challengeResponse(request, 'www', outcome);
              if (!sameUser(request.to.uri, outcome.username)) {
                this.#counts.forbidden++;
                return makeResponse(request, 403, { reason: 'Forbidden (To is not the authenticated user)' });
              }
              return undefined;
            },
          }
        : {}),
    });
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
    let proxy: SipProxy | undefined;
    const transport = await createUdpTransport({
      address: listen.address,
      port: listen.port,
      ...(options.dualStack === true ? { dualStack: true } : {}),
      ...(options.advertisedAddress !== undefined ? { advertisedAddress: options.advertisedAddress } : {}),
      filter: (source, datagram) => proxy === undefined || proxy.#filterDatagram(source, datagram),
    });
    proxy = new SipProxy(transport, options);
    return proxy;
  }

  /** The address the proxy listens on. */
  get address(): Endpoint {
    return { address: this.transport.localAddress, port: this.transport.localPort };
  }

  async stats(): Promise<ProxyStats> {
    const bindings = await this.store.all();
    const a = this.#auth?.counters;
    const g = this.#guard;
    const c = this.#counts;
    const security: SecurityStats = {
      authChallenges: a?.challenges ?? 0,
      authSuccesses: a?.successes ?? 0,
      authFailures: a?.failures ?? 0,
      authReplays: a?.replays ?? 0,
      forbidden: c.forbidden,
      scannersDropped: c.scannersDropped,
      floodDropped: g?.counters.dropped ?? 0,
      floodBlocks: g?.counters.blocks ?? 0,
      blockedSources: g?.blockedSources ?? 0,
      tooLarge: c.tooLarge,
      callLimit: c.callLimit,
      transactionLimit: this.layer.counters.refused,
      bindingLimit: c.bindingLimit,
      relayLimit: c.relayLimit,
    };
    return { calls: this.calls.size, transactions: this.layer.size, bindings: bindings.length, security };
  }

  /** The flood guard, when one is configured (to inspect or lift blocks). */
  get floodGuard(): FloodGuard | undefined {
    return this.#guard;
  }

  /** The digest authenticator, when authentication is on. */
  get authenticator(): DigestAuthenticator | undefined {
    return this.#auth;
  }

  /** Ends every call (releasing its relay ports), stops the keepalive and closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#keepalive?.stop();
    this.#dialogs.clear();
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
      const response = await this.registrar.handle(request, info.source, this.detector.detect(request, info.source));
      if (response.status === 503) this.#counts.bindingLimit++;
      tx.respond(response);
      return;
    }
    if (request.method === 'OPTIONS' && this.#isOurs(request) && request.uri.user === undefined) {
      return this.#respond(tx, request, { status: 200, headers: { Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, MESSAGE, NOTIFY, SUBSCRIBE, REFER, PRACK' } });
    }
    const loopHash = loopBranchHash(request);
    preprocessRoute(request, this.self);
    // more Route values naming this proxy (a double Record-Route, or a forged list of them) would
    // only make it send the request to itself, hop after hop: they are all consumed here
    while (request.route[0] !== undefined && isLocalUri(request.route[0].uri, this.self)) request.shift('Route');
    if (request.to.tag !== undefined) {
      if (!this.#openRelay && !this.#inDialogAllowed(request)) return this.#forbid(tx, request, 'Relaying Denied');
      return this.#forwardInDialog(request, tx, info, loopHash);
    }
    if (!(await this.#admit(request, tx))) return;
    if (createsDialog(request)) this.#dialogs.add(request.callId);
    return this.#forwardInitial(request, tx, info, loopHash);
  }

  // ---- who may use the proxy (docs/security.md) -------------------------------------------

  /**
   * Authentication and the no-open-relay rule for a request outside a dialog, after route
   * preprocessing. A request claiming a local user in From must prove it (407, RFC 3261 §22.3);
   * one for a domain the proxy does not serve goes on only from an authenticated local user.
   * Returns false when the request was answered.
   */
  async #admit(request: SipRequest, tx: ServerTransaction): Promise<boolean> {
    const auth = this.#auth;
    let authenticated = false;
    if (auth !== undefined && this.#fromLocalUser(request)) {
      const outcome = await auth.verify(request, 'proxy');
      if (!outcome.ok) {
        tx.respond(auth.challengeResponse(request, 'proxy', outcome));
        return false;
      }
      if (!sameUser(request.from.uri, outcome.username)) {
        this.#forbid(tx, request, 'Forbidden (From is not the authenticated user)');
        return false;
      }
      // §22.3: credentials for this proxy's realm are consumed here, not sent on
      auth.strip(request, 'proxy');
      authenticated = true;
    }
    if (!this.#openRelay && !authenticated && !this.#targetIsOurs(request)) {
      this.#forbid(tx, request, 'Relaying Denied');
      return false;
    }
    return true;
  }

  #forbid(tx: ServerTransaction, request: SipRequest, reason: string): void {
    this.#counts.forbidden++;
    debug('403 %s for %s %s from %s', reason, request.method, request.uri.toString(), request.via[0]?.received ?? request.via[0]?.host ?? '?');
    this.#respond(tx, request, { status: 403, reason });
  }

  /** A host the proxy is responsible for: one of its domains or its own addresses (any, for an open proxy). */
  #servesHost(host: string): boolean {
    if (this.#serveAny) return true;
    const h = host.toLowerCase();
    return this.#domains.has(h) || this.self.aliases.has(h);
  }

  /** From names a user of a domain this proxy serves. */
  #fromLocalUser(request: SipRequest): boolean {
    try {
      const from = request.from.uri;
      return from.isSip && this.#servesHost(from.host);
    } catch {
      return false;
    }
  }

  /** The request goes to a domain this proxy serves: its next Route, else its Request-URI. */
  #targetIsOurs(request: SipRequest): boolean {
    const next = request.route[0];
    const uri = next !== undefined ? next.uri : request.uri;
    return uri.isSip && this.#servesHost(uri.host);
  }

  /** A request inside a dialog (or an ACK for a 2xx) may be forwarded with the relay closed. */
  #inDialogAllowed(request: SipRequest): boolean {
    if (this.calls.find(request.callId, request.from.tag, request.to.tag) !== undefined) return true;
    return this.#dialogs.has(request.callId) || this.#targetIsOurs(request);
  }

  // ---- the socket ---------------------------------------------------------------------

  /** Every datagram, before parsing: flood protection, then the size limit. */
  #filterDatagram(source: Endpoint, datagram: Buffer): boolean {
    const guard = this.#guard;
    if (guard !== undefined && !guard.allow(source.address, countsAsRequest(datagram))) return false;
    if (datagram.length > this.#maxMessageSize) {
      this.#tooLarge(source, datagram);
      return false;
    }
    return true;
  }

  /** RFC 3261 §21.4.14: a request too large to process gets 513 when it can be answered. */
  #tooLarge(source: Endpoint, datagram: Buffer): void {
    this.#counts.tooLarge++;
    if (!countsAsRequest(datagram)) return;
    let request: SipRequest;
    try {
      const message = parse(datagram);
      if (!message.isRequest || message.method === 'ACK') return;
      request = message;
      stampVia(request, source);
    } catch {
      return;
    }
    debug('513 for a %d-byte %s from %s:%d', datagram.length, request.method, source.address, source.port);
    this.layer.sendStateless(makeResponse(request, 513)).catch((err: unknown) => debug('513 not sent: %s', (err as Error).message));
  }

  /** Every message that parsed, before the transaction layer: scanners are dropped here. */
  #onMessage(message: SipMessageAny, info: MessageInfo): void {
    if (this.#closed) return;
    if (message.isRequest && this.#isScanner !== undefined && this.#isScanner(message.get('user-agent'))) {
      this.#counts.scannersDropped++;
      this.#guard?.block(info.source.address);
      return;
    }
    this.layer.onMessage(message, info);
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

    if (this.calls.size >= this.#maxCalls) {
      this.#counts.callLimit++;
      return this.#respond(tx, request, { status: 503, headers: { 'Retry-After': '5' } });
    }
    const call = new Call({
      callId: request.callId,
      callerTag: request.from.tag ?? '',
      caller: { uri: request.from.uri.toString(), source: info.source, natted: verdict.natted, family: addressFamily(info.source.address) },
      callee: { uri: request.uri.toString(), natted: targets.some((t) => t.natted), family: targetFamily(targets[0]!, request) },
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
      if (status === 503) this.#counts.relayLimit++;
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

  /** ForwardingHost: the context is done; the lingering transactions go on without it. */
  released(ctx: ForwardingContext): void {
    this.#live.delete(ctx);
    this.#contexts.delete(ctx.server);
    ctx.server.user = undefined;
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
    if (ours || this.#serveAny) {
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
    return this.#servesHost(request.uri.host);
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
    if (response.status < 300) {
      call.answeredAt = Date.now();
      this.#awaitAck(call);
      if (!call.relayed && this.#maxCallDuration > 0) {
        // a call without a relay has no media timeout: its record is forgotten after this long
        this.#durationTimers.set(call, this.clock.setTimeout(() => this.#endCall(call, 'max-duration'), this.#maxCallDuration));
      }
    } else this.#endCall(call, String(response.status));
  }

  /**
   * RFC 3261 §13.3.1.4: a 2xx that is never acknowledged within 64*T1 means the session failed
   * (the UAS then "SHOULD" end it with a BYE, which a vanished or hostile caller never answers).
   * Record-routed, the proxy sees every ACK; without one by then the call is forgotten and its
   * relay released, so a caller that never ACKs cannot pin a call (and relay ports) for ever.
   */
  #awaitAck(call: Call): void {
    if (!this.recordRoute || this.#acked.has(call) || this.#ackTimers.has(call)) return;
    const timer = this.clock.setTimeout(() => {
      this.#ackTimers.delete(call);
      if (!this.#acked.has(call)) this.#endCall(call, 'no-ack');
    }, this.layer.timers.H);
    this.#ackTimers.set(call, timer);
  }

  /** A response no client transaction matched: a 2xx retransmission after the INVITE transaction ended (§16.7). */
  receiveResponse(response: SipResponse): void {
    const top = response.via[0];
    if (top === undefined || top.host !== this.self.host || (top.port ?? 5060) !== this.self.port || response.via.length < 2) return;
    if (response.status < 200 || response.status >= 300 || response.cseq.method !== 'INVITE') return;
    removeTopVia(response);
    const call = this.calls.find(response.callId, response.from.tag, response.to.tag);
    // as prepareResponse does for the first 2xx from a callee behind NAT
    if (call?.callee.natted && call.callee.source !== undefined) fixNatedContact(response, call.callee.source);
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
    while (ack.route[0] !== undefined && isLocalUri(ack.route[0].uri, this.self)) ack.shift('Route');
    if (ack.route.length === 0 && isLocalUri(ack.uri, this.self)) return; // addressed to us
    if (ack.maxForwards === 0) return;
    if (!this.#openRelay && !this.#inDialogAllowed(ack)) {
      this.#counts.forbidden++;
      return;
    }
    const call = this.calls.find(ack.callId, ack.from.tag, ack.to.tag);
    const sender = call?.partyOfFromTag(ack.from.tag);
    if (call !== undefined && sender !== undefined) {
      if (sender === 'caller') this.#acked.add(call);
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

  #endCall(call: Call, result: string, counters?: MediaCounters): void {
    if (call.ended) return;
    call.ended = true;
    this.calls.remove(call);
    for (const timers of [this.#ackTimers, this.#durationTimers]) {
      const timer = timers.get(call);
      if (timer !== undefined) {
        this.clock.clearTimeout(timer);
        timers.delete(call);
      }
    }
    const packets = call.relayed ? (counters ?? this.relay.mediaCounters?.(call.relayKey)) : undefined;
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

/** Whether a URI's user part is `username` (RFC 3261 §19.1.4: user parts compare case-sensitively). */
function sameUser(uri: Uri, username: string): boolean {
  return uri.isSip && uri.user !== undefined && decodeURIComponentSafe(uri.user) === username;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Starts a proxy: `const proxy = await createProxy({ listen: { address: '127.0.0.1', port: 5060 } })`. */
export function createProxy(options: ProxyOptions = {}): Promise<SipProxy> {
  return SipProxy.start(options);
}

/** The SDP address type of an IP literal, undefined for a name. */
function addressFamily(address: string): 'IP4' | 'IP6' | undefined {
  const f = isIP(address);
  return f === 4 ? 'IP4' : f === 6 ? 'IP6' : undefined;
}

/** The family the callee will be reached in: its binding's source, else its URI's host. */
function targetFamily(target: ForwardTarget, request: SipRequest): 'IP4' | 'IP6' | undefined {
  if (target.destination !== undefined) return addressFamily(target.destination.address);
  return addressFamily((target.uri ?? request.uri).host);
}
