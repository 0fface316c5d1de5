/**
 * The systems the signaling benches drive, each started fresh on loopback and stopped by PID:
 * sipp straight to sipp (no proxy), natter's proxy (relay on or off), Kamailio (with rtpengine or
 * without) and the npm `sip` package's proxy example.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeUdpPort, parseStatCsv } from '../../spec/support/sipp.js';
import { BENCH_DIR, SCENARIOS, type Child, type StepResult, buildNatter, commandExists, cpuSeconds, log, nodeFlags, sleep, startChild, waitUdpBound } from './harness.js';
import { readFile, rm } from 'node:fs/promises';

export type TargetKind = 'direct' | 'natter' | 'natter-norelay' | 'kamailio' | 'kamailio-norelay' | 'sip-npm';

export interface RunningTarget {
  /** host:port sipp's UAC sends to; undefined for `direct` (the UAS itself) */
  remote: string | undefined;
  /** processes whose CPU counts as the system under test */
  pids: number[];
  stop(): Promise<void>;
}

export const TARGET_LABEL: Record<TargetKind, string> = {
  direct: 'sipp -> sipp (no proxy)',
  natter: 'natter proxy, relay on',
  'natter-norelay': 'natter proxy, relay off',
  kamailio: 'Kamailio 5.6 + rtpengine',
  'kamailio-norelay': 'Kamailio 5.6, no rtpengine',
  'sip-npm': 'npm sip proxy example',
};

/** Why a target cannot run here, or undefined. */
export function unavailable(kind: TargetKind): string | undefined {
  if (!commandExists('sipp')) return 'sipp not installed (bash bench/install-deps.sh)';
  if (kind.startsWith('kamailio') && !commandExists('kamailio')) return 'kamailio not installed (bash bench/install-deps.sh)';
  if (kind === 'kamailio' && !commandExists('rtpengine')) return 'rtpengine not installed (bash bench/install-deps.sh)';
  return undefined;
}

/** Whether this build of `natter proxy` knows a flag (the bench runs against older builds too). */
export function natterHasFlag(dist: string, flag: string): boolean {
  try {
    return readFileSync(path.join(dist, 'bin', 'proxy-config.js'), 'utf8').includes(`'${flag}'`);
  } catch {
    return false;
  }
}

/**
 * rtpengine-daemon in userspace mode (`--table=-1`) on 127.0.0.1, relaying on ports MIN-MAX,
 * its ng control socket on a free port; resolves once that socket is bound.
 */
export async function startRtpengineUserspace(min: number, max: number, extraArgs: string[] = []): Promise<{ child: Child; ngPort: number }> {
  const ngPort = await freeUdpPort('127.0.0.1');
  const child = startChild('rtpengine', 'rtpengine', [
    '--config-file=none',
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${ngPort}`,
    '--table=-1',
    '--foreground',
    '--log-stderr',
    '--log-level=3',
    `--port-min=${min}`,
    `--port-max=${max}`,
    '--delete-delay=0',
    ...extraArgs,
  ]);
  await waitUdpBound(child, ngPort);
  return { child, ngPort };
}

let rtpBase = 20000;
/** A fresh media port range per started relay, so that ports of a stopped one are never reused at once. */
function rtpRange(size: number): [number, number] {
  if (rtpBase + size > 60000) rtpBase = 20000;
  const r: [number, number] = [rtpBase, rtpBase + size - 1];
  rtpBase += size;
  return r;
}

export async function startTarget(kind: TargetKind): Promise<RunningTarget> {
  switch (kind) {
    case 'direct':
      return { remote: undefined, pids: [], stop: async () => {} };
    case 'natter':
    case 'natter-norelay': {
      const dist = buildNatter();
      const port = await freeUdpPort('127.0.0.1');
      // ports are released at BYE, but the pool does not reuse them at once: a wide range
      const [min, max] = rtpRange(16000);
      const args = [
        ...nodeFlags(kind, dist),
        path.join(dist, 'bin', 'natter.js'),
        'proxy',
        '--listen',
        `127.0.0.1:${port}`,
        '--rtp-ports',
        `${min}-${max}`,
        '--nat-ping-interval',
        '0',
        '--log-level',
        'error',
        ...(kind === 'natter' ? ['--relay-always'] : []),
        // all the load comes from one sipp source: per-source flood protection would block it
        // (Kamailio's config has no pike either)
        ...(natterHasFlag(dist, 'flood-limit') ? ['--flood-limit', '0'] : []),
        // the registration bench registers a new AoR per REGISTER: far more than the default
        // 100 000 bindings (Kamailio's usrloc gets 1 GiB of shared memory likewise)
        ...(natterHasFlag(dist, 'max-bindings') ? ['--max-bindings', '2000000'] : []),
      ];
      // BENCH_NATTER_MAX_TX=N: a what-if run with the transaction limit raised (the CLI has no
      // flag for it): the proxy runs from bench/peers/proxy-host.mjs with the same options
      const maxTx = process.env.BENCH_NATTER_MAX_TX;
      const child = maxTx
        ? startChild(kind, process.execPath, [...nodeFlags(kind, dist), path.join(BENCH_DIR, 'peers', 'proxy-host.mjs'), dist, String(port), String(min), String(max), '500'], {
            stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
            env: { ...process.env, NATTER_MAX_TX: maxTx, NATTER_RELAY_ALWAYS: kind === 'natter' ? '1' : '0' },
          })
        : startChild(kind, process.execPath, args);
      await waitUdpBound(child, port);
      return { remote: `127.0.0.1:${port}`, pids: [child.pid], stop: () => child.stop(10000) };
    }
    case 'kamailio':
    case 'kamailio-norelay': {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'natter-bench-kam-'));
      const port = await freeUdpPort('127.0.0.1');
      let rtpe: Child | undefined;
      const defs: string[] = [];
      if (kind === 'kamailio') {
        const [min, max] = rtpRange(16000);
        const started = await startRtpengineUserspace(min, max);
        rtpe = started.child;
        const ng = started.ngPort;
        defs.push('-A', 'WITH_RTPENGINE', '-A', `RTPENGINE_SOCK="udp:127.0.0.1:${ng}"`);
      }
      const kam = startChild(
        'kamailio',
        'kamailio',
        ['-f', path.join(BENCH_DIR, 'kamailio.cfg'), '-DD', '-E', '-l', `udp:127.0.0.1:${port}`, '-n', '4', '-m', '1024', '-M', '32', '-Y', dir, '-P', path.join(dir, 'kamailio.pid'), '-w', dir, ...defs],
        { cwd: dir },
      );
      try {
        await waitUdpBound(kam, port);
      } catch (e) {
        await rtpe?.stop();
        throw e;
      }
      await sleep(300); // children attach to the socket after the main process binds it
      return {
        remote: `127.0.0.1:${port}`,
        pids: [kam.pid, ...(rtpe ? [rtpe.pid] : [])],
        stop: async () => {
          await kam.stop(5000);
          await rtpe?.stop(5000);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    case 'sip-npm': {
      const port = await freeUdpPort('127.0.0.1');
      const child = startChild('sip-npm', process.execPath, [path.join(BENCH_DIR, 'peers', 'sip-proxy.cjs'), '127.0.0.1', String(port)]);
      await waitUdpBound(child, port);
      return { remote: `127.0.0.1:${port}`, pids: [child.pid], stop: () => child.stop() };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// one rate step with sipp

export interface LoadStep {
  scenario: 'call' | 'register';
  target: RunningTarget;
  rate: number;
  seconds: number;
  /** the UAC's local port (fixed for registrations: the same Contacts again each step) */
  uacPort?: number;
}

const BUFF = ['-buff_size', '4194304'];

/**
 * How long a call stays up between the ACK and the BYE. Not 0: a proxy may forward a BYE sent
 * right behind the ACK before the ACK (Kamailio's children do, natter's async ACK path does), and
 * sipp's UAS then aborts the call. 500 ms keeps 500 x rate calls (and their relay ports) open.
 */
export const CALL_HOLD_MS = 500;

/** Share of calls that may see a retransmission before the step counts as a retransmission storm. */
export const STORM_SHARE = 0.01;

function sippArgs(workDir: string, name: string): string[] {
  return ['-nostdin', ...BUFF, '-trace_stat', '-stf', path.join(workDir, `${name}.csv`), '-fd', '3600', '-trace_err', '-error_file', path.join(workDir, `${name}-errors.log`)];
}

async function counters(file: string): Promise<Record<string, number>> {
  const text = await readFile(file, 'latin1').catch(() => '');
  const row = parseStatCsv(text);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(row ?? {})) if (k.endsWith('(C)')) out[k.slice(0, -3)] = Number(v);
  return out;
}

/**
 * Runs one step: a UAS where the scenario needs one (127.0.0.2), then a UAC at `rate` per second
 * for `seconds` (rate x seconds calls). Pass: every call completed, none failed, the UAC finished
 * within 3 s of its schedule (the rate was held) and retransmissions stayed under 1% of the calls.
 */
export async function loadStep(s: LoadStep): Promise<StepResult> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'natter-bench-sipp-'));
  const calls = Math.max(1, Math.round(s.rate * s.seconds));
  let uas: Child | undefined;
  let remote = s.target.remote;
  const uasName = s.scenario === 'call' ? 'uas-call.xml' : 'uas-register.xml';
  const needUas = s.scenario === 'call' || remote === undefined;
  let uasAddr = '';
  if (needUas) {
    const port = await freeUdpPort('127.0.0.2');
    uasAddr = `127.0.0.2:${port}`;
    uas = startChild('sipp-uas', 'sipp', ['-sf', path.join(SCENARIOS, uasName), '-i', '127.0.0.2', '-bind_local', '-p', String(port), '-m', '100000000', ...sippArgs(workDir, 'uas')], { cwd: workDir });
    await waitUdpBound(uas, port);
    remote ??= uasAddr;
  }
  const uacPort = s.uacPort ?? (await freeUdpPort('127.0.0.1'));
  const scenario = s.scenario === 'call' ? 'uac-call.xml' : 'uac-register.xml';
  const args = [
    remote!,
    '-sf',
    path.join(SCENARIOS, scenario),
    ...(s.scenario === 'call' ? ['-key', 'uas', uasAddr, '-s', 'bench', '-d', String(CALL_HOLD_MS)] : []),
    // a 180 that a multi-process proxy (Kamailio) forwards after the 200 is legal reordering,
    // not a failed call: sipp goes on instead of aborting on it
    '-default_behaviors',
    'all,-abortunexp',
    '-i',
    '127.0.0.1',
    '-bind_local',
    '-p',
    String(uacPort),
    '-r',
    String(s.rate),
    '-m',
    String(calls),
    // a step that has not finished 5 s after its schedule has failed: do not wait for every
    // lost call's retransmissions (up to 32 s) to say so
    '-timeout',
    `${s.seconds + 5}s`,
    '-timeout_error',
    ...sippArgs(workDir, 'uac'),
  ];
  const cpu0 = s.target.pids.reduce((n, p) => n + cpuSeconds(p), 0);
  const t0 = Date.now();
  const uac = startChild('sipp-uac', 'sipp', args, { cwd: workDir });
  const { code } = await uac.exited;
  const wall = (Date.now() - t0) / 1000;
  const cpu1 = s.target.pids.reduce((n, p) => n + cpuSeconds(p), 0);
  await uac.stop();
  await sleep(200);
  await uas?.stop();
  const c = await counters(path.join(workDir, 'uac.csv'));
  const cs = uas ? await counters(path.join(workDir, 'uas.csv')) : {};
  const ok = c.SuccessfulCall ?? 0;
  const failed = c.FailedCall ?? 0;
  const retrans = (c.Retransmissions ?? 0) + (cs.Retransmissions ?? 0);
  const reasons: string[] = [];
  if (code !== 0) reasons.push(`uac exit ${code}`);
  if (ok < calls) reasons.push(`${ok}/${calls} completed`);
  if (failed > 0) reasons.push(`${failed} failed`);
  if (wall > s.seconds + 3) reasons.push(`took ${wall.toFixed(1)}s`);
  if (retrans > STORM_SHARE * calls) reasons.push(`${retrans} retransmissions`);
  const pass = reasons.length === 0;
  if (pass || process.env.BENCH_KEEP_LOGS !== '1') await rm(workDir, { recursive: true, force: true });
  else log(`sipp logs kept in ${workDir}`);
  if (!pass && code !== 0 && ok === 0) log(`sipp uac output:\n${uac.tail().slice(-1500)}`);
  return {
    rate: s.rate,
    pass,
    note: pass ? `${ok} ok, ${retrans} retrans` : reasons.join(', '),
    completed: ok,
    failed,
    retrans,
    ...(s.target.pids.length > 0 ? { cpu: (cpu1 - cpu0) / wall } : {}),
  };
}
