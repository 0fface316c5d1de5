/**
 * Media relay bench: N concurrent streams of 20 ms audio (50 packets/s each way, 172-byte RTP
 * packets) through natter's local relay (in a process of its own) and through rtpengine in
 * userspace mode (--table=-1), in the same run, plus the same streams sent directly (no relay)
 * as the baseline for latency and as a check on the generator itself.
 *
 * Figures per relay: delivered packets/s and loss at each N, median and 99th percentile
 * one-way latency with the direct baseline's median subtracted ("added latency"), and the
 * highest delivered packets/s with under 1% loss as N is stepped up.
 *
 *   npm run bench:media
 *   BENCH_QUICK=1 npm run bench:media
 *
 * The generator is one Node process on the same 2 cores as the relay: where the direct baseline
 * also loses packets at some N, the figure there is bounded by the generator, and the table says
 * so.
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, type Child, QUICK, buildNatter, commandExists, cpuSeconds, fmt, log, nodeFlags, sleep, startChild, table } from './support/harness.js';
import { NgClient } from './support/ng.js';
import { startRtpengineUserspace } from './support/targets.js';

const PACKET = 172; // 12-byte RTP header + 160 bytes of 20 ms G.711
const PTIME_MS = 20;

interface Stream {
  a: dgram.Socket;
  b: dgram.Socket;
  aPort: number;
  bPort: number;
  /** where A sends (the relay's caller-facing port, or B's port directly) */
  aTo: number;
  bTo: number;
}

export interface MediaStep {
  system: string;
  streams: number;
  offeredPps: number;
  deliveredPps: number;
  loss: number;
  p50us: number;
  p99us: number;
  /** share of the scheduled packets the generator managed to send */
  sentShare: number;
  /** relay CPU over the window, share of one core */
  cpu?: number;
}

// ---------------------------------------------------------------------------------------------
// generator

async function bindSocket(): Promise<{ s: dgram.Socket; port: number }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  try {
    s.setRecvBufferSize(1 << 20);
  } catch {
    /* capped */
  }
  return { s, port: s.address().port };
}

async function openStreams(n: number): Promise<Stream[]> {
  const out: Stream[] = [];
  for (let i = 0; i < n; i++) {
    const a = await bindSocket();
    const b = await bindSocket();
    out.push({ a: a.s, b: b.s, aPort: a.port, bPort: b.port, aTo: b.port, bTo: a.port });
  }
  return out;
}

function closeStreams(streams: Stream[]): void {
  for (const s of streams) {
    s.a.close();
    s.b.close();
  }
}

/**
 * Sends 50 packets/s each way on every stream, phases spread evenly over the 20 ms, for warm +
 * window ms; counts what was sent and received during the window (by send time) and samples
 * one-way latency (send timestamp in the payload; the same clock at both ends).
 */
async function drive(streams: Stream[], warmMs: number, windowMs: number, cpuPid?: number): Promise<Omit<MediaStep, 'system'>> {
  const n = streams.length;
  const origin = performance.now();
  const nowUs = (): number => (performance.now() - origin) * 1000;
  const winStart = warmMs * 1000;
  const winEnd = (warmMs + windowMs) * 1000;
  let sent = 0;
  let received = 0;
  const lat = new Float64Array(400_000);
  let latN = 0;
  let latSeen = 0;
  const onMessage = (msg: Buffer): void => {
    if (msg.length < 24) return;
    const t = msg.readDoubleLE(16);
    if (t < winStart || t >= winEnd) return;
    received++;
    latSeen++;
    const d = nowUs() - t;
    if (latN < lat.length) lat[latN++] = d;
    else {
      // reservoir sampling once the buffer is full
      const j = Math.floor(Math.random() * latSeen);
      if (j < lat.length) lat[j] = d;
    }
  };
  const packets = streams.map((_, i) => {
    const p = Buffer.alloc(PACKET);
    p[0] = 0x80;
    p[1] = 0; // PCMU
    p.writeUInt32BE(0x1000 + i, 8); // SSRC
    p.writeUInt32LE(i, 12);
    return [p, Buffer.from(p)] as const;
  });
  for (const s of streams) {
    s.a.on('message', onMessage);
    s.b.on('message', onMessage);
  }
  const seq = new Uint16Array(n);
  // stream i is due at phase (i * 20 ms / n) in each 20 ms period
  let nextIndex = 0;
  let period = 0;
  const phaseUs = (i: number): number => (i * PTIME_MS * 1000) / n;
  const endUs = winEnd;
  const cpu0 = cpuPid !== undefined ? cpuSeconds(cpuPid) : 0;
  let cpuT0 = 0;
  let cpuW0 = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = nowUs();
      if (cpuT0 === 0 && now >= winStart && cpuPid !== undefined) {
        cpuT0 = cpuSeconds(cpuPid);
        cpuW0 = now;
      }
      for (;;) {
        const due = period * PTIME_MS * 1000 + phaseUs(nextIndex);
        if (due > now) break;
        if (due >= endUs) {
          resolve();
          return;
        }
        const s = streams[nextIndex]!;
        const [pa, pb] = packets[nextIndex]!;
        const q = ++seq[nextIndex]!;
        const ts = now; // the tick's time: sends follow at once
        pa.writeUInt16BE(q, 2);
        pa.writeUInt32BE(q * 160, 4);
        pa.writeDoubleLE(ts, 16);
        pb.writeUInt16BE(q, 2);
        pb.writeUInt32BE(q * 160, 4);
        pb.writeDoubleLE(ts, 16);
        s.a.send(pa, s.aTo, '127.0.0.1');
        s.b.send(pb, s.bTo, '127.0.0.1');
        if (ts >= winStart && ts < winEnd) sent += 2;
        if (++nextIndex === n) {
          nextIndex = 0;
          period++;
        }
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  const cpu1 = cpuPid !== undefined ? cpuSeconds(cpuPid) : 0;
  const cpuWall = (nowUs() - cpuW0) / 1e6;
  await sleep(300); // packets in flight
  for (const s of streams) {
    s.a.removeAllListeners('message');
    s.b.removeAllListeners('message');
  }
  const sample = lat.subarray(0, latN).sort();
  const pct = (p: number): number => (sample.length === 0 ? NaN : sample[Math.min(sample.length - 1, Math.floor(p * sample.length))]!);
  void cpu0;
  return {
    streams: n,
    offeredPps: (n * 2 * 1000) / PTIME_MS,
    deliveredPps: received / (windowMs / 1000),
    // against what should have been sent: a generator that falls behind counts as loss here
    loss: Math.max(0, 1 - received / ((n * 2 * windowMs) / PTIME_MS)),
    sentShare: sent / ((n * 2 * windowMs) / PTIME_MS),
    p50us: pct(0.5),
    p99us: pct(0.99),
    ...(cpuPid !== undefined && cpuWall > 0 ? { cpu: (cpu1 - cpuT0) / cpuWall } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// relays

function sdp(port: number, who: string): string {
  return ['v=0', `o=${who} 1 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=rtcp-mux', 'a=sendrecv', ''].join('\r\n');
}

function mediaPort(s: string): number {
  const m = /m=audio (\d+) /.exec(s);
  if (!m) throw new Error(`no m=audio in relay SDP:\n${s}`);
  return Number(m[1]);
}

interface Relay {
  name: string;
  pid: number;
  /** points each stream's aTo/bTo at the relay */
  allocate(streams: Stream[], tag: string): Promise<void>;
  release(streams: Stream[], tag: string): Promise<void>;
  stop(): Promise<void>;
}

class Ipc {
  #seq = 0;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  constructor(readonly child: import('node:child_process').ChildProcess) {
    child.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.result);
    });
  }
  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, op, ...args });
    });
  }
}

/** natter's LocalRelayAllocator in a child process (bench/peers/relay-host.mjs). */
export async function startLocalRelay(min: number, max: number, exposeGc = false): Promise<Relay & { ipc: Ipc; child: Child }> {
  const dist = buildNatter();
  const child = startChild('natter-relay', process.execPath, [...(exposeGc ? ['--expose-gc'] : []), ...nodeFlags('relay', dist), path.join(BENCH_DIR, 'peers', 'relay-host.mjs'), dist, String(min), String(max)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.proc.once('message', () => resolve());
    void child.exited.then(() => reject(new Error(`relay host exited:\n${child.tail()}`)));
  });
  const ipc = new Ipc(child.proc);
  return {
    name: 'natter local relay',
    pid: child.pid,
    ipc,
    child,
    async allocate(streams, tag) {
      const batch = 200;
      for (let i = 0; i < streams.length; i += batch) {
        const part = streams.slice(i, i + batch);
        const res = await ipc.call<{ forCaller: string; forCallee: string }[]>('allocate', {
          streams: part.map((s, j) => ({ callId: `${tag}-${i + j}`, offer: sdp(s.aPort, 'a'), answer: sdp(s.bPort, 'b') })),
        });
        res.forEach((r, j) => {
          part[j]!.aTo = mediaPort(r.forCaller);
          part[j]!.bTo = mediaPort(r.forCallee);
        });
      }
    },
    async release(streams, tag) {
      await ipc.call('release', { callIds: streams.map((_, i) => `${tag}-${i}`) });
    },
    stop: () => child.stop(),
  };
}

/** rtpengine-daemon in userspace mode, driven over ng. */
async function startRtpengine(min: number, max: number): Promise<Relay> {
  // streams are set up before the measurement starts: no media timeout meanwhile
  const { child, ngPort: ng } = await startRtpengineUserspace(min, max, ['--timeout=600']);
  const client = new NgClient('127.0.0.1', ng);
  return {
    name: 'rtpengine (userspace)',
    pid: child.pid,
    async allocate(streams, tag) {
      const one = async (s: Stream, i: number): Promise<void> => {
        const callId = `${tag}-${i}`;
        const o = await client.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdp(s.aPort, 'a'), replace: ['origin', 'session-connection'] });
        if (o.result !== 'ok') throw new Error(`rtpengine offer: ${JSON.stringify(o)}`);
        const a = await client.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(s.bPort, 'b'), replace: ['origin', 'session-connection'] });
        if (a.result !== 'ok') throw new Error(`rtpengine answer: ${JSON.stringify(a)}`);
        s.bTo = mediaPort(o.sdp as string);
        s.aTo = mediaPort(a.sdp as string);
      };
      for (let i = 0; i < streams.length; i += 50) await Promise.all(streams.slice(i, i + 50).map((s, j) => one(s, i + j)));
    },
    async release(streams, tag) {
      for (let i = 0; i < streams.length; i += 50) {
        await Promise.all(streams.slice(i, i + 50).map((_, j) => client.request({ command: 'delete', 'call-id': `${tag}-${i + j}`, 'from-tag': 'a' }).catch(() => undefined)));
      }
    },
    async stop() {
      client.close();
      await child.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------

export interface MediaResult {
  steps: MediaStep[];
  /** highest delivered pps with loss under 1%, per system */
  maxPps: Record<string, { pps: number; streams: number; limitedBy?: string }>;
  /** relay CPU microseconds per forwarded packet at the latency steps (lower is better) */
  cpuPerPacket: Record<string, number>;
  skipped: string[];
}

const LOSS_OK = 0.01;

export async function mediaPps(): Promise<MediaResult> {
  const list = (v: string | undefined, d: number[]): number[] => (v === undefined ? d : v.split(',').filter(Boolean).map(Number));
  const latencyN = list(process.env.BENCH_MEDIA_STREAMS, QUICK ? [200] : [50, 200]);
  const rampN = list(process.env.BENCH_MEDIA_RAMP, QUICK ? [500, 1000] : [500, 750, 1000, 1250, 1500, 2000]);
  const noRtpengine = process.env.BENCH_MEDIA_RTPENGINE === '0';
  const warmMs = 1000;
  const windowMs = QUICK ? 3000 : 5000;
  const steps: MediaStep[] = [];
  const skipped: string[] = [];
  const maxPps: MediaResult['maxPps'] = {};
  const direct = 'direct (no relay)';
  const systems: (() => Promise<Relay>)[] = [async () => startLocalRelay(20000, 29999)];
  if (noRtpengine) skipped.push('rtpengine left out (BENCH_MEDIA_RTPENGINE=0)');
  else if (commandExists('rtpengine')) systems.push(async () => startRtpengine(30000, 39999));
  else skipped.push('rtpengine not installed (bash bench/install-deps.sh)');

  const run = async (relay: Relay | undefined, n: number, tag: string): Promise<MediaStep> => {
    const streams = await openStreams(n);
    try {
      if (relay) await relay.allocate(streams, tag);
      const r = await drive(streams, warmMs, windowMs, relay?.pid);
      const step: MediaStep = { system: relay?.name ?? direct, ...r };
      log(
        `media ${step.system} ${n} streams: ${fmt(step.deliveredPps)} pps of ${fmt(step.offeredPps)} (generator sent ${(step.sentShare * 100).toFixed(1)}%), loss ${(step.loss * 100).toFixed(2)}%, latency p50 ${fmt(step.p50us)} us p99 ${fmt(step.p99us)} us` +
          (step.cpu !== undefined ? `, relay cpu ${(step.cpu * 100).toFixed(0)}%` : ''),
      );
      if (relay) await relay.release(streams, tag);
      return step;
    } finally {
      closeStreams(streams);
    }
  };

  const ramp = async (relay: Relay | undefined, name: string): Promise<void> => {
    for (const n of rampN) {
      const s = await run(relay, n, `ramp${n}`);
      steps.push(s);
      if (s.loss > LOSS_OK || s.p50us > 20_000) break;
      maxPps[name] = { pps: s.deliveredPps, streams: n };
    }
  };

  // direct baseline first: latency reference and the generator's own ceiling
  for (const n of latencyN) steps.push(await run(undefined, n, `lat${n}`));
  await ramp(undefined, direct);
  for (const start of systems) {
    let relay: Relay | undefined;
    try {
      relay = await start();
      for (const n of latencyN) steps.push(await run(relay, n, `lat${n}`));
      await ramp(relay, relay.name);
    } catch (e) {
      skipped.push(`${relay?.name ?? 'relay'}: ${(e as Error).message.split('\n')[0]}`);
      log((e as Error).stack ?? String(e));
    } finally {
      await relay?.stop();
    }
  }
  // where the generator itself could not go further, say so
  const gen = maxPps[direct];
  for (const [name, m] of Object.entries(maxPps)) {
    if (name === direct) {
      m.limitedBy = m.streams === rampN.at(-1) ? 'ramp end' : 'generator';
      continue;
    }
    if (m.streams === rampN.at(-1)) m.limitedBy = 'ramp end';
    else if (gen !== undefined && m.streams >= gen.streams) m.limitedBy = 'generator (direct fails next step too)';
    else m.limitedBy = 'relay';
  }
  return { steps, maxPps, skipped, cpuPerPacket: cpuCost(steps) };
}

/** CPU per forwarded packet, from the steps without loss: what a relay needs from a core. */
function cpuCost(steps: MediaStep[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) {
    if (s.cpu === undefined || s.loss > LOSS_OK || s.deliveredPps === 0) continue;
    const us = (s.cpu * 1e6) / s.deliveredPps;
    out[s.system] = Math.min(out[s.system] ?? Infinity, us);
  }
  return out;
}

export function mediaTables(r: MediaResult): string {
  const direct = 'direct (no relay)';
  const base = new Map(r.steps.filter((s) => s.system === direct).map((s) => [s.streams, s]));
  const rows = r.steps.map((s) => {
    const b = base.get(s.streams);
    const added = s.system === direct || b === undefined ? '' : fmt((s.p50us - b.p50us) / 1000, 3);
    return [
      s.system,
      fmt(s.streams),
      fmt(s.offeredPps),
      fmt(s.deliveredPps),
      `${(s.loss * 100).toFixed(2)}%`,
      fmt(s.p50us / 1000, 3),
      fmt(s.p99us / 1000, 3),
      added,
      s.cpu === undefined ? '' : `${(s.cpu * 100).toFixed(0)}%`,
    ];
  });
  const t1 = table(['system', 'streams', 'offered pps', 'delivered pps', 'loss', 'p50 ms', 'p99 ms', 'added p50 ms', 'relay CPU'], rows);
  const natter = r.maxPps['natter local relay'];
  const rtpe = r.maxPps['rtpengine (userspace)'];
  const rows2 = Object.entries(r.maxPps).map(([name, m]) => [
    name,
    fmt(m.pps),
    fmt(m.streams),
    m.limitedBy ?? '',
    r.cpuPerPacket[name] === undefined ? '' : fmt(r.cpuPerPacket[name], 1),
    name === 'natter local relay' ? (natter && rtpe ? `${(natter.pps / rtpe.pps).toFixed(2)}x rtpengine` : 'n/a') : '',
  ]);
  const t2 = table(['system', 'max delivered pps (<1% loss, p50 < 20 ms)', 'at streams', 'bounded by', 'relay CPU us/packet', 'ratio'], rows2);
  return `${t1}\n\n${t2}${r.skipped.length ? `\n\nskipped: ${r.skipped.join('; ')}` : ''}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await mediaPps();
  process.stdout.write(`\nMedia relay: streams of 20 ms audio (50 pps each way), loopback\n\n${mediaTables(r)}\n`);
  process.exit(0);
}
