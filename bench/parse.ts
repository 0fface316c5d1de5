/**
 * Parser benchmark: natter against the npm `sip` package and SIP.js, same corpus, same process.
 *
 *   npm run bench:parse
 *
 * Three figures per parser, in messages per second over the whole corpus (round-robin), after a
 * warm-up, as the median of several rounds: (1) parse; (2) parse and read what a proxy reads (top
 * Via branch, Call-ID, CSeq number and method, From tag, To tag, first Contact URI); (3) parse and
 * serialize the message unchanged. A fourth, (4) parse, prepend a Via (what a proxy does to every
 * request it forwards) and serialize, is printed too, because a serializer that hands back the
 * input buffer when nothing changed makes (3) cheap. Every parser's answers are checked against
 * bench/corpus/expected.json before anything is timed; a parser that gets them wrong is not timed.
 *
 * It runs in plain node: started with tsx, it compiles itself and runs the output (support/plain-node.ts).
 *
 * Environment: BENCH_ROUNDS (default 7), BENCH_ROUND_MS (default 150), BENCH_WARMUP_MS (default 300),
 * BENCH_DETACHED=1 (see detachOneArrayBuffer).
 * See bench/README.md.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, buildNatter } from './support/harness.js';
import { relaunchInPlainNode } from './support/plain-node.js';

// timed in plain node, as natter runs, not under tsx (see support/plain-node.ts)
const relaunched = relaunchInPlainNode(import.meta.url);
if (relaunched !== undefined) process.exit(relaunched);

// ---------------------------------------------------------------------------------------------
// corpus

const corpusDir = join(BENCH_DIR, 'corpus');

interface Expected {
  branch: string;
  callId: string;
  seq: number;
  method: string;
  fromTag: string | null;
  toTag: string | null;
  contact: string | null;
}

interface CorpusEntry {
  file: string;
  buf: Buffer;
  /** latin1 decoding of buf: one char per byte, what the string-input parsers are given */
  str: string;
  body: Buffer;
  expected: Expected;
}

function loadCorpus(): CorpusEntry[] {
  const expected = JSON.parse(readFileSync(join(corpusDir, 'expected.json'), 'latin1')) as Record<string, Expected>;
  const files = readdirSync(corpusDir)
    .filter((f) => f.endsWith('.sip'))
    .sort();
  const out: CorpusEntry[] = [];
  for (const file of files) {
    const buf = readFileSync(join(corpusDir, file));
    // the corpus must be byte-exact: CRLF everywhere, Content-Length equal to the body
    const headEnd = buf.indexOf('\r\n\r\n');
    if (headEnd === -1) throw new Error(`corpus ${file}: no CRLF CRLF (line ends converted?)`);
    const head = buf.toString('latin1', 0, headEnd);
    if (/(^|[^\r])\n/.test(head)) throw new Error(`corpus ${file}: bare LF in header section`);
    const cl = /\r\nContent-Length:\s*(\d+)/i.exec(head);
    const body = buf.subarray(headEnd + 4);
    if (cl === null || Number(cl[1]) !== body.length) {
      throw new Error(`corpus ${file}: Content-Length ${cl?.[1]} but body is ${body.length} bytes`);
    }
    const exp = expected[file];
    if (exp === undefined) throw new Error(`corpus ${file}: no entry in expected.json`);
    out.push({ file, buf, str: buf.toString('latin1'), body, expected: exp });
  }
  if (out.length === 0) throw new Error('empty corpus');
  return out;
}

const corpus = loadCorpus();
const N = corpus.length;
const buffers = corpus.map((c) => c.buf);
const strings = corpus.map((c) => c.str); // decoded once, here, outside every timed loop

// ---------------------------------------------------------------------------------------------
// sinks: results are stored or summed here so that no loop body is dead code

let sink: unknown;
let acc = 0;

/** The Via a forwarding proxy adds, for figure (4). */
const PROXY_HOST = '203.0.113.5';
const PROXY_BRANCH = 'z9hG4bKnatterbench0c0ffee';
const PROXY_VIA = `SIP/2.0/UDP ${PROXY_HOST}:5060;branch=${PROXY_BRANCH};rport`;

// ---------------------------------------------------------------------------------------------
// the parsers under test. Each one gets its own loop functions (separate function literals, so
// that V8's inline caches in one parser's loop are not polluted by another parser's objects).

type Loop = (n: number) => void;

interface Got {
  branch: unknown;
  callId: unknown;
  seq: unknown;
  method: unknown;
  fromTag: unknown;
  toTag: unknown;
  contact: unknown;
}

interface Subject {
  name: string;
  /** what the parser is given and what its serializer returns */
  io: string;
  parse: Loop;
  fields: Loop;
  serialize: Loop | null;
  edit: Loop | null;
  /** footnote for the serialize figure, when it is not a real re-serialization */
  serializeNote?: string;
  /** correctness: returns a list of faults per figure */
  check(): { fields: string[]; serialize: string[]; edit: string[] };
}

const notAvailable: string[] = [];
/** set when natter's serialize() hands back the very Buffer it parsed (message unchanged) */
let natterReturnsInput = false;

function compareFields(who: string, file: string, exp: Expected, got: Got, faults: string[]): void {
  const want: Record<keyof Got, unknown> = {
    branch: exp.branch,
    callId: exp.callId,
    seq: exp.seq,
    method: exp.method,
    fromTag: exp.fromTag ?? undefined,
    toTag: exp.toTag ?? undefined,
    contact: exp.contact ?? undefined,
  };
  for (const k of Object.keys(want) as (keyof Got)[]) {
    const g = got[k] === null ? undefined : got[k];
    if (g !== want[k]) faults.push(`${who} ${file}: ${k} = ${JSON.stringify(g)}, expected ${JSON.stringify(want[k])}`);
  }
}

function attempt<T>(faults: string[], what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    faults.push(`${what}: threw ${(e as Error)?.message ?? String(e)}`);
    return undefined;
  }
}

// --- natter ----------------------------------------------------------------------------------

async function natterSubject(): Promise<Subject | null> {
  let lib: typeof import('../lib/index.js');
  try {
    // the compiled package, as users run it (tsc output, plain node); the TypeScript sources
    // run through tsx's loader measure 12-17% slower, which is the loader's cost, not natter's
    lib = (await import(pathToFileURL(join(buildNatter(), 'index.js')).href)) as typeof import('../lib/index.js');
    if (typeof lib.parse !== 'function' || typeof lib.serialize !== 'function') throw new Error('parse/serialize not exported');
  } catch (e) {
    notAvailable.push(`natter: not available (${(e as Error)?.message ?? String(e)})`);
    return null;
  }
  const { parse, serialize } = lib;
  try {
    const b = corpus[0]!.buf;
    natterReturnsInput = serialize(parse(b)) === b;
  } catch {
    // check() reports it
  }
  type Msg = ReturnType<typeof parse>;

  const parseLoop: Loop = (n) => {
    const inp = buffers;
    let j = 0;
    for (let i = 0; i < n; i++) {
      sink = parse(inp[j]!);
      if (++j === N) j = 0;
    }
  };
  const fieldsLoop: Loop = (n) => {
    const inp = buffers;
    let j = 0;
    let a = 0;
    for (let i = 0; i < n; i++) {
      const m = parse(inp[j]!);
      const cseq = m.cseq;
      a += (m.via[0]!.branch?.length ?? 0) + m.callId.length + cseq.seq + cseq.method.length;
      a += (m.from.tag?.length ?? 0) + (m.to.tag?.length ?? 0);
      sink = m.contact[0]?.uri;
      if (++j === N) j = 0;
    }
    acc += a;
  };
  const serializeLoop: Loop = (n) => {
    const inp = buffers;
    let j = 0;
    for (let i = 0; i < n; i++) {
      sink = serialize(parse(inp[j]!));
      if (++j === N) j = 0;
    }
  };
  const editLoop: Loop = (n) => {
    const inp = buffers;
    let j = 0;
    for (let i = 0; i < n; i++) {
      const m = parse(inp[j]!);
      m.prepend('Via', PROXY_VIA);
      sink = serialize(m);
      if (++j === N) j = 0;
    }
  };
  const got = (m: Msg): Got => ({
    branch: m.via[0]?.branch,
    callId: m.callId,
    seq: m.cseq.seq,
    method: m.cseq.method,
    fromTag: m.from.tag,
    toTag: m.to.tag,
    contact: m.contact[0]?.uri.toString(),
  });
  return {
    name: 'natter',
    io: 'Buffer in, Buffer out; the compiled package (tsc output in .tmp/bench-dist, or BENCH_NATTER_DIST)',
    parse: parseLoop,
    fields: fieldsLoop,
    serialize: serializeLoop,
    edit: editLoop,
    check() {
      const f: string[] = [];
      const s: string[] = [];
      const e: string[] = [];
      for (const c of corpus) {
        const m = attempt(f, `natter ${c.file}: parse`, () => parse(c.buf));
        if (m === undefined) continue;
        attempt(f, `natter ${c.file}: fields`, () => compareFields('natter', c.file, c.expected, got(m), f));
        if (!m.body.equals(c.body)) f.push(`natter ${c.file}: body differs`);
        attempt(s, `natter ${c.file}: serialize`, () => {
          const out = serialize(parse(c.buf));
          const again = parse(out);
          compareFields('natter (reparsed)', c.file, c.expected, got(again), s);
          if (!again.body.equals(c.body)) s.push(`natter ${c.file}: body differs after serialize`);
        });
        attempt(e, `natter ${c.file}: edit`, () => {
          const m2 = parse(c.buf);
          m2.prepend('Via', PROXY_VIA);
          const again = parse(serialize(m2));
          if (again.via[0]?.branch !== PROXY_BRANCH || again.via[0]?.host !== PROXY_HOST) e.push(`natter ${c.file}: added Via lost`);
          if (again.via[1]?.branch !== c.expected.branch) e.push(`natter ${c.file}: original Via not second`);
          if (again.callId !== c.expected.callId || !again.body.equals(c.body)) e.push(`natter ${c.file}: edit corrupted message`);
        });
      }
      return { fields: f, serialize: s, edit: e };
    },
  };
}

// --- npm `sip` -------------------------------------------------------------------------------

/** The shape of the npm `sip` package's parsed message (sip.js in kirm/sip.js, v0.0.6). */
interface SipPkgParams {
  [k: string]: string | null | undefined;
}
interface SipPkgVia {
  version: string;
  protocol: string;
  host: string;
  port?: number;
  params: SipPkgParams;
}
interface SipPkgAor {
  name?: string;
  uri: string;
  params: SipPkgParams;
}
interface SipPkgMessage {
  method?: string;
  status?: number;
  headers: {
    via: SipPkgVia[];
    'call-id': string;
    cseq: { seq: number; method: string };
    from: SipPkgAor;
    to: SipPkgAor;
    contact?: SipPkgAor[] | '*';
    [k: string]: unknown;
  };
  content: string;
}
interface SipPkg {
  parse(data: string | Buffer): SipPkgMessage | undefined;
  stringify(m: SipPkgMessage): string;
}

function loadSipPkg(): SipPkg | null {
  try {
    const require = createRequire(import.meta.url);
    const sip = require('sip') as SipPkg;
    if (typeof sip.parse !== 'function' || typeof sip.stringify !== 'function') throw new Error('parse/stringify missing');
    return sip;
  } catch (e) {
    notAvailable.push(`sip: not available (${(e as Error)?.message ?? String(e)})`);
    return null;
  }
}

function sipGot(m: SipPkgMessage): Got {
  const h = m.headers;
  const contact = Array.isArray(h.contact) ? h.contact[0]?.uri : h.contact;
  return {
    branch: h.via?.[0]?.params.branch,
    callId: h['call-id'],
    seq: h.cseq?.seq,
    method: h.cseq?.method,
    fromTag: h.from?.params.tag,
    toTag: h.to?.params.tag,
    contact,
  };
}

function sipCheck(sip: SipPkg, label: string, asBuffer: boolean): { fields: string[]; serialize: string[]; edit: string[] } {
  const f: string[] = [];
  const s: string[] = [];
  const e: string[] = [];
  const input = (c: CorpusEntry) => (asBuffer ? c.buf : c.str);
  for (const c of corpus) {
    const m = attempt(f, `${label} ${c.file}: parse`, () => sip.parse(input(c)));
    if (m === undefined) {
      f.push(`${label} ${c.file}: parse returned nothing`);
      continue;
    }
    compareFields(label, c.file, c.expected, sipGot(m), f);
    if (m.content !== c.body.toString('latin1')) f.push(`${label} ${c.file}: body differs`);
    attempt(s, `${label} ${c.file}: serialize`, () => {
      const out = sip.stringify(sip.parse(input(c))!);
      const again = sip.parse(asBuffer ? Buffer.from(out, 'latin1') : out);
      if (again === undefined) throw new Error('output does not parse');
      compareFields(`${label} (reparsed)`, c.file, c.expected, sipGot(again), s);
      if (again.content !== c.body.toString('latin1')) s.push(`${label} ${c.file}: body differs after stringify`);
    });
    attempt(e, `${label} ${c.file}: edit`, () => {
      const m2 = sip.parse(input(c))!;
      m2.headers.via.unshift(sipProxyVia());
      const again = sip.parse(sip.stringify(m2));
      if (again === undefined) throw new Error('output does not parse');
      if (again.headers.via[0]?.params.branch !== PROXY_BRANCH || again.headers.via[0]?.host !== PROXY_HOST) e.push(`${label} ${c.file}: added Via lost`);
      if (again.headers.via[1]?.params.branch !== c.expected.branch) e.push(`${label} ${c.file}: original Via not second`);
      if (again.headers['call-id'] !== c.expected.callId || again.content !== c.body.toString('latin1')) {
        e.push(`${label} ${c.file}: edit corrupted message`);
      }
    });
  }
  return { fields: f, serialize: s, edit: e };
}

/** The added Via as the `sip` package represents it (what its proxy.js builds). */
function sipProxyVia(): SipPkgVia {
  return { version: '2.0', protocol: 'UDP', host: PROXY_HOST, port: 5060, params: { branch: PROXY_BRANCH, rport: null } };
}

/** `sip` given a Buffer, as its own UDP transport does (parse() runs data.toString('binary')), and
 *  giving back a Buffer, as its UDP transport does before sending (Buffer.from(s, 'binary')). */
function sipBufferSubject(sip: SipPkg): Subject {
  const parse = sip.parse;
  const stringify = sip.stringify;
  const parseLoop: Loop = (n) => {
    const inp = buffers;
    let j = 0;
    for (let i = 0; i < n; i++) {
      sink = parse(inp[j]!);
      if (++j === N) j = 0;
    }
  };
  const fieldsLoop: Loop = (n) => {
    const inp = buffers;
    let j = 0;
    let a = 0;
    for (let i = 0; i < n; i++) {
      const h = parse(inp[j]!)!.headers;
      const cseq = h.cseq;
      a += (h.via[0]!.params.branch?.length ?? 0) + h['call-id'].length + cseq.seq + cseq.method.length;
      a += (h.from.params.tag?.length ?? 0) + (h.to.params.tag?.length ?? 0);
      const contact = h.contact;
      sink = contact === undefined || contact === '*' ? contact : contact[0]?.uri;
      if (++j === N) j = 0;
    }
    acc += a;
  };
  const serializeLoop: Loop = (n) => {
    const inp = buffers;
    let j = 0;
    for (let i = 0; i < n; i++) {
      sink = Buffer.from(stringify(parse(inp[j]!)!), 'latin1');
      if (++j === N) j = 0;
    }
  };
  const editLoop: Loop = (n) => {
    const inp = buffers;
    let j = 0;
    for (let i = 0; i < n; i++) {
      const m = parse(inp[j]!)!;
      m.headers.via.unshift({ version: '2.0', protocol: 'UDP', host: PROXY_HOST, port: 5060, params: { branch: PROXY_BRANCH, rport: null } });
      sink = Buffer.from(stringify(m), 'latin1');
      if (++j === N) j = 0;
    }
  };
  return {
    name: 'sip (Buffer)',
    io: 'Buffer in (latin1-decoded inside parse), Buffer out (latin1-encoded after stringify), as its UDP transport does',
    parse: parseLoop,
    fields: fieldsLoop,
    serialize: serializeLoop,
    edit: editLoop,
    check: () => sipCheck(sip, 'sip (Buffer)', true),
  };
}

/** `sip` given a string decoded once before timing, and giving back a string. */
function sipStringSubject(sip: SipPkg): Subject {
  const parse = sip.parse;
  const stringify = sip.stringify;
  const parseLoop: Loop = (n) => {
    const inp = strings;
    let j = 0;
    for (let i = 0; i < n; i++) {
      sink = parse(inp[j]!);
      if (++j === N) j = 0;
    }
  };
  const fieldsLoop: Loop = (n) => {
    const inp = strings;
    let j = 0;
    let a = 0;
    for (let i = 0; i < n; i++) {
      const h = parse(inp[j]!)!.headers;
      const cseq = h.cseq;
      a += (h.via[0]!.params.branch?.length ?? 0) + h['call-id'].length + cseq.seq + cseq.method.length;
      a += (h.from.params.tag?.length ?? 0) + (h.to.params.tag?.length ?? 0);
      const contact = h.contact;
      sink = contact === undefined || contact === '*' ? contact : contact[0]?.uri;
      if (++j === N) j = 0;
    }
    acc += a;
  };
  const serializeLoop: Loop = (n) => {
    const inp = strings;
    let j = 0;
    for (let i = 0; i < n; i++) {
      sink = stringify(parse(inp[j]!)!);
      if (++j === N) j = 0;
    }
  };
  const editLoop: Loop = (n) => {
    const inp = strings;
    let j = 0;
    for (let i = 0; i < n; i++) {
      const m = parse(inp[j]!)!;
      m.headers.via.unshift({ version: '2.0', protocol: 'UDP', host: PROXY_HOST, port: 5060, params: { branch: PROXY_BRANCH, rport: null } });
      sink = stringify(m);
      if (++j === N) j = 0;
    }
  };
  return {
    name: 'sip (string)',
    io: 'string in (decoded once before timing), string out',
    parse: parseLoop,
    fields: fieldsLoop,
    serialize: serializeLoop,
    edit: editLoop,
    check: () => sipCheck(sip, 'sip (string)', false),
  };
}

// --- SIP.js ----------------------------------------------------------------------------------

async function sipJsSubject(): Promise<Subject | null> {
  let Parser: (typeof import('sip.js/lib/core/messages/parser.js'))['Parser'];
  try {
    ({ Parser } = await import('sip.js/lib/core/messages/parser.js'));
    if (typeof Parser?.parseMessage !== 'function') throw new Error('Parser.parseMessage missing');
  } catch (e) {
    notAvailable.push(`SIP.js: not available (${(e as Error)?.message ?? String(e)})`);
    return null;
  }
  const noop = (): void => {};
  // Parser.parseMessage only calls warn() and error(); the rest are here for completeness
  const logger = { error: noop, warn: noop, log: noop, debug: noop } as unknown as Parameters<typeof Parser.parseMessage>[1];
  const parseMessage = Parser.parseMessage;

  const parseLoop: Loop = (n) => {
    const inp = strings;
    let j = 0;
    for (let i = 0; i < n; i++) {
      sink = parseMessage(inp[j]!, logger);
      if (++j === N) j = 0;
    }
  };
  const fieldsLoop: Loop = (n) => {
    const inp = strings;
    let j = 0;
    let a = 0;
    for (let i = 0; i < n; i++) {
      const m = parseMessage(inp[j]!, logger)!;
      // CSeq was parsed by parseMessage; parseHeader returns the cached result
      const cseq = m.parseHeader('cseq') as { value: number; method: string };
      a += m.viaBranch.length + m.callId.length + cseq.value + cseq.method.length;
      a += (m.fromTag?.length ?? 0) + (m.toTag?.length ?? 0);
      // Contact was parsed by parseMessage (all values); the first one's URI
      sink = (m.parseHeader('contact') as { uri: unknown } | undefined)?.uri;
      if (++j === N) j = 0;
    }
    acc += a;
  };
  const serializeLoop: Loop = (n) => {
    const inp = strings;
    let j = 0;
    for (let i = 0; i < n; i++) {
      sink = parseMessage(inp[j]!, logger)!.toString();
      if (++j === N) j = 0;
    }
  };
  type Msg = NonNullable<ReturnType<typeof parseMessage>>;
  const got = (m: Msg): Got => {
    const cseq = m.parseHeader('cseq') as { value: number; method: string } | undefined;
    const contact = m.parseHeader('contact') as { uri: { toString(): string } } | undefined;
    return {
      branch: m.viaBranch,
      callId: m.callId,
      seq: cseq?.value,
      method: cseq?.method,
      fromTag: m.fromTag,
      toTag: m.toTag,
      contact: contact?.uri.toString(),
    };
  };
  return {
    name: 'SIP.js',
    io: 'string in (decoded once before timing), string out',
    parse: parseLoop,
    fields: fieldsLoop,
    serialize: serializeLoop,
    edit: null,
    serializeNote:
      'SIP.js: IncomingMessage.toString() returns the input string it kept (message.data); it has no serializer for received messages, so (3) is parse + a field read and (4) is n/a',
    check() {
      const f: string[] = [];
      const s: string[] = [];
      for (const c of corpus) {
        const m = attempt(f, `SIP.js ${c.file}: parse`, () => parseMessage(c.str, logger));
        if (m === undefined) {
          f.push(`SIP.js ${c.file}: parse returned nothing`);
          continue;
        }
        compareFields('SIP.js', c.file, c.expected, got(m), f);
        if (m.body !== c.body.toString('latin1')) f.push(`SIP.js ${c.file}: body differs`);
        attempt(s, `SIP.js ${c.file}: serialize`, () => {
          const again = parseMessage(parseMessage(c.str, logger)!.toString(), logger);
          if (again === undefined) throw new Error('output does not parse');
          compareFields('SIP.js (reparsed)', c.file, c.expected, got(again), s);
        });
      }
      return { fields: f, serialize: s, edit: [] };
    },
  };
}

// --- ceilings --------------------------------------------------------------------------------

/** Ceiling for a Buffer-input parser: find the end of the header section, decode it once, split lines. */
const baselineBuffer: Loop = (n) => {
  const inp = buffers;
  let j = 0;
  let a = 0;
  for (let i = 0; i < n; i++) {
    const buf = inp[j]!;
    const headEnd = buf.indexOf('\r\n\r\n');
    const head = buf.toString('latin1', 0, headEnd + 2);
    let pos = 0;
    for (;;) {
      const e = head.indexOf('\r\n', pos);
      if (e === -1) break;
      sink = head.slice(pos, e);
      a++;
      pos = e + 2;
    }
    sink = buf.subarray(headEnd + 4);
    if (++j === N) j = 0;
  }
  acc += a;
};

/** Ceiling for a string-input parser: split lines up to the empty one. */
const baselineString: Loop = (n) => {
  const inp = strings;
  let j = 0;
  let a = 0;
  for (let i = 0; i < n; i++) {
    const s = inp[j]!;
    let pos = 0;
    for (;;) {
      const e = s.indexOf('\r\n', pos);
      if (e === -1 || e === pos) break;
      sink = s.slice(pos, e);
      a++;
      pos = e + 2;
    }
    sink = s.slice(pos + 2);
    if (++j === N) j = 0;
  }
  acc += a;
};

// ---------------------------------------------------------------------------------------------
// timing

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 7));
const ROUND_MS = Math.max(10, Number(process.env.BENCH_ROUND_MS ?? 150));
const WARMUP_MS = Math.max(10, Number(process.env.BENCH_WARMUP_MS ?? 300));

type Figure = 'parse' | 'fields' | 'serialize' | 'edit';
const FIGURES: Figure[] = ['parse', 'fields', 'serialize', 'edit'];
const HEADINGS: Record<Figure, string> = {
  parse: 'parse/s',
  fields: 'parse+fields/s',
  serialize: 'parse+serialize/s',
  edit: 'parse+Via+serialize/s',
};

interface Case {
  row: string;
  figure: Figure;
  loop: Loop;
  /** iterations per round, a multiple of the corpus size */
  n: number;
  rates: number[];
}

function timeLoop(loop: Loop, n: number): number {
  const t0 = process.hrtime.bigint();
  loop(n);
  const ns = Number(process.hrtime.bigint() - t0);
  return (n * 1e9) / ns;
}

/** Warm-up (lets V8 optimize the loop) and calibration of the iterations per round. */
function warmUp(c: Case): void {
  const until = process.hrtime.bigint() + BigInt(WARMUP_MS) * 1_000_000n;
  let n = N;
  let rate = 0;
  while (process.hrtime.bigint() < until) {
    rate = timeLoop(c.loop, n);
    if (n < 1e7) n *= 2;
  }
  c.n = Math.max(N, Math.ceil((rate * ROUND_MS) / 1000 / N) * N);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// main

function fmtRate(x: number | undefined): string {
  if (x === undefined) return 'n/a';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r, ri) => {
      const line = r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

/**
 * BENCH_DETACHED=1 detaches an ArrayBuffer before anything is timed, as tsx's module hooks or a
 * transfer to a worker would: V8 then checks every typed-array read for detachment for the rest
 * of the process (see support/plain-node.ts). It shows what natter's parser costs in such a process.
 */
function detachOneArrayBuffer(): boolean {
  const ab = new ArrayBuffer(8);
  structuredClone(ab, { transfer: [ab] });
  return ab.byteLength === 0;
}

async function main(): Promise<void> {
  const t0 = process.hrtime.bigint();
  const detached = process.env.BENCH_DETACHED === '1' && detachOneArrayBuffer();
  const subjects: Subject[] = [];
  const natter = await natterSubject();
  if (natter !== null) subjects.push(natter);
  const sip = loadSipPkg();
  if (sip !== null) subjects.push(sipBufferSubject(sip), sipStringSubject(sip));
  const sipjs = await sipJsSubject();
  if (sipjs !== null) subjects.push(sipjs);

  const bytes = corpus.reduce((a, c) => a + c.buf.length, 0);
  console.log(`natter parser benchmark — node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'}`);
  console.log(
    `corpus: ${N} messages (${corpus.map((c) => c.file.replace(/\.sip$/, '')).join(', ')}), ` +
      `${bytes} bytes, mean ${Math.round(bytes / N)} bytes/message; round-robin`,
  );
  console.log(`timing: ${WARMUP_MS} ms warm-up per case, then ${ROUNDS} interleaved rounds of ~${ROUND_MS} ms; median messages/s`);
  console.log(`process: plain node${detached ? ', with an ArrayBuffer detached first (BENCH_DETACHED=1)' : ''}`);
  for (const line of notAvailable) console.log(line);
  console.log('');

  // correctness first: a parser that reads the wrong values is not timed
  let failed = false;
  const disabled = new Map<string, Set<Figure>>();
  for (const s of subjects) {
    const r = s.check();
    const off = new Set<Figure>();
    if (r.fields.length > 0) FIGURES.forEach((f) => off.add(f));
    if (r.serialize.length > 0) off.add('serialize');
    if (r.edit.length > 0) off.add('edit');
    const faults = [...r.fields, ...r.serialize, ...r.edit];
    if (faults.length > 0) {
      failed = true;
      console.log(`${s.name}: CORRECTNESS CHECK FAILED (${[...off].join(', ')} not timed):`);
      for (const f of faults.slice(0, 12)) console.log(`  ${f}`);
      if (faults.length > 12) console.log(`  ... and ${faults.length - 12} more`);
    } else {
      console.log(`${s.name}: correctness check passed (${N} messages: fields, serialize round-trip${s.edit ? ', added Via' : ''})`);
    }
    disabled.set(s.name, off);
  }
  console.log('');

  const cases: Case[] = [];
  for (const s of subjects) {
    const off = disabled.get(s.name)!;
    const loops: Record<Figure, Loop | null> = { parse: s.parse, fields: s.fields, serialize: s.serialize, edit: s.edit };
    for (const f of FIGURES) {
      const loop = loops[f];
      if (loop !== null && !off.has(f)) cases.push({ row: s.name, figure: f, loop, n: 0, rates: [] });
    }
  }
  const BASE_BUF = 'ceiling: indexOf split (Buffer)';
  const BASE_STR = 'ceiling: indexOf split (string)';
  cases.push({ row: BASE_BUF, figure: 'parse', loop: baselineBuffer, n: 0, rates: [] });
  cases.push({ row: BASE_STR, figure: 'parse', loop: baselineString, n: 0, rates: [] });

  for (const c of cases) warmUp(c);
  for (let r = 0; r < ROUNDS; r++) {
    // rotate the order each round so that no case always runs right after the same neighbour
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + r) % cases.length]!;
      c.rates.push(timeLoop(c.loop, c.n));
    }
  }

  const result = new Map<string, Partial<Record<Figure, number>>>();
  for (const c of cases) {
    const row = result.get(c.row) ?? {};
    row[c.figure] = median(c.rates);
    result.set(c.row, row);
  }

  const rowNames = [...subjects.map((s) => s.name), BASE_BUF, BASE_STR];
  const rows: string[][] = [['parser', ...FIGURES.map((f) => HEADINGS[f])]];
  for (const name of rowNames) {
    const r = result.get(name) ?? {};
    const off = disabled.get(name);
    rows.push([
      name,
      ...FIGURES.map((f) => {
        if (off?.has(f)) return 'FAIL';
        const v = r[f];
        if (v === undefined) return name.startsWith('ceiling') ? '' : 'n/a';
        return fmtRate(v) + (f === 'serialize' && name === 'SIP.js' ? '*' : '');
      }),
    ]);
  }
  console.log(table(rows));

  // ratios
  const nat = result.get('natter');
  if (nat !== undefined) {
    console.log('');
    const ratioRows: string[][] = [['ratio', ...FIGURES.map((f) => HEADINGS[f].replace('/s', ''))]];
    for (const peer of ['sip (Buffer)', 'sip (string)', 'SIP.js']) {
      const p = result.get(peer);
      if (p === undefined) continue;
      ratioRows.push([
        `natter / ${peer}`,
        ...FIGURES.map((f) => {
          const a = nat[f];
          const b = p[f];
          if (a === undefined || b === undefined) return 'n/a';
          return `${(a / b).toFixed(2)}x` + (f === 'serialize' && peer === 'SIP.js' ? '*' : '');
        }),
      ]);
    }
    const ceiling = result.get(BASE_BUF)?.parse;
    if (ceiling !== undefined && nat.parse !== undefined) {
      ratioRows.push([`natter / ${BASE_BUF}`, `${(nat.parse / ceiling).toFixed(2)}x`, '', '', '']);
    }
    console.log(table(ratioRows));
  } else {
    console.log('\n(no natter row, so no ratios)');
  }

  console.log('');
  for (const s of subjects) console.log(`${s.name}: ${s.io}`);
  console.log('sip: parses eagerly — every header at parse(); Via/From/To/Contact params, CSeq, auth headers; To/From/Contact URIs stay strings');
  console.log('SIP.js: parses eagerly the start line, top Via, From, To, Call-ID, Contact, Record-Route, CSeq and a few more with its PEG grammar; other headers raw');
  for (const s of subjects) if (s.serializeNote) console.log(`* ${s.serializeNote}`);
  if (natter !== null && natterReturnsInput) {
    console.log(
      'natter: serialize() of a message nobody changed returns the parsed Buffer itself, so its (3) is parse + a field read; (4) is the real serializer',
    );
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`\ntotal ${secs.toFixed(1)} s (checksum ${acc % 1000}, ${typeof sink})`);
  if (failed) process.exitCode = 1;
}

await main();
