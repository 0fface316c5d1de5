import createDebug from 'debug';
import { InvalidArgumentError } from '../errors.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { NameAddr } from '../message/name-addr.js';
import type { Params } from '../message/types.js';
import { makeResponse } from '../message/build.js';
import { type Uri, parseUri } from '../message/uri.js';
import { unquote } from '../message/params.js';
import { detached } from '../message/detach.js';
import type { NatDetector, NatVerdict } from '../nat/detector.js';
import { DefaultNatDetector } from '../nat/detector.js';
import type { NatSource } from '../nat/nat-test.js';
import { canonicalIp } from '../nat/private-address.js';
import { type Binding, type BindingSource, canonicalAor, receivedUri, remainingSeconds, sameBinding } from './binding.js';
import { LocationFullError, type LocationStore } from './location-store.js';

const debug = createDebug('natter:registrar');

/**
 * The tests the registrar's own detector runs when it is given no verdict: the claim's comparison
 * (`via-sent-by`, `via-port`) plus `contact-source` and `contact-port`, which ask exactly what a
 * registrar needs to know: can the client be reached at the Contact it registers?
 */
export const REGISTRAR_NAT_TESTS: readonly string[] = Object.freeze(['via-sent-by', 'via-port', 'contact-source', 'contact-port']);

export interface RegistrarOptions {
  /** Where bindings live. */
  store: LocationStore;
  /** Domains this registrar is responsible for (lower-case host names or IPs); empty or absent: any. */
  domains?: ReadonlyArray<string>;
  /** Expiration for a contact that asks for none, in seconds (default 3600, RFC 3261 §10.2.1.1). */
  defaultExpires?: number;
  /** Shortest interval accepted; shorter requests get 423 with Min-Expires (default 60). */
  minExpires?: number;
  /** Longest interval granted; longer requests are shortened (default 86400). */
  maxExpires?: number;
  /**
   * Decides whether a client is behind NAT when `handle` is given no verdict. Default: a
   * DefaultNatDetector running REGISTRAR_NAT_TESTS. `false`: no detection, no binding is NATed.
   */
  detector?: NatDetector | false;
  /** How NATed bindings are to be kept alive (default 'options'); `false` marks none. */
  natKeepalive?: 'options' | 'crlf' | false;
  /** Option tags this registrar supports; any other tag in Require gets 420 (§8.2.2.3). Default none. */
  supported?: ReadonlyArray<string>;
  /** Whether an AOR exists in a served domain (§10.3 step 5); false gives 404. Default: every AOR. */
  isValidAor?: (aor: string) => boolean | Promise<boolean>;
  /**
   * §10.3 steps 3 and 4, authentication and authorization: return a response (401, 403) to send
   * instead of processing the request, or undefined to go on. Default: everyone may register.
   */
  authorize?: (request: SipRequest, aor: string) => SipResponse | undefined | Promise<SipResponse | undefined>;
  /** Time source, ms since the epoch (default Date.now). Use the store's clock. */
  clock?: { now(): number };
}

/** The largest delta-seconds value (RFC 3261 §25.1 allows any, §20.19 suggests 2**32-1 as the cap). */
const MAX_DELTA = 4294967295;

/**
 * RFC 3261 §20.19 / §20.10: "Malformed values SHOULD be treated as equivalent to 3600." Returns
 * undefined when absent.
 */
function deltaSeconds(v: string | null | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v === null) return 3600;
  const t = v.trim();
  if (!/^\d+$/.test(t)) return 3600;
  return Math.min(Number(t), MAX_DELTA);
}

/** A qvalue (§25.1: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]), or undefined when absent or malformed. */
function qValue(v: string | null | undefined): number | undefined {
  if (typeof v !== 'string' || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

function nonNegativeInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got ${v}`);
  return v;
}

/** One change §10.3 step 7 decided on, applied only once every contact has been checked. */
type Change = { kind: 'save'; binding: Binding } | { kind: 'remove'; contact: string };

/**
 * An RFC 3261 §10.3 registrar: `handle()` takes a REGISTER and the address its packets came from,
 * updates the location store and returns the response to send. It does no I/O of its own, so the
 * proxy (or a test) decides how the response travels.
 */
export class Registrar {
  readonly store: LocationStore;
  readonly #domains: ReadonlySet<string>;
  readonly #defaultExpires: number;
  readonly #minExpires: number;
  readonly #maxExpires: number;
  readonly #detector: NatDetector | undefined;
  readonly #keepalive: 'options' | 'crlf' | undefined;
  readonly #supported: ReadonlySet<string>;
  readonly #isValidAor: ((aor: string) => boolean | Promise<boolean>) | undefined;
  readonly #authorize: RegistrarOptions['authorize'];
  readonly #clock: { now(): number };
  /** REGISTERs for one AOR are processed one at a time (a per-AOR queue). */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: RegistrarOptions) {
    this.store = options.store;
    this.#domains = new Set((options.domains ?? []).map((d) => canonicalIp(d)));
    this.#defaultExpires = nonNegativeInteger('defaultExpires', options.defaultExpires ?? 3600);
    this.#minExpires = nonNegativeInteger('minExpires', options.minExpires ?? 60);
    this.#maxExpires = nonNegativeInteger('maxExpires', options.maxExpires ?? 86400);
    if (this.#maxExpires < this.#minExpires) throw new InvalidArgumentError('maxExpires is below minExpires');
    this.#detector = options.detector === false ? undefined : (options.detector ?? new DefaultNatDetector({ tests: REGISTRAR_NAT_TESTS }));
    this.#keepalive = options.natKeepalive === false ? undefined : (options.natKeepalive ?? 'options');
    this.#supported = new Set((options.supported ?? []).map((t) => t.toLowerCase()));
    this.#isValidAor = options.isValidAor;
    this.#authorize = options.authorize;
    this.#clock = options.clock ?? { now: () => Date.now() };
  }

  /**
   * Processes a REGISTER (RFC 3261 §10.3) received from `source`. `verdict` is the NAT detector's
   * verdict when the caller already has one; otherwise the registrar's detector runs.
   */
  async handle(request: SipRequest, source: NatSource, verdict?: NatVerdict): Promise<SipResponse> {
    if (request.method !== 'REGISTER') return makeResponse(request, 405, { headers: { Allow: 'REGISTER' } });

    // Step 1: "The registrar inspects the Request-URI to determine whether it has access to
    // bindings for the domain identified in the Request-URI."
    const ruri = request.uri;
    if (!ruri.isSip) return makeResponse(request, 416);
    if (!this.#serves(ruri.host)) return makeResponse(request, 404, { reason: 'Domain Not Served' });

    // Step 2: "the registrar MUST process the Require header field values as described for UASs
    // in Section 8.2.2."
    const unsupported = request.getAll('require').filter((t) => !this.#supported.has(t.trim().toLowerCase()));
    if (unsupported.length > 0) return makeResponse(request, 420, { headers: { Unsupported: unsupported.join(', ') } });

    let to: Uri;
    try {
      to = request.to.uri;
    } catch {
      return makeResponse(request, 400, { reason: 'Bad To' });
    }
    const aor = canonicalAor(to);

    // Steps 3 and 4: authentication and authorization, left to the operator's hook.
    if (this.#authorize !== undefined) {
      const refusal = await this.#authorize(request, aor);
      if (refusal !== undefined) return refusal;
    }

    // Step 5: "If the address-of-record is not valid for the domain in the Request-URI, the
    // registrar MUST send a 404 (Not Found) response". The AOR "MUST be a SIP URI or SIPS URI"
    // (§10.2), so a tel: or other To is not valid for any domain.
    if (!to.isSip) return makeResponse(request, 404, { reason: 'Not Found (AOR must be a SIP or SIPS URI)' });
    if (!this.#serves(to.host)) return makeResponse(request, 404, { reason: 'Not Found (domain not served)' });
    if (this.#isValidAor !== undefined && !(await this.#isValidAor(aor))) return makeResponse(request, 404);

    let contacts: NameAddr[];
    try {
      contacts = request.contact;
    } catch {
      return makeResponse(request, 400, { reason: 'Bad Contact' });
    }
    try {
      void request.callId;
      void request.cseq;
    } catch {
      return makeResponse(request, 400, { reason: 'Bad Call-ID or CSeq' });
    }
    return this.#serialized(aor, () => this.#update(request, source, verdict, aor, contacts));
  }

  #serves(host: string): boolean {
    return this.#domains.size === 0 || this.#domains.has(canonicalIp(host));
  }

  async #serialized<T>(aor: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(aor) ?? Promise.resolve();
    const run = previous.then(work, work);
    const settled = run.catch(() => undefined);
    this.#queues.set(aor, settled);
    void settled.then(() => {
      if (this.#queues.get(aor) === settled) this.#queues.delete(aor);
    });
    return run;
  }

  async #update(request: SipRequest, source: NatSource, verdict: NatVerdict | undefined, aor: string, contacts: NameAddr[]): Promise<SipResponse> {
    const now = this.#clock.now();
    const callId = request.callId;
    const cseq = request.cseq.seq;
    const headerExpires = deltaSeconds(request.get('expires'));
    try {
      const current = await this.store.lookup(aor);

      // Step 6: Contact "*".
      if (contacts.some((c) => c.wildcard)) {
        // "If the request has additional Contact fields or an expiration time other than zero, the
        // request is invalid, and the server MUST return a 400 (Invalid Request)"
        if (contacts.length !== 1 || headerExpires !== 0) {
          return makeResponse(request, 400, { reason: 'Invalid Request (Contact: * needs Expires: 0 and no other Contact)' });
        }
        // "If it does agree, it MUST remove the binding only if the CSeq in the request is higher
        // than the value stored for that binding. Otherwise, the update MUST be aborted and the
        // request fails."
        if (current.some((b) => b.callId === callId && cseq <= b.cseq)) return this.#outOfOrder(request, aor);
        const n = await this.store.removeAll(aor);
        debug('%s: Contact * removed %d bindings', aor, n);
        return this.#ok(request, aor);
      }

      // No Contact: a query; step 8 answers with the current bindings.
      if (contacts.length === 0) return this.#ok(request, aor, current);

      // Step 7, expiration: "If and only if the requested expiration interval is greater than zero
      // AND smaller than one hour AND less than a registrar-configured minimum, the registrar MAY
      // reject the registration with a response of 423 (Interval Too Brief)."
      const requested = contacts.map((c) => deltaSeconds(c.params['expires']) ?? headerExpires ?? this.#defaultExpires);
      if (requested.some((e) => e > 0 && e < 3600 && e < this.#minExpires)) {
        return makeResponse(request, 423, { headers: { 'Min-Expires': String(this.#minExpires) } });
      }

      const natted = verdict?.natted ?? this.#detector?.detect(request, source).natted ?? false;
      const from: BindingSource = { address: canonicalIp(source.address), port: source.port, transport: (source.transport ?? 'udp').toLowerCase() };
      const working = current.slice();
      const changes: Change[] = [];
      for (let i = 0; i < contacts.length; i++) {
        const c = contacts[i]!;
        const expires = Math.min(requested[i]!, this.#maxExpires);
        const draft = this.#binding(c, aor, callId, cseq, now + expires * 1000, from, natted);
        const at = working.findIndex((b) => sameBinding(b, draft));
        const existing = at === -1 ? undefined : working[at]!;
        // "If the binding does exist, the registrar checks the Call-ID value. If the Call-ID value in
        // the existing binding differs from the Call-ID value in the request, the binding MUST be
        // removed if the expiration time is zero and updated otherwise. If they are the same, the
        // registrar compares the CSeq value. If the value is higher than that of the existing
        // binding, it MUST update or remove the binding as above. If not, the update MUST be
        // aborted and the request fails."
        if (existing !== undefined && existing.callId === callId && cseq <= existing.cseq && !changes.some((ch) => ch.kind === 'save' && ch.binding === existing)) {
          return this.#outOfOrder(request, aor);
        }
        if (expires === 0) {
          if (existing !== undefined) {
            working.splice(at, 1);
            changes.push({ kind: 'remove', contact: existing.contact });
          }
          continue;
        }
        if (existing !== undefined) working[at] = draft;
        else working.push(draft);
        changes.push({ kind: 'save', binding: draft });
      }

      const limit = this.store.limits?.maxPerAor;
      if (limit !== undefined && working.length > limit && working.length > current.length) {
        return makeResponse(request, 503, { reason: 'Too Many Registered Contacts' });
      }
      for (const ch of changes) {
        if (ch.kind === 'remove') await this.store.remove(aor, ch.contact);
        else await this.store.save(ch.binding);
      }
      debug('%s: %d change(s) from %s:%d%s', aor, changes.length, from.address, from.port, natted ? ' (NAT)' : '');
      return this.#ok(request, aor);
    } catch (e) {
      if (e instanceof LocationFullError) return makeResponse(request, 503, { reason: 'Too Many Registered Contacts' });
      debug('%s: store failure: %s', aor, (e as Error).message);
      return makeResponse(request, 500);
    }
  }

  #binding(c: NameAddr, aor: string, callId: string, cseq: number, expiresAt: number, from: BindingSource, natted: boolean): Binding {
    // a binding is kept for hours: its strings are copies, not slices of the REGISTER's text
    const params: Params = {};
    for (const [k, v] of Object.entries(c.params)) if (k !== 'expires' && k !== 'q') params[detached(k)] = typeof v === 'string' ? detached(v) : v;
    const b: Binding = {
      aor: detached(aor),
      contact: detached(c.uri.toString()),
      expiresAt,
      callId: detached(callId),
      cseq,
      source: { ...from },
      natted: natted && c.uri.isSip,
    };
    if (Object.keys(params).length > 0) b.params = params;
    const q = qValue(c.params['q']);
    if (q !== undefined) b.q = q;
    const instance = c.params['+sip.instance'];
    if (typeof instance === 'string') b.instance = detached(unquote(instance));
    const regId = c.params['reg-id'];
    if (typeof regId === 'string' && /^\d+$/.test(regId)) b.regId = Number(regId);
    if (b.natted) {
      // Kamailio fix_nated_register(): remember the public source so requests reach the client.
      b.received = receivedUri(from);
      // A client that registers with RFC 5626 outbound (reg-id) keeps its own flow alive and
      // expects only a light ping back: it gets CRLF keepalives instead of OPTIONS requests.
      if (this.#keepalive !== undefined) b.keepalive = b.regId !== undefined && b.instance !== undefined ? 'crlf' : this.#keepalive;
    }
    return b;
  }

  #outOfOrder(request: SipRequest, aor: string): SipResponse {
    debug('%s: CSeq %d not above the stored one for Call-ID %s; update aborted', aor, request.cseq.seq, request.callId);
    return makeResponse(request, 400, { reason: 'Invalid CSeq (not higher than the binding\'s)' });
  }

  /**
   * Step 8: "The registrar returns a 200 (OK) response. The response MUST contain Contact header
   * field values enumerating all current bindings. Each Contact value MUST feature an 'expires'
   * parameter indicating its expiration interval chosen by the registrar. The response SHOULD
   * include a Date header field."
   */
  async #ok(request: SipRequest, aor: string, known?: Binding[]): Promise<SipResponse> {
    const now = this.#clock.now();
    const bindings = known ?? (await this.store.lookup(aor));
    const res = makeResponse(request, 200);
    for (const b of bindings) res.append('Contact', formatBindingContact(b, now));
    res.append('Date', new Date(now).toUTCString());
    return res;
  }
}

/** A binding as a 200 OK Contact value: `<uri>;expires=N[;q=..]` plus its other parameters. */
export function formatBindingContact(b: Binding, now: number): string {
  const params: Params = { ...(b.params ?? {}), expires: String(remainingSeconds(b, now)) };
  if (b.q !== undefined) params['q'] = String(b.q);
  try {
    return new NameAddr(parseUri(b.contact), { params }).toString();
  } catch {
    return `<${b.contact}>;expires=${params['expires']}`;
  }
}
