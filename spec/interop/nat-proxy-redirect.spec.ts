/**
 * The NAT proof of spec/interop/nat-proxy.spec.ts run again with the proxy obtaining its relay
 * resources from a relay server on another host, over the relay-by-redirect protocol (claims 2, 3,
 * 5, 6, 8, 9): `natter relay` runs in a namespace of its own, `relay` (203.0.113.2 on the public
 * bridge), and `natter proxy --relay sip:relay@203.0.113.2:5070` in `core`. Both check each other:
 * the relay only accepts the proxy's address (--allow) and signed requests (a shared secret).
 *
 *   alice  lan1 192.168.50.2:5060  behind nat1 (public 203.0.113.10)
 *   bob    pub2 203.0.113.20:5060  public;  bob2 lan2 192.168.60.2:5060 behind nat2 (203.0.113.11)
 *   proxy  core  203.0.113.1:5060
 *   relay  relay 203.0.113.2:5070, media ports 31000-31099 on 203.0.113.2
 *
 * What proves it: sipp's calls succeed with RTP both ways; the SDPs name the relay server; the
 * relay's own release line counts the packets from each party; the proxy's call line carries
 * rtp-in from the relay's listing; tshark on the relay's interface shows the INVITE to the relay,
 * its 302 with application/sdp and the resource URI in Contact, the answer's INVITE to that URI,
 * the BYE; and the RTP between the parties and the relay's ports.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeSipp, killAllSipp, pcapDir, runSipp, sippAvailable, startSipp, type SippOptions, type SippResult } from '../support/sipp.js';
import {
  buildNatTopology,
  canMakeNamespaces,
  startSipCapture,
  startUdpCapture,
  tsharkAvailable,
  type CapturedSip,
  type CapturedUdp,
  type NatTopology,
} from '../support/netns.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX = path.join(REPO, 'node_modules', '.bin', 'tsx');
const NATTER = path.join(REPO, 'lib', 'bin', 'natter.ts');

const PROXY_IP = '203.0.113.1';
const PROXY = `${PROXY_IP}:5060`;
const RELAY_IP = '203.0.113.2';
const RELAY_SIP_PORT = 5070;
const RTP_MIN = 31000;
const RTP_MAX = 31099;
const SECRET = 'interop-shared-secret';

const CALL_LINE =
  /^call (\S+) -> (\S+) nat=(?:yes\(([^)]*)\)|(no)) relay=(\S+)(?: rtp-in=(\d+)\/(\d+))? result=(\S+) duration=[\d.]+s call-id=(\S+)\s*$/;

interface CallLine {
  line: string;
  natted: boolean;
  relay: string;
  rtpIn: { fromCaller: number; fromCallee: number } | undefined;
  result: string;
  callId: string;
}

function parseCallLine(line: string): CallLine | undefined {
  const m = CALL_LINE.exec(line);
  if (!m) return undefined;
  return {
    line,
    natted: m[4] === undefined,
    relay: m[5]!,
    rtpIn: m[6] === undefined ? undefined : { fromCaller: Number(m[6]), fromCallee: Number(m[7]) },
    result: m[8]!,
    callId: m[9]!,
  };
}

/** The relay's release line: `release reason=bye r... call-id=X ... ports=A/B rtp-in=N/M`. */
interface ReleaseLine {
  line: string;
  reason: string;
  id: string;
  callId: string;
  ports: string;
  fromCaller: number;
  fromCallee: number;
}

function parseReleaseLine(line: string): ReleaseLine | undefined {
  const m = /^release reason=(\S+) (r[0-9a-f]+) .*\bcall-id=(\S+) .*\bports=(\S+) rtp-in=(\d+)\/(\d+)$/.exec(line);
  if (!m) return undefined;
  return { line, reason: m[1]!, id: m[2]!, callId: m[3]!, ports: m[4]!, fromCaller: Number(m[5]), fromCallee: Number(m[6]) };
}

/** A `natter` command running in a namespace, its stdout split into lines. */
class NatterProcess {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
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

  async waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines) {
        const hit = match(line);
        if (hit !== undefined) return hit;
      }
      const left = deadline - Date.now();
      if (left <= 0 || !this.running) {
        throw new Error(`${this.name}: no matching line within ${timeoutMs} ms\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
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

  /** SIGTERM (by PID), then SIGKILL after 5 s. */
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

function expectAllOk(r: SippResult, calls: number, who: string): void {
  const info = `${who}\n${describeSipp(r)}\n${r.messages.slice(-3000)}`;
  expect(r.statsFound, info).to.equal(true);
  expect(r.exitCode, info).to.equal(0);
  expect(r.successfulCalls, info).to.equal(calls);
  expect(r.failedCalls, info).to.equal(0);
}

interface Traced {
  direction: 'sent' | 'received';
  text: string;
  firstLine: string;
  sdp: string;
}

function tracedMessages(log: string): Traced[] {
  const out: Traced[] = [];
  for (const chunk of log.split(/^-{10,}.*$/m)) {
    const m = /^\s*\S+ message (sent|received)[^\n]*\n\s*\n([\s\S]*)$/.exec(chunk);
    if (!m) continue;
    const text = m[2]!.replace(/\r\n/g, '\n').trim();
    const blank = text.indexOf('\n\n');
    out.push({ direction: m[1] as 'sent' | 'received', text, firstLine: text.split('\n')[0]!, sdp: blank === -1 ? '' : text.slice(blank + 2) });
  }
  return out;
}

function findMessage(log: string, direction: 'sent' | 'received', first: RegExp, cseq?: RegExp): Traced {
  const hit = tracedMessages(log).find((t) => t.direction === direction && first.test(t.firstLine) && (cseq === undefined || cseq.test(t.text)));
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

describe('interop: NAT proxy with a relay server in its own namespace (relay-by-redirect)', function () {
  this.timeout(30_000);
  let topo: NatTopology | undefined;
  let proxy: NatterProcess | undefined;
  let relay: NatterProcess | undefined;
  let canCapture = false;

  before(async function () {
    this.timeout(40_000);
    const can = await canMakeNamespaces();
    if (!can.ok) {
      console.log(`    cannot build network namespaces (${can.reason}): skipping the relay-server NAT proof`);
      this.skip();
    }
    if (!(await sippAvailable()) || !pcapDir()) {
      console.log('    sipp or its g711a.pcap not installed (run .ci/install-deps.sh): skipping the relay-server NAT proof');
      this.skip();
    }
    canCapture = await tsharkAvailable();
    topo = await buildNatTopology({ relay: true });
    const env = { ...process.env, DEBUG: '', NATTER_RELAY_SECRET: SECRET };
    relay = new NatterProcess(
      'natter relay',
      topo.execIn(
        'relay',
        TSX,
        [NATTER, 'relay', '--listen', `${RELAY_IP}:${RELAY_SIP_PORT}`, '--media-address', RELAY_IP, '--rtp-ports', `${RTP_MIN}-${RTP_MAX}`, '--allow', PROXY_IP],
        { cwd: REPO, env },
      ),
    );
    proxy = new NatterProcess(
      'natter proxy',
      topo.execIn(
        'core',
        TSX,
        [NATTER, 'proxy', '--listen', PROXY, '--relay', `sip:relay@${RELAY_IP}:${RELAY_SIP_PORT};check=500;owner=interop-proxy`, '--nat-ping-interval', '0'],
        { cwd: REPO, env },
      ),
    );
    await relay.waitForLine((l) => (l.startsWith('natter relay listening on') ? l : undefined), 15_000);
    await proxy.waitForLine((l) => (l.startsWith('natter proxy listening on') ? l : undefined), 15_000);
  });

  after(async () => {
    killAllSipp();
    if (proxy?.running) await proxy.stop();
    if (relay?.running) await relay.stop();
    await topo?.teardown();
  });

  async function register(ns: string, user: string, localIp: string, localPort: number): Promise<void> {
    const r = await runSipp({ scenario: 'nat-register', netns: ns, remote: PROXY, localIp, localPort, service: user, keys: { expires: '300' }, timeoutSec: 6, traceMessages: true });
    expectAllOk(r, 1, `REGISTER ${user}`);
  }

  async function callee(opts: Omit<SippOptions, 'calls' | 'timeoutSec' | 'traceMessages'>) {
    const uas = await startSipp({ ...opts, calls: 1, timeoutSec: 15, traceMessages: true });
    await uas.ready();
    return uas;
  }

  function caller(opts: Omit<SippOptions, 'calls' | 'timeoutSec' | 'traceMessages' | 'remote' | 'scenario'>): Promise<SippResult> {
    return runSipp({ ...opts, scenario: 'nat-uac-call', remote: PROXY, calls: 1, timeoutSec: 12, pauseMs: 2500, traceMessages: true });
  }

  it('caller behind NAT -> public callee: media through the relay server, its counters, and the INVITE/302 exchange on the wire', async () => {
    const t = topo!;
    await register(t.ns.lan1, 'alice', t.addr.lan1, 5060);
    await register(t.ns.pub2, 'bob', t.addr.pub2, 5060);

    let sipCapture: Awaited<ReturnType<typeof startSipCapture>> | undefined;
    let rtpCapture: Awaited<ReturnType<typeof startUdpCapture>> | undefined;
    if (canCapture) {
      sipCapture = await startSipCapture(t.ns.relay!, { iface: 'wan', ports: [RELAY_SIP_PORT], maxMs: 20_000 });
      rtpCapture = await startUdpCapture(t.ns.relay!, { iface: 'wan', filter: `udp portrange ${RTP_MIN}-${RTP_MAX}`, maxMs: 20_000 });
    }
    let sip: CapturedSip[] = [];
    let rtp: CapturedUdp[] = [];
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
      uac = await caller({ netns: t.ns.lan1, localIp: t.addr.lan1, localPort: 5060, service: 'bob', keys: { caller: 'alice' }, mediaIp: t.addr.lan1, mediaPort: 16000 });
      if (uac.exitCode !== 0) bob.terminate();
      uas = await bob.done;
      // the BYE to the relay follows the caller's BYE: wait for the relay's release line before stopping the captures
      await relay!
        .waitForLine((l) => (parseReleaseLine(l)?.callId === callIdOf(findMessage(uac.messages, 'received', /^SIP\/2\.0 200/, /^CSeq:\s*1 INVITE/im)) ? l : undefined), 3000)
        .catch(() => undefined);
      await sipCapture?.waitFor((m) => m.requestLine?.startsWith('BYE ') === true && m.dstPort === RELAY_SIP_PORT, 3000);
    } finally {
      sip = (await sipCapture?.stop()) ?? [];
      rtp = (await rtpCapture?.stop()) ?? [];
    }
    expectAllOk(uac, 1, 'alice (caller, lan1 behind nat1)');
    expectAllOk(uas, 1, 'bob (callee, pub2, -rtp_echo)');

    // both parties were given the relay server's address, never each other's or a private one
    const ok = findMessage(uac.messages, 'received', /^SIP\/2\.0 200/, /^CSeq:\s*1 INVITE/im);
    const answer = mediaOf(ok.sdp);
    expect(answer.address, ok.text).to.equal(RELAY_IP);
    expect(answer.port, ok.text).to.be.within(RTP_MIN, RTP_MAX);
    const invite = findMessage(uas.messages, 'received', /^INVITE /);
    const offer = mediaOf(invite.sdp);
    expect(offer.address, invite.text).to.equal(RELAY_IP);
    expect(offer.port, invite.text).to.be.within(RTP_MIN, RTP_MAX);
    expect(invite.sdp, invite.text).not.to.match(/192\.168\./);

    // the relay's own counters: its release line for this call
    const callId = callIdOf(ok);
    const release = await relay!.waitForLine((l) => {
      const r = parseReleaseLine(l);
      return r !== undefined && r.callId === callId ? r : undefined;
    }, 3000);
    expect(release.reason, release.line).to.equal('bye');
    expect(release.ports, release.line).to.equal(`${answer.port}/${offer.port}`);
    expect(release.fromCaller, release.line).to.be.greaterThan(20);
    expect(release.fromCallee, release.line).to.be.greaterThan(20);
    expect(relay!.lines.some((l) => l.startsWith(`allocate from ${PROXY_IP}:`) && l.includes(`call-id=${callId}`) && l.includes('owner=interop-proxy')), relay!.lines.join('\n')).to.equal(true);

    // the proxy's call line: relayed, with rtp-in read from the relay's listing
    const line = await proxy!.waitForLine((l) => {
      const c = parseCallLine(l);
      return c !== undefined && c.callId === callId ? c : undefined;
    }, 3000);
    expect(line.natted, line.line).to.equal(true);
    expect(line.relay, line.line).to.equal(`${answer.port}/${offer.port}`);
    expect(line.result, line.line).to.equal('bye');
    expect(line.rtpIn, line.line).to.not.equal(undefined);
    expect(line.rtpIn!.fromCaller, line.line).to.be.greaterThan(0);
    expect(line.rtpIn!.fromCallee, line.line).to.be.greaterThan(0);

    if (canCapture) {
      const dump = sip.map((m) => `${m.src}:${m.srcPort} -> ${m.dst}:${m.dstPort} ${m.requestLine ?? m.statusLine} | ${m.cseq} | ${m.contentType} | ${m.contact}`).join('\n');
      // claim 3: the relay server resource request is a SIP INVITE...
      const allocate = sip.find((m) => m.requestLine?.startsWith(`INVITE sip:relay@${RELAY_IP}:${RELAY_SIP_PORT} `) && m.src === PROXY_IP && m.contentType === 'application/sdp');
      expect(allocate, dump).to.not.equal(undefined);
      // ...and the resource message a SIP redirect with an SDP payload naming the resource
      const redirect = sip.find((m) => m.statusLine?.startsWith('SIP/2.0 302') && m.src === RELAY_IP && m.dst === PROXY_IP && m.cseq === '1 INVITE');
      expect(redirect, dump).to.not.equal(undefined);
      expect(redirect!.contentType, dump).to.equal('application/sdp');
      const resource = /sip:(r[0-9a-f]+)@203\.0\.113\.2:5070/.exec(redirect!.contact);
      expect(resource, dump).to.not.equal(null);
      expect(resource![1], dump).to.equal(release.id);
      // the ACK for the 302 (RFC 3261 §17.1.1.3), the answer to the resource URI, its 302, and the BYE
      expect(sip.some((m) => m.requestLine?.startsWith(`ACK sip:relay@${RELAY_IP}`)), dump).to.equal(true);
      expect(sip.some((m) => m.requestLine?.startsWith(`INVITE sip:${release.id}@${RELAY_IP}:${RELAY_SIP_PORT} `)), dump).to.equal(true);
      expect(sip.some((m) => m.requestLine?.startsWith(`BYE sip:${release.id}@${RELAY_IP}:${RELAY_SIP_PORT} `)), dump).to.equal(true);
      expect(sip.filter((m) => m.statusLine?.startsWith('SIP/2.0 302')).length, dump).to.be.at.least(2);

      // RTP both ways between each party and the relay server's ports
      const rtpDump = JSON.stringify(rtp.slice(0, 20));
      const aliceToRelay = rtp.filter((q) => q.src === t.addr.nat1Public && q.dst === RELAY_IP && q.dstPort === answer.port);
      const relayToAlice = rtp.filter((q) => q.dst === t.addr.nat1Public && q.src === RELAY_IP && q.srcPort === answer.port);
      const bobToRelay = rtp.filter((q) => q.src === t.addr.pub2 && q.srcPort === 17000 && q.dstPort === offer.port);
      const relayToBob = rtp.filter((q) => q.dst === t.addr.pub2 && q.dstPort === 17000 && q.srcPort === offer.port);
      for (const flow of [aliceToRelay, relayToAlice, bobToRelay, relayToBob]) expect(flow.length, rtpDump).to.be.greaterThan(20);
      expect(rtp.some((q) => q.src.startsWith('192.168.') || q.dst.startsWith('192.168.')), rtpDump).to.equal(false);
    }
  });

  it('caller behind NAT -> callee behind a second NAT: both latched at the relay server, RTP both ways', async () => {
    const t = topo!;
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
    const uac = await caller({ netns: t.ns.lan1, localIp: t.addr.lan1, localPort: 5060, service: 'bob2', keys: { caller: 'alice' }, mediaIp: t.addr.lan1, mediaPort: 16100 });
    if (uac.exitCode !== 0) bob2.terminate();
    const uas = await bob2.done;
    expectAllOk(uac, 1, 'alice (caller, lan1 behind nat1)');
    expectAllOk(uas, 1, 'bob2 (callee, lan2 behind nat2)');
    const ok = findMessage(uac.messages, 'received', /^SIP\/2\.0 200/, /^CSeq:\s*1 INVITE/im);
    expect(mediaOf(ok.sdp).address, ok.text).to.equal(RELAY_IP);
    const invite = findMessage(uas.messages, 'received', /^INVITE sip:bob2@/);
    expect(mediaOf(invite.sdp).address, invite.text).to.equal(RELAY_IP);
    const callId = callIdOf(ok);
    const release = await relay!.waitForLine((l) => {
      const r = parseReleaseLine(l);
      return r !== undefined && r.callId === callId ? r : undefined;
    }, 3000);
    expect(release.fromCaller, release.line).to.be.greaterThan(20);
    expect(release.fromCallee, release.line).to.be.greaterThan(20);
  });

  it('the relay server and the proxy stop cleanly on SIGTERM (exit code 0), nothing left allocated', async () => {
    expect(relay!.lines.filter((l) => l.startsWith('refuse')), relay!.lines.join('\n')).to.deep.equal([]);
    const p = await proxy!.stop();
    const r = await relay!.stop();
    expect(p.code, proxy!.stderr).to.equal(0);
    expect(r.code, relay!.stderr).to.equal(0);
    expect(relay!.lines.filter((l) => l.startsWith('release reason=shutdown')), relay!.lines.join('\n')).to.deep.equal([]);
  });
});
