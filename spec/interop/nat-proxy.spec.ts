/**
 * The proof through a real NAT: `natter proxy` runs in the `core` namespace of the topology built
 * by spec/support/netns.ts (ip netns, veth pairs, iptables MASQUERADE, no route out), sipp clients
 * register and call through it from behind one or two NATs, play G.711 (play_pcap_audio) and echo
 * it (-rtp_echo); the proxy's own call line says what it decided and what its relay counted.
 *
 *   alice  lan1 192.168.50.2:5060  behind nat1 (public 203.0.113.10)
 *   bob    pub2 203.0.113.20:5060  public
 *   bob2   lan2 192.168.60.2:5060  behind nat2 (public 203.0.113.11)
 *   carol  pub2 203.0.113.20:5062  public caller; dave pub2 203.0.113.20:5064 public callee
 *   proxy  core 203.0.113.1:5060, relay ports 30000-30099 on 203.0.113.1
 *
 * Keep-alive note: the proxy pings NATed bindings with OPTIONS from 30 s after it starts. A sipp
 * UAS would take such an OPTIONS for a new (failed) call, so the only NATed UAS here (bob2) runs
 * well inside those 30 s; the whole file takes about 15 s.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  describeSipp,
  killAllSipp,
  pcapDir,
  runSipp,
  sippAvailable,
  startSipp,
  type SippOptions,
  type SippResult,
} from '../support/sipp.js';
import {
  buildNatTopology,
  canMakeNamespaces,
  startUdpCapture,
  tsharkAvailable,
  type Capture,
  type CapturedUdp,
  type NatTopology,
} from '../support/netns.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX = path.join(REPO, 'node_modules', '.bin', 'tsx');
const NATTER = path.join(REPO, 'lib', 'bin', 'natter.ts');

const PROXY_IP = '203.0.113.1';
const PROXY = `${PROXY_IP}:5060`;
const RTP_MIN = 30000;
const RTP_MAX = 30099;

/** One line the proxy prints when a call ends (lib/proxy/call-log.ts formatCallRecord). */
interface CallLine {
  line: string;
  caller: string;
  callee: string;
  natted: boolean;
  natTests: string[];
  relay: string;
  rtpIn: { fromCaller: number; fromCallee: number } | undefined;
  result: string;
  callId: string;
}

const CALL_LINE =
  /^call (\S+) -> (\S+) nat=(?:yes\(([^)]*)\)|(no)) relay=(\S+)(?: rtp-in=(\d+)\/(\d+))? result=(\S+) duration=[\d.]+s call-id=(\S+)\s*$/;

function parseCallLine(line: string): CallLine | undefined {
  const m = CALL_LINE.exec(line);
  if (!m) return undefined;
  return {
    line,
    caller: m[1]!,
    callee: m[2]!,
    natted: m[4] === undefined,
    natTests: m[3] === undefined ? [] : m[3].split('+'),
    relay: m[5]!,
    rtpIn: m[6] === undefined ? undefined : { fromCaller: Number(m[6]), fromCallee: Number(m[7]) },
    result: m[8]!,
    callId: m[9]!,
  };
}

/** `natter proxy` running in a namespace, its stdout split into lines. */
class ProxyProcess {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.on('data', (b: Buffer) => {
      partial += b.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts.map((l) => l.trimEnd()));
      for (const w of this.#waiters.splice(0)) w();
    });
    child.stderr!.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-8000);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        for (const w of this.#waiters.splice(0)) w();
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first line (from index `from`) that `match` accepts, waiting up to timeoutMs for it. */
  async waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number, from = 0): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines.slice(from)) {
        const hit = match(line);
        if (hit !== undefined) return hit;
      }
      const left = deadline - Date.now();
      if (left <= 0 || !this.running) {
        throw new Error(`natter proxy: no matching line within ${timeoutMs} ms\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async callLine(callId: string, timeoutMs = 3000): Promise<CallLine> {
    return this.waitForLine((l) => {
      const c = parseCallLine(l);
      return c !== undefined && c.callId === callId ? c : undefined;
    }, timeoutMs);
  }

  /** SIGTERM (by PID), then SIGKILL after 5 s; resolves with how it exited. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => {
        if (this.running) this.child.kill('SIGKILL');
      }, 5000);
      const r = await this.exited;
      clearTimeout(t);
      return r;
    }
    return this.exited;
  }
}

async function startProxy(topo: NatTopology): Promise<ProxyProcess> {
  const child = topo.execIn(
    'core',
    TSX,
    [NATTER, 'proxy', '--listen', PROXY, '--rtp-ports', `${RTP_MIN}-${RTP_MAX}`, '--nat-ping-interval', '0'],
    { cwd: REPO, env: { ...process.env, DEBUG: '' } },
  );
  const proxy = new ProxyProcess(child);
  await proxy.waitForLine((l) => (l.startsWith('natter proxy listening on') ? l : undefined), 15_000);
  return proxy;
}

function expectAllOk(r: SippResult, calls: number, who: string): void {
  const info = `${who}\n${describeSipp(r)}\n${r.messages.slice(-3000)}`;
  expect(r.statsFound, info).to.equal(true);
  expect(r.exitCode, info).to.equal(0);
  expect(r.successfulCalls, info).to.equal(calls);
  expect(r.failedCalls, info).to.equal(0);
}

/** One SIP message of sipp's -trace_msg log. */
interface Traced {
  direction: 'sent' | 'received';
  text: string;
  firstLine: string;
  sdp: string;
}

/** Split sipp's -trace_msg file into messages (each preceded by a dashed separator line). */
function tracedMessages(log: string): Traced[] {
  const out: Traced[] = [];
  for (const chunk of log.split(/^-{10,}.*$/m)) {
    const m = /^\s*\S+ message (sent|received)[^\n]*\n\s*\n([\s\S]*)$/.exec(chunk);
    if (!m) continue;
    const text = m[2]!.replace(/\r\n/g, '\n').trim();
    const blank = text.indexOf('\n\n');
    out.push({
      direction: m[1] as 'sent' | 'received',
      text,
      firstLine: text.split('\n')[0]!,
      sdp: blank === -1 ? '' : text.slice(blank + 2),
    });
  }
  return out;
}

function findMessage(log: string, direction: 'sent' | 'received', first: RegExp, cseq?: RegExp): Traced {
  const hit = tracedMessages(log).find(
    (t) => t.direction === direction && first.test(t.firstLine) && (cseq === undefined || cseq.test(t.text)),
  );
  if (!hit) throw new Error(`no ${direction} message ${first} in the sipp trace:\n${log.slice(-4000)}`);
  return hit;
}

function callIdOf(t: Traced): string {
  const m = /^(?:Call-ID|i)\s*:\s*(\S+)/im.exec(t.text);
  if (!m) throw new Error(`no Call-ID in\n${t.text}`);
  return m[1]!;
}

function mediaOf(sdp: string): { address: string; port: number } {
  const c = /^c=IN IP4 (\S+)/m.exec(sdp);
  const m = /^m=audio (\d+) /m.exec(sdp);
  if (!c || !m) throw new Error(`no c=/m=audio in SDP:\n${sdp}`);
  return { address: c[1]!, port: Number(m[1]) };
}

describe('interop: NAT proxy through a real NAT', function () {
  this.timeout(30_000);
  let topo: NatTopology | undefined;
  let proxy: ProxyProcess | undefined;
  let canCapture = false;

  before(async function () {
    this.timeout(40_000);
    const can = await canMakeNamespaces();
    if (!can.ok) {
      console.log(`    cannot build network namespaces (${can.reason}): skipping the NAT proof`);
      this.skip();
    }
    if (!(await sippAvailable()) || !pcapDir()) {
      console.log('    sipp or its g711a.pcap not installed (run .ci/install-deps.sh): skipping the NAT proof');
      this.skip();
    }
    canCapture = await tsharkAvailable();
    topo = await buildNatTopology();
    proxy = await startProxy(topo);
  });

  after(async () => {
    killAllSipp();
    if (proxy?.running) await proxy.stop();
    await topo?.teardown();
  });

  /** Register `user` from `ns` at localIp:localPort; returns the sipp result (with its trace). */
  async function register(ns: string, user: string, localIp: string, localPort: number, expires = 300): Promise<SippResult> {
    const r = await runSipp({
      scenario: 'nat-register',
      netns: ns,
      remote: PROXY,
      localIp,
      localPort,
      service: user,
      keys: { expires: String(expires) },
      timeoutSec: 6,
      traceMessages: true,
    });
    expectAllOk(r, 1, `REGISTER ${user}`);
    return r;
  }

  /** Start a callee UAS (after its REGISTER, on the same port) and wait until it listens. */
  async function callee(opts: Omit<SippOptions, 'calls' | 'timeoutSec' | 'traceMessages'>) {
    const uas = await startSipp({ ...opts, calls: 1, timeoutSec: 15, traceMessages: true });
    await uas.ready();
    return uas;
  }

  function caller(opts: Omit<SippOptions, 'calls' | 'timeoutSec' | 'traceMessages' | 'remote' | 'scenario'>): Promise<SippResult> {
    return runSipp({ ...opts, scenario: 'nat-uac-call', remote: PROXY, calls: 1, timeoutSec: 12, pauseMs: 2500, traceMessages: true });
  }

  it('caller behind NAT -> public callee: 200 OK reaches the NATed caller, RTP flows both ways through the relay', async () => {
    const t = topo!;
    const p = proxy!;
    const aliceReg = await register(t.ns.lan1, 'alice', t.addr.lan1, 5060);
    await register(t.ns.pub2, 'bob', t.addr.pub2, 5060);

    // the NAT really translated: the registrar saw alice at nat1's public address
    const regOk = findMessage(aliceReg.messages, 'received', /^SIP\/2\.0 200/);
    expect(regOk.text, regOk.text).to.match(/^Via:.*received=203\.0\.113\.10\b/im);

    let capture: Capture | undefined;
    if (canCapture) capture = await startUdpCapture(t.ns.core, { iface: 'br0', filter: 'udp', maxMs: 20_000 });
    let packets: CapturedUdp[] = [];
    let uac: SippResult;
    let uas: SippResult;
    try {
      const bob = await callee({
        scenario: 'nat-uas-echo',
        netns: t.ns.pub2,
        localIp: t.addr.pub2,
        localPort: 5060,
        service: 'bob',
        mediaIp: t.addr.pub2,
        mediaPort: 17000,
        rtpEcho: true,
      });
      uac = await caller({
        netns: t.ns.lan1,
        localIp: t.addr.lan1,
        localPort: 5060,
        service: 'bob',
        keys: { caller: 'alice' },
        mediaIp: t.addr.lan1,
        mediaPort: 16000,
      });
      if (uac.exitCode !== 0) bob.terminate();
      uas = await bob.done;
    } finally {
      packets = (await capture?.stop()) ?? [];
    }
    expectAllOk(uac, 1, 'alice (caller, lan1 behind nat1)');
    expectAllOk(uas, 1, 'bob (callee, pub2, -rtp_echo)');

    // the 200 OK reached alice behind nat1, with the relay (not bob) in its SDP
    const ok = findMessage(uac.messages, 'received', /^SIP\/2\.0 200/, /^CSeq:\s*1 INVITE/im);
    const answer = mediaOf(ok.sdp);
    expect(answer.address, ok.text).to.equal(PROXY_IP);
    expect(answer.port, ok.text).to.be.within(RTP_MIN, RTP_MAX);
    expect(ok.sdp, ok.text).not.to.contain(t.addr.pub2);

    // bob's INVITE: relay address in the SDP, no private address, alice seen at 203.0.113.10
    const invite = findMessage(uas.messages, 'received', /^INVITE /);
    const offer = mediaOf(invite.sdp);
    expect(offer.address, invite.text).to.equal(PROXY_IP);
    expect(offer.port, invite.text).to.be.within(RTP_MIN, RTP_MAX);
    expect(invite.sdp, invite.text).not.to.match(/192\.168\./);
    expect(invite.text, invite.text).to.match(/^Via: SIP\/2\.0\/UDP 192\.168\.50\.2:5060;.*received=203\.0\.113\.10/m);
    expect(invite.text, invite.text).to.match(/^Record-Route:.*203\.0\.113\.1/im);

    // the proxy's verdict and its relay's counters
    const line = await p.callLine(callIdOf(ok));
    expect(line.natted, line.line).to.equal(true);
    expect(line.natTests, line.line).to.include('via-sent-by');
    expect(line.relay, line.line).not.to.equal('none');
    expect(line.result, line.line).to.equal('bye');
    expect(line.rtpIn, line.line).to.not.equal(undefined);
    expect(line.rtpIn!.fromCaller, line.line).to.be.greaterThan(20);
    expect(line.rtpIn!.fromCallee, line.line).to.be.greaterThan(20);

    if (canCapture) {
      const dump = JSON.stringify(packets.slice(0, 20));
      // on the public segment nobody ever shows a private address
      expect(packets.some((q) => q.src.startsWith('192.168.') || q.dst.startsWith('192.168.')), dump).to.equal(false);
      const relayPort = (q: number) => q >= RTP_MIN && q <= RTP_MAX;
      const aliceToRelay = packets.filter((q) => q.src === t.addr.nat1Public && q.dst === PROXY_IP && relayPort(q.dstPort));
      const relayToAlice = packets.filter((q) => q.dst === t.addr.nat1Public && q.src === PROXY_IP && relayPort(q.srcPort));
      const relayToBob = packets.filter((q) => q.dst === t.addr.pub2 && q.dstPort === 17000 && relayPort(q.srcPort));
      const bobToRelay = packets.filter((q) => q.src === t.addr.pub2 && q.srcPort === 17000 && relayPort(q.dstPort));
      expect(aliceToRelay.length, dump).to.be.greaterThan(20);
      expect(relayToBob.length, dump).to.be.greaterThan(20);
      expect(bobToRelay.length, dump).to.be.greaterThan(20);
      expect(relayToAlice.length, dump).to.be.greaterThan(20);
      // no media went around the relay
      expect(packets.some((q) => q.src === t.addr.nat1Public && q.dst === t.addr.pub2), dump).to.equal(false);
    }
  });

  it('caller behind NAT -> callee behind a second NAT: both latched, RTP both ways through the relay', async () => {
    const t = topo!;
    const p = proxy!;
    await register(t.ns.lan1, 'alice', t.addr.lan1, 5060);
    await register(t.ns.lan2, 'bob2', t.addr.lan2, 5060);
    const bob2 = await callee({
      scenario: 'nat-uas-play',
      netns: t.ns.lan2,
      localIp: t.addr.lan2,
      localPort: 5060,
      service: 'bob2',
      mediaIp: t.addr.lan2,
      mediaPort: 18000,
      rtpEcho: true,
    });
    const uac = await caller({
      netns: t.ns.lan1,
      localIp: t.addr.lan1,
      localPort: 5060,
      service: 'bob2',
      keys: { caller: 'alice' },
      mediaIp: t.addr.lan1,
      mediaPort: 16100,
    });
    if (uac.exitCode !== 0) bob2.terminate();
    const uas = await bob2.done;
    expectAllOk(uac, 1, 'alice (caller, lan1 behind nat1)');
    expectAllOk(uas, 1, 'bob2 (callee, lan2 behind nat2, plays and echoes)');

    // the INVITE got through nat2 to bob2's registered mapping; the proxy saw alice at nat1
    const invite = findMessage(uas.messages, 'received', /^INVITE sip:bob2@/);
    expect(mediaOf(invite.sdp).address, invite.text).to.equal(PROXY_IP);
    expect(invite.sdp, invite.text).not.to.match(/192\.168\./);
    expect(invite.text, invite.text).to.match(/^Via: SIP\/2\.0\/UDP 192\.168\.50\.2:5060;.*received=203\.0\.113\.10/m);

    const ok = findMessage(uac.messages, 'received', /^SIP\/2\.0 200/, /^CSeq:\s*1 INVITE/im);
    expect(mediaOf(ok.sdp).address, ok.text).to.equal(PROXY_IP);
    expect(ok.sdp, ok.text).not.to.match(/192\.168\./);

    const line = await p.callLine(callIdOf(ok));
    expect(line.natted, line.line).to.equal(true);
    expect(line.natTests, line.line).to.include('via-sent-by');
    expect(line.relay, line.line).not.to.equal('none');
    expect(line.result, line.line).to.equal('bye');
    expect(line.rtpIn, line.line).to.not.equal(undefined);
    expect(line.rtpIn!.fromCaller, line.line).to.be.greaterThan(20);
    expect(line.rtpIn!.fromCallee, line.line).to.be.greaterThan(20);
  });

  it('public caller -> public callee: no NAT, no relay, SDP untouched', async () => {
    const t = topo!;
    const p = proxy!;
    await register(t.ns.pub2, 'dave', t.addr.pub2, 5064);
    const dave = await callee({
      scenario: 'nat-uas-echo',
      netns: t.ns.pub2,
      localIp: t.addr.pub2,
      localPort: 5064,
      service: 'dave',
      mediaIp: t.addr.pub2,
      mediaPort: 19000,
      rtpEcho: true,
    });
    const uac = await caller({
      netns: t.ns.pub2,
      localIp: t.addr.pub2,
      localPort: 5062,
      service: 'dave',
      keys: { caller: 'carol' },
      mediaIp: t.addr.pub2,
      mediaPort: 19100,
    });
    if (uac.exitCode !== 0) dave.terminate();
    const uas = await dave.done;
    expectAllOk(uac, 1, 'carol (caller, pub2)');
    expectAllOk(uas, 1, 'dave (callee, pub2)');

    const invite = findMessage(uas.messages, 'received', /^INVITE sip:dave@/);
    expect(mediaOf(invite.sdp).address, invite.text).to.equal(t.addr.pub2);
    const ok = findMessage(uac.messages, 'received', /^SIP\/2\.0 200/, /^CSeq:\s*1 INVITE/im);
    expect(mediaOf(ok.sdp), ok.text).to.deep.equal({ address: t.addr.pub2, port: 19000 });

    const line = await p.callLine(callIdOf(ok));
    expect(line.natted, line.line).to.equal(false);
    expect(line.relay, line.line).to.equal('none');
    expect(line.rtpIn, line.line).to.equal(undefined);
    expect(line.result, line.line).to.equal('bye');
  });

  it('the proxy stops cleanly on SIGTERM (exit code 0)', async () => {
    const p = proxy!;
    const { code, signal } = await p.stop();
    expect({ code, signal }, `stdout:\n${p.lines.join('\n')}\nstderr:\n${p.stderr}`).to.deep.equal({ code: 0, signal: null });
    console.log(p.lines.map((l) => `      | ${l}`).join('\n'));
  });
});
