/**
 * Socket fuzzer: `natter proxy` (a child process, --users, default flood protection) gets mutated
 * and random datagrams for a bounded time while two legitimate phones register with digest auth
 * and place calls through it (with relayed RTP). At the end: the proxy is alive and answers,
 * its RSS stayed under a bound, every legitimate call succeeded, it stops cleanly (exit 0).
 *
 *   npm run fuzz                      FUZZ_SECONDS=60 by default
 *
 * Seeds: the RFC 4475 torture messages and RFC 5118 IPv6 messages (spec/fixtures), the captured
 * phone messages of bench/corpus, and the messages the legitimate phones send during this run
 * (REGISTER and INVITE with credentials, ACK, BYE, 200 OK with SDP: real calls), taken into the
 * corpus only once their call has ended. Mutations: bit flips, byte overwrites, inserted hostile
 * tokens (NULs, bare CR/LF, huge numbers, long runs), deleted ranges, duplicated lines (Via
 * bombs), swapped lines, truncation, wrong Content-Length, splices of two seeds, and plain
 * random datagrams; a few are larger than the proxy's message size limit.
 *
 * Containment: run as root, the whole thing re-executes itself in a new network namespace that
 * has only a loopback interface (`unshare --net`), so nothing the proxy does with a fuzzed
 * address (a Via maddr, a host name to resolve) can reach any other network. Without root it
 * runs in place and rewrites `maddr` out of every datagram it sends. Every packet goes to and
 * from 127.0.0.0/8.
 *
 * Environment: FUZZ_SECONDS (60), FUZZ_RATE datagrams/s (1500), FUZZ_SOURCES (40), FUZZ_RSS_MB
 * (400), FUZZ_SEED (random), FUZZ_ISOLATE (auto | 0), FUZZ_DRAIN_SECONDS (120: how long to wait after the
 * fuzz for every call and transaction to end, 0 to skip that check; the longest chains of RFC 3261
 * timers a fuzzed or late request can start take about 100 s with T1 = 500 ms, e.g. a UAS that
 * never got its ACK sends BYE after Timer H (32 s), whose forwarding waits up to Timer F (32 s)
 * and whose server transaction then waits Timer J (32 s)).
 * Output ends with one line: `fuzz: sent N datagrams, proxy alive, rss X MB, calls N/N` (exit 0),
 * or `fuzz: FAILED ...` (exit 1).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, serialize, SipResponse, UserAgent } from '../lib/index.js';
import type { Dialog, IncomingRequest, SipMessageAny } from '../lib/index.js';
import { ProxyChild } from '../spec/support/proxy-process.js';
import { freeUdpPort } from '../spec/support/sipp.js';
import { inviteWithAuth, requestWithAuth } from '../spec/support/digest-client.js';
import { randomPortRange, mediaTarget } from '../spec/support/proxy-world.js';

const ROOT = resolve(import.meta.dirname, '..');
const env = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const SECONDS = env('FUZZ_SECONDS', 60);
const RATE = env('FUZZ_RATE', 1500);
const SOURCES = Math.min(200, Math.floor(env('FUZZ_SOURCES', 40)));
const RSS_MB = env('FUZZ_RSS_MB', 400);
const SEED = env('FUZZ_SEED', Math.floor(Math.random() * 2 ** 31));
const PHONES = '127.0.1.1';
const DRAIN = Number(process.env['FUZZ_DRAIN_SECONDS'] ?? 120);

// ---- containment -----------------------------------------------------------------------------

function canIsolate(): boolean {
  if (process.env['FUZZ_ISOLATE'] === '0' || process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['--net', 'true'], { timeout: 5000 }).status === 0;
}

if (process.env['FUZZ_IN_NETNS'] !== '1' && canIsolate()) {
  // the same script, inside a network namespace that only has `lo`
  const child = spawn('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, '--import', 'tsx', join(ROOT, 'bench', 'fuzz.ts')], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, FUZZ_IN_NETNS: '1', FUZZ_SEED: String(SEED) },
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), (SECONDS + DRAIN + 120) * 1000);
  child.on('exit', (code, signal) => {
    clearTimeout(guard);
    process.exit(code ?? (signal !== null ? 1 : 0));
  });
} else {
  main().then(
    (ok) => process.exit(ok ? 0 : 1),
    (err: unknown) => {
      console.error(err);
      console.log(`fuzz: FAILED (${(err as Error).message})`);
      process.exit(1);
    },
  );
}

// ---- randomness --------------------------------------------------------------------------------

let state = SEED >>> 0;
function rand(): number {
  // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;

// ---- seeds and mutations -----------------------------------------------------------------------

function fixtures(): Buffer[] {
  const out: Buffer[] = [];
  for (const dir of [join(ROOT, 'spec', 'fixtures', 'rfc4475'), join(ROOT, 'spec', 'fixtures', 'rfc5118')]) {
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.dat'))) out.push(readFileSync(join(dir, f)));
  }
  return out;
}

function captures(): Buffer[] {
  const dir = join(ROOT, 'bench', 'corpus');
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.sip'))
      .map((f) => Buffer.from(readFileSync(join(dir, f), 'latin1').replace(/\r?\n/g, '\r\n'), 'latin1'));
  } catch {
    return [];
  }
}

const HOSTILE = [
  '\0',
  '\r',
  '\n',
  '\r\n',
  '\r\n\r\n',
  ' ',
  '\t',
  ';',
  ',',
  ':',
  '<',
  '>',
  '"',
  '\\',
  '%00',
  '%',
  '@',
  '[',
  ']',
  '[::1]',
  '99999999999999999999',
  '-1',
  '0',
  '4294967296',
  'z9hG4bK',
  ';branch=',
  ';tag=',
  ';rport',
  ';received=',
  ';lr',
  'sip:',
  'sips:',
  'tel:',
  'SIP/2.0',
  'SIP/3.0',
  'Content-Length: 0',
  'Content-Length: 99999',
  'Via: SIP/2.0/UDP 127.0.0.1',
  'Route: <sip:127.0.0.1;lr>',
  'Proxy-Authorization: Digest username="alice", nonce="x"',
  'Authorization: Digest',
  'ÿþ',
  '\u00e9\u4e2d',
];

function longRun(): string {
  return pick(['A', '%', ';', ',', '<', 'a=', ' ', '\t', '9']).repeat(1 + int(3000));
}

function mutate(seed: Buffer, corpus: readonly Buffer[]): Buffer {
  let b = Buffer.from(seed);
  const steps = 1 + int(3);
  for (let s = 0; s < steps; s++) {
    switch (int(12)) {
      case 0: {
        // bit flips
        for (let i = int(8) + 1; i > 0 && b.length > 0; i--) b[int(b.length)] ^= 1 << int(8);
        break;
      }
      case 1: {
        for (let i = int(16) + 1; i > 0 && b.length > 0; i--) b[int(b.length)] = int(256);
        break;
      }
      case 2: {
        const at = int(b.length + 1);
        const tok = Buffer.from(rand() < 0.15 ? longRun() : pick(HOSTILE), 'utf8');
        b = Buffer.concat([b.subarray(0, at), tok, b.subarray(at)]);
        break;
      }
      case 3: {
        const at = int(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(64)))]);
        break;
      }
      case 4: {
        // a line repeated: Via and Record-Route bombs, duplicated From/To/CSeq
        const lines = b.toString('latin1').split('\r\n');
        const i = int(Math.max(1, lines.length - 2));
        const times = 1 + int(rand() < 0.2 ? 300 : 5);
        lines.splice(i, 0, ...Array<string>(times).fill(lines[i] ?? ''));
        b = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 5: {
        const lines = b.toString('latin1').split('\r\n');
        const i = int(lines.length);
        const j = int(lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        b = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 6:
        b = b.subarray(0, int(b.length + 1));
        break;
      case 7:
        b = Buffer.from(b.toString('latin1').replace(/(Content-Length|\r\nl)\s*:\s*\d+/i, `$1: ${pick(['0', '1', '-5', '999999', String(int(5000)), 'x'])}`), 'latin1');
        break;
      case 8: {
        const other = pick(corpus);
        b = Buffer.concat([b.subarray(0, int(b.length + 1)), other.subarray(int(other.length + 1))]);
        break;
      }
      case 9: {
        // a token between two delimiters replaced
        const text = b.toString('latin1');
        const m = [...text.matchAll(/[A-Za-z0-9.\-_]+/g)];
        if (m.length > 0) {
          const t = pick(m);
          b = Buffer.from(text.slice(0, t.index) + pick([...HOSTILE, longRun(), String(int(1e9))]) + text.slice(t.index! + t[0].length), 'latin1');
        }
        break;
      }
      case 10: {
        // header names scrambled into compact or odd forms
        const text = b.toString('latin1');
        b = Buffer.from(text.replace(/\r\n(Via|From|To|Call-ID|CSeq|Contact|Content-Length):/, (_m, n: string) => `\r\n${pick([n.toLowerCase(), n.toUpperCase(), n + ' ', n[0]!.toLowerCase(), ' ' + n])}:`), 'latin1');
        break;
      }
      default:
        break; // unchanged this step
    }
  }
  if (b.length > 20000) b = b.subarray(0, 20000);
  return b;
}

function randomDatagram(): Buffer {
  const n = 1 + int(1400);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

/** Points a seed at the proxy: its Request-URI host (half the time) and top Via at our socket. */
function aim(seed: Buffer, proxyPort: number, from: { address: string; port: number }): Buffer {
  let text = seed.toString('latin1');
  if (rand() < 0.5) text = text.replace(/^([A-Z]+ sips?:(?:[^@\s]*@)?)[^;\s>?]+/, `$1127.0.0.1:${proxyPort}`);
  if (rand() < 0.3) text = text.replace(/^([A-Z]+ sips?:)[^@\s]*@/, `$1${pick(['bob', 'alice', 'nobody', 'x'])}@`);
  text = text.replace(/\r\n(Via|v)\s*:\s*SIP\/2\.0\/UDP\s+[^;\r\n,]+/i, `\r\nVia: SIP/2.0/UDP ${from.address}:${from.port}`);
  return Buffer.from(text, 'latin1');
}

// ---- the run -----------------------------------------------------------------------------------

interface Phone {
  ua: UserAgent;
  media: Socket;
  received: number;
  user: string;
  sdpAddress: string;
}

async function phone(user: string, proxyPort: number, nattedAs?: string): Promise<Phone> {
  // the phones use their own loopback address: what the flood guard does to other sources
  // (the proxy's own 127.0.0.1 included, when a fuzzed request makes it send to itself) is not theirs
  const ua = await UserAgent.listen({ address: PHONES, port: 0, ...(nattedAs !== undefined ? { advertisedAddress: nattedAs } : {}) }, { user, outboundProxy: { address: '127.0.0.1', port: proxyPort } });
  const media = createSocket('udp4');
  await new Promise<void>((r) => media.bind(0, PHONES, r));
  const p: Phone = { ua, media, received: 0, user, sdpAddress: nattedAs ?? PHONES };
  media.on('message', () => p.received++);
  return p;
}

function sdp(p: Phone): string {
  const port = p.media.address().port;
  return ['v=0', `o=${p.user} 1 1 IN IP4 ${p.sdpAddress}`, 's=-', `c=IN IP4 ${p.sdpAddress}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');
}

async function sendRtp(p: Phone, to: { address: string; port: number }, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const pkt = Buffer.alloc(172);
    pkt[0] = 0x80;
    pkt.writeUInt16BE(i, 2);
    await new Promise<void>((r) => p.media.send(pkt, to.port, to.address, () => r()));
  }
}

async function main(): Promise<boolean> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'natter-fuzz-'));
  const users = { alice: 'alice-fuzz-secret', bob: 'bob-fuzz-secret' };
  writeFileSync(join(dir, 'users.json'), JSON.stringify(users));
  const port = await freeUdpPort();
  const range = randomPortRange(1000);
  const isolated = process.env['FUZZ_IN_NETNS'] === '1';
  console.log(`fuzz: seed ${SEED}, ${SECONDS} s at ${RATE} datagrams/s from ${SOURCES} sources, proxy on 127.0.0.1:${port}${isolated ? ', in a loopback-only network namespace' : ''}`);
  const proxy = await ProxyChild.start(['--listen', `127.0.0.1:${port}`, '--rtp-ports', `${range.min}-${range.max}`, '--users', join(dir, 'users.json'), '--nat-ping-interval', '0']);
  const failures: string[] = [];
  let rssMax = proxy.rss() ?? 0;
  const rssStart = rssMax;
  const sockets: Socket[] = [];
  let sent = 0;
  let answered = 0;
  let big = 0;
  const corpus = [...fixtures(), ...captures()];
  const seeds = corpus.length;
  let captured = 0;

  try {
    // -- the legitimate phones
    const alice = await phone('alice', port, '127.0.0.99');
    const bob = await phone('bob', port);
    const pendingCapture = new Map<string, Buffer[]>();
    const capture = (ua: UserAgent): void => {
      const send = ua.transport.send.bind(ua.transport);
      ua.transport.send = (message: SipMessageAny | Buffer, destination) => {
        if (!Buffer.isBuffer(message)) {
          const list = pendingCapture.get(message.callId) ?? [];
          list.push(serialize(message));
          pendingCapture.set(message.callId, list);
        }
        return send(message, destination);
      };
    };
    const commit = (callId: string): void => {
      for (const m of pendingCapture.get(callId) ?? []) {
        if (corpus.length < seeds + 400) {
          corpus.push(m);
          captured++;
        }
      }
      pendingCapture.delete(callId);
    };
    capture(alice.ua);
    capture(bob.ua);
    const expected = new Set<string>();
    bob.ua.onRequest((req: IncomingRequest) => {
      if (req.method === 'INVITE' && req.request.to.tag === undefined) {
        // only the calls alice really places; anything else the fuzzer managed to route here is refused
        if (!expected.has(req.request.callId)) return void req.respond(486);
        return void req.respond(200, 'OK', { body: sdp(bob), contentType: 'application/sdp' });
      }
      req.respond(200);
    });
    alice.ua.onRequest((req: IncomingRequest) => void req.respond(req.method === 'INVITE' ? 486 : 200));
    const proxyUri = `sip:127.0.0.1:${port}`;
    for (const p of [alice, bob]) {
      const aor = `sip:${p.user}@127.0.0.1`;
      const reg = p.ua.createRequest({ method: 'REGISTER', uri: proxyUri, from: aor, to: aor, contact: p.ua.contact, headers: { Expires: '3600' } });
      const r = await requestWithAuth(p.ua, reg, { username: p.user, password: users[p.user as keyof typeof users] });
      if (r.status !== 200) throw new Error(`${p.user} could not register: ${r.status}`);
      commit(reg.callId);
    }

    // -- the fuzz sources: 127.0.0.2 .. 127.0.0.(SOURCES+1), one flooder, one scanner
    const open = async (address: string): Promise<Socket> => {
      const s = createSocket('udp4');
      await new Promise<void>((r, j) => {
        s.once('error', j);
        s.bind(0, address, () => r());
      });
      s.on('message', () => answered++);
      s.on('error', () => undefined);
      sockets.push(s);
      return s;
    };
    const fuzzers: Socket[] = [];
    for (let i = 0; i < SOURCES; i++) fuzzers.push(await open(`127.0.0.${2 + i}`));
    const flooder = await open('127.0.0.250');
    const scanner = await open('127.0.0.251');
    const deadline = started + SECONDS * 1000;
    const perTick = Math.max(1, Math.round(RATE / 100));
    let next = 0;
    const fire = (s: Socket, b: Buffer): void => {
      let out = b;
      if (!isolated) out = Buffer.from(out.toString('latin1').replace(/maddr/gi, 'xaddr'), 'latin1');
      sent++;
      s.send(out, port, '127.0.0.1', () => undefined);
    };
    const tick = setInterval(() => {
      for (let i = 0; i < perTick; i++) {
        const s = fuzzers[next++ % fuzzers.length]!;
        const a = s.address();
        const r = rand();
        let b: Buffer;
        if (r < 0.08) b = randomDatagram();
        else if (r < 0.1) b = aim(pick(corpus), port, a);
        else b = mutate(aim(pick(corpus), port, a), corpus);
        if (rand() < 0.002) {
          b = Buffer.concat([b, Buffer.alloc(33000 + int(30000), 0x41)]);
          big++;
        }
        fire(s, b);
      }
      // 300/s from one source: blocked by the flood guard after a moment
      for (let i = 0; i < 3; i++) fire(flooder, aim(pick(corpus), port, flooder.address()));
      if (int(20) === 0) {
        const a = scanner.address();
        fire(scanner, Buffer.from(`OPTIONS sip:100@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP ${a.address}:${a.port};branch=z9hG4bK-${int(1e9)};rport\r\nMax-Forwards: 70\r\nFrom: "sipvicious"<sip:100@1.1.1.1>;tag=${int(1e9)}\r\nTo: "sipvicious"<sip:100@1.1.1.1>\r\nCall-ID: ${int(1e12)}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n`));
      }
    }, 10);
    const monitor = setInterval(() => {
      const rss = proxy.rss();
      if (rss !== undefined) rssMax = Math.max(rssMax, rss);
      if (!proxy.running) failures.push('the proxy process died');
    }, 500);

    // -- legitimate calls while the fuzz runs, one after the other
    let attempted = 0;
    let succeeded = 0;
    const callFailures: string[] = [];
    while (Date.now() < deadline - 3000 && proxy.running) {
      attempted++;
      const invite = alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@127.0.0.1:${port}`, from: 'sip:alice@127.0.0.1', to: 'sip:bob@127.0.0.1', body: sdp(alice) });
      expected.add(invite.callId);
      try {
        const { response, dialog } = await inviteWithAuth(alice.ua, invite, { username: 'alice', password: users.alice });
        if (response.status !== 200 || dialog === undefined) throw new Error(`INVITE answered ${response.status}`);
        const relay = mediaTarget(response.body);
        const before = bob.received;
        await sendRtp(alice, relay, 10);
        const until = Date.now() + 2000;
        while (bob.received < before + 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        if (bob.received === before) throw new Error('no RTP reached bob through the relay');
        const bye = await (dialog as Dialog).bye();
        if (bye.status !== 200) throw new Error(`BYE answered ${bye.status}`);
        succeeded++;
      } catch (err) {
        callFailures.push((err as Error).message);
      }
      const done = invite.callId;
      setTimeout(() => commit(done), 1000).unref();
      await new Promise((r) => setTimeout(r, 200));
    }
    while (Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    clearInterval(tick);
    clearInterval(monitor);

    // -- after the storm: alive, answering, within memory
    await new Promise((r) => setTimeout(r, 1000));
    const probe = alice.ua.createRequest({ method: 'OPTIONS', uri: proxyUri, from: 'sip:alice@127.0.0.1', to: proxyUri });
    const pong = await alice.ua.request(probe).catch((e: unknown) => ({ status: `error ${(e as Error).message}` }));
    if (!(pong instanceof SipResponse) || pong.status !== 200) failures.push(`the proxy does not answer OPTIONS after the fuzz (${pong instanceof SipResponse ? pong.status : pong.status})`);
    type Stats = { calls: number; transactions: number; bindings: number; security: Record<string, number> };
    const snapshot = (): Promise<Stats | undefined> => proxy.stats<Stats>();
    const atEnd = await snapshot();
    // nothing leaks: every call and transaction the fuzz started ends by its own timers
    let drained = atEnd;
    if (DRAIN > 0) {
      const until = Date.now() + DRAIN * 1000;
      while (proxy.running && Date.now() < until && (drained === undefined || drained.calls > 0 || drained.transactions > 0)) {
        await new Promise((r) => setTimeout(r, 2000));
        drained = await snapshot();
      }
      if (drained === undefined || drained.calls > 0 || drained.transactions > 0) {
        failures.push(`still held ${DRAIN} s after the fuzz: ${drained === undefined ? 'no stats' : `${drained.calls} calls, ${drained.transactions} transactions`}`);
      }
      console.log(`fuzz: held at the end of the fuzz: ${atEnd?.calls} calls, ${atEnd?.transactions} transactions; after ${((Date.now() - deadline) / 1000).toFixed(0)} s: ${drained?.calls} calls, ${drained?.transactions} transactions`);
    }
    if (drained !== undefined && drained.bindings !== 2) failures.push(`${drained.bindings} bindings instead of alice's and bob's`);
    const rssEnd = proxy.rss() ?? 0;
    rssMax = Math.max(rssMax, rssEnd);
    const alive = proxy.running;
    if (!alive) failures.push('the proxy process is not running');
    if (rssMax > RSS_MB * 1024 * 1024) failures.push(`rss ${(rssMax / 1048576).toFixed(0)} MB over the ${RSS_MB} MB bound`);
    if (attempted === 0) failures.push('no legitimate call was placed');
    if (succeeded !== attempted) failures.push(`legitimate calls failed: ${callFailures.slice(0, 5).join('; ')}`);
    for (const p of [alice, bob]) {
      await p.ua.close();
      p.media.close();
    }
    const code = await proxy.stop(10_000);
    if (code !== 0) failures.push(`the proxy exited with ${code} on SIGTERM`);
    const stats = drained;
    const blocked = proxy.output.split('\n').filter((l) => l.startsWith('blocked '));
    console.log(`fuzz: sources blocked by the proxy: ${blocked.map((l) => l.split(' ')[1]).join(', ') || 'none'}`);
    if (blocked.some((l) => l.startsWith(`blocked ${PHONES} `))) failures.push('the phones\' address was blocked');
    const crashes = proxy.output.match(/^(Error|TypeError|RangeError|.*Uncaught|.*unhandled)/gim) ?? [];
    if (crashes.length > 0) failures.push(`errors on the proxy's output: ${crashes.slice(0, 3).join(' | ')}`);
    const mb = (n: number): string => (n / 1048576).toFixed(1);
    if (stats !== undefined) {
      const s = stats.security;
      console.log(
        `fuzz: proxy counted: bindings ${stats.bindings}; ` +
          `403 ${s['forbidden']}, auth challenges ${s['authChallenges']} failures ${s['authFailures']} replays ${s['authReplays']}, ` +
          `513 ${s['tooLarge']}, flood blocks ${s['floodBlocks']} dropped ${s['floodDropped']}, scanners dropped ${s['scannersDropped']}`,
      );
    }
    console.log(
      `fuzz: seeds ${seeds} + ${captured} captured from the calls, ${big} oversized, ${answered} responses to the fuzzers, rss start ${mb(rssStart)} MB end ${mb(rssEnd)} MB max ${mb(rssMax)} MB, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    if (failures.length > 0) {
      console.log(`fuzz: FAILED: ${failures.join('; ')} (seed ${SEED}; sent ${sent} datagrams, calls ${succeeded}/${attempted})`);
      return false;
    }
    console.log(`fuzz: sent ${sent} datagrams, proxy alive, rss ${mb(rssMax)} MB, calls ${succeeded}/${attempted}`);
    return true;
  } finally {
    for (const s of sockets) s.close();
    if (proxy.running) await proxy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
