import createDebug from 'debug';
import type { SipRequest } from '../message/message.js';
import { InvalidArgumentError } from '../errors.js';
import type { NatSource, NatTest, NatTestOptions, NatTestResult } from './nat-test.js';
import { NatFlag } from './nat-test.js';
import { canonicalIp, isIpLiteral } from './private-address.js';
import { defaultPort } from './result.js';
import { topVia, viaPort, viaPrivate, viaSentBy } from './via-tests.js';
import { contactPortDiffers, contactPrivate, contactSource, contactUris } from './contact-tests.js';
import { sdpPrivate, sdpSource } from './sdp-tests.js';
import { sourcePrivate, websocket } from './source-tests.js';

const debug = createDebug('natter:nat');

/** An address and port. */
export interface NatEndpoint {
  address: string;
  port: number;
}

/**
 * What the comparison engine concluded about one request.
 *
 * - `natted`: at least one selected test fired.
 * - `fired`: the tests that fired, each with the two things it compared.
 * - `results`: every selected test that had something to compare, fired or not.
 * - `publicAddress`: the packet's source (canonical form) and transport: where responses and
 *   requests to this client must go (RFC 3581), and the address a relay should expect media from.
 * - `privateAddress`: when NATed, the address the client named for itself: its top Via sent-by,
 *   or else its first Contact with an IP host.
 */
export interface NatVerdict {
  natted: boolean;
  fired: NatTestResult[];
  results: NatTestResult[];
  publicAddress: NatEndpoint & { transport: string };
  privateAddress?: NatEndpoint;
}

/** The comparison engine of claims 1 and 7. Replace it whole by passing any object of this shape. */
export interface NatDetector {
  detect(request: SipRequest, source: NatSource): NatVerdict;
}

/** Every built-in test, in Kamailio flag order, then `contact-source` (which has no flag). */
export const BUILTIN_NAT_TESTS: readonly NatTest[] = Object.freeze([
  contactPrivate,
  viaSentBy,
  viaPrivate,
  sdpPrivate,
  viaPort,
  sourcePrivate,
  websocket,
  contactPortDiffers,
  sdpSource,
  contactSource,
]);

/**
 * The default selection, 18 = `via-sent-by` (2) + `via-port` (16): the claim's comparison of the
 * source address with the address the INVITE names, plus the same comparison of ports. Unlike
 * Kamailio's common `nat_uac_test("19")` it leaves out `contact-private`, which fires for every
 * phone on the proxy's own LAN.
 */
export const DEFAULT_NAT_TESTS = NatFlag.VIA_RECEIVED | NatFlag.VIA_PORT;

const ALL_FLAGS = BUILTIN_NAT_TESTS.reduce((m, t) => m | (t.flag ?? 0), 0);

/** The built-in tests a Kamailio-style bitmask selects (`19` → contact-private, via-sent-by, via-port). */
export function natTestsFromMask(mask: number): NatTest[] {
  if (!Number.isInteger(mask) || mask < 0 || (mask & ~ALL_FLAGS) !== 0) {
    throw new InvalidArgumentError(`NAT test mask ${mask} has bits no test uses (known: ${ALL_FLAGS})`);
  }
  return BUILTIN_NAT_TESTS.filter((t) => t.flag !== undefined && (mask & t.flag) !== 0);
}

/** The Kamailio-style bitmask of a list of tests (tests without a flag add nothing). */
export function natMask(tests: ReadonlyArray<NatTest | string>): number {
  let mask = 0;
  for (const t of tests) mask |= (typeof t === 'string' ? builtinTest(t) : t).flag ?? 0;
  return mask;
}

/** A built-in test by name; throws InvalidArgumentError for an unknown name. */
export function builtinTest(name: string): NatTest {
  const t = BUILTIN_NAT_TESTS.find((b) => b.name === name);
  if (t === undefined) {
    throw new InvalidArgumentError(`unknown NAT test ${name} (known: ${BUILTIN_NAT_TESTS.map((b) => b.name).join(', ')})`);
  }
  return t;
}

/** Which tests count: a Kamailio bitmask, or a list of built-in names, bitmasks and custom tests. */
export type NatTestSelection = number | ReadonlyArray<string | number | NatTest>;

export interface NatDetectorOptions extends NatTestOptions {
  /** The tests that count (default DEFAULT_NAT_TESTS, 18). */
  tests?: NatTestSelection;
  /** Custom tests run in addition to `tests`. */
  customTests?: ReadonlyArray<NatTest>;
}

/** Resolves a selection to a list of tests, without duplicates (a later test of the same name wins). */
export function resolveNatTests(selection: NatTestSelection, extra: ReadonlyArray<NatTest> = []): NatTest[] {
  const items = typeof selection === 'number' ? [selection] : selection;
  const byName = new Map<string, NatTest>();
  for (const item of [...items, ...extra]) {
    const tests = typeof item === 'number' ? natTestsFromMask(item) : typeof item === 'string' ? [builtinTest(item)] : [item];
    for (const t of tests) {
      if (typeof t.name !== 'string' || t.name.length === 0 || typeof t.run !== 'function') {
        throw new InvalidArgumentError('a NAT test needs a name and a run(request, source) function');
      }
      byName.set(t.name, t);
    }
  }
  return [...byName.values()];
}

/**
 * The default comparison engine: runs every selected test (not only until the first that fires, as
 * Kamailio's nat_uac_test does) and says which fired and what each compared.
 */
export class DefaultNatDetector implements NatDetector {
  readonly tests: readonly NatTest[];
  readonly #options: NatTestOptions;

  constructor(options: NatDetectorOptions = {}) {
    this.tests = Object.freeze(resolveNatTests(options.tests ?? DEFAULT_NAT_TESTS, options.customTests));
    this.#options = { nameDiffers: options.nameDiffers ?? false };
  }

  /** The Kamailio bitmask of the selected built-in tests. */
  get mask(): number {
    return natMask(this.tests);
  }

  detect(request: SipRequest, source: NatSource): NatVerdict {
    const results: NatTestResult[] = [];
    for (const test of this.tests) {
      const r = test.run(request, source, this.#options);
      if (r !== undefined) results.push(r);
    }
    const fired = results.filter((r) => r.fired);
    const verdict: NatVerdict = {
      natted: fired.length > 0,
      fired,
      results,
      publicAddress: { address: canonicalIp(source.address), port: source.port, transport: (source.transport ?? 'udp').toLowerCase() },
    };
    if (verdict.natted) {
      const claimed = claimedAddress(request);
      if (claimed !== undefined) verdict.privateAddress = claimed;
      debug('NAT: %s from %s:%d (%s)', request.method, verdict.publicAddress.address, source.port, fired.map((f) => `${f.test}: ${f.expected} vs ${f.actual}`).join('; '));
    }
    return verdict;
  }
}

/** The address a client named for itself: top Via sent-by, else the first Contact with an IP host. */
function claimedAddress(request: SipRequest): NatEndpoint | undefined {
  const via = topVia(request);
  if (via !== undefined && isIpLiteral(via.host)) return { address: canonicalIp(via.host), port: via.port ?? defaultPort(via.transport) };
  const uri = contactUris(request).find((u) => isIpLiteral(u.host));
  if (uri !== undefined) return { address: canonicalIp(uri.host), port: uri.port ?? defaultPort(uri.transport, uri.scheme === 'sips') };
  return undefined;
}
