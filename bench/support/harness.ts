/**
 * Shared plumbing for the load benchmarks (proxy-cps, register-rps, media-pps, memory):
 * child processes this process owns (killed by PID, never by name), a private build of natter,
 * CPU accounting from /proc, the rate search and table formatting.
 *
 * Everything talks over loopback only (127.0.0.1 and 127.0.0.2).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: the nearest folder above this file with a package.json (this file may run compiled, from .tmp/). */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
export const ROOT = packageRoot(path.dirname(fileURLToPath(import.meta.url)));
export const BENCH_DIR = path.join(ROOT, 'bench');
export const SCENARIOS = path.join(BENCH_DIR, 'scenarios');
/** natter compiled for the benches (not dist/, which belongs to the package build). */
export const BENCH_DIST = path.join(ROOT, '.tmp', 'bench-dist');

export const QUICK = process.env.BENCH_QUICK === '1';
/** Where CPU profiles go when BENCH_PROFILE is set (natter proxy/relay run with --cpu-prof). */
export const PROFILE_DIR = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : undefined;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------
// children

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** last output, for error messages */
  tail(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** SIGTERM, SIGKILL after graceMs; resolves when it is gone */
  stop(graceMs?: number): Promise<void>;
}

const children = new Map<number, Child>();
let hooks = false;

function installHooks(): void {
  if (hooks) return;
  hooks = true;
  process.on('exit', () => killAll());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** SIGKILL every child this process started that still runs (by PID). */
export function killAll(): void {
  for (const c of children.values()) {
    if (c.running()) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** Starts a child we own; output is kept (last 16 KiB) for diagnostics. */
export function startChild(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Child {
  installHooks();
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let tail = '';
  const keep = (b: Buffer): void => {
    tail = (tail + b.toString('latin1')).slice(-16384);
    if (process.env.BENCH_VERBOSE === '1') process.stderr.write(`[${name}] ${b.toString('latin1')}`);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('error', (e) => {
      tail += `\nspawn error: ${e.message}`;
      done = true;
      resolve({ code: -1, signal: null });
    });
    proc.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const pid = proc.pid ?? -1;
  const child: Child = {
    name,
    proc,
    pid,
    tail: () => tail,
    exited,
    running: () => !done,
    async stop(graceMs = 3000) {
      if (!done) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        const t = setTimeout(() => {
          try {
            if (!done) process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, graceMs);
        await exited;
        clearTimeout(t);
      }
      children.delete(pid);
    },
  };
  if (pid > 0) children.set(pid, child);
  void exited.then(() => {
    if (pid > 0 && children.get(pid) === child && !process.exitCode) children.delete(pid);
  });
  return child;
}

/** Resolves when `port` shows up bound (UDP) in /proc/net/udp, or rejects when the child dies or on timeout. */
export async function waitUdpBound(child: Child | undefined, port: number, timeoutMs = 15000): Promise<void> {
  const hex = ':' + port.toString(16).toUpperCase().padStart(4, '0');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child !== undefined && !child.running()) throw new Error(`${child.name} exited before binding UDP ${port}:\n${child.tail().slice(-3000)}`);
    for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
      let table = '';
      try {
        table = readFileSync(f, 'latin1');
      } catch {
        /* no IPv6 */
      }
      if (table.split('\n').some((l) => (l.trim().split(/\s+/)[1] ?? '').endsWith(hex))) return;
    }
    if (Date.now() > deadline) throw new Error(`${child?.name ?? 'process'} did not bind UDP ${port} within ${timeoutMs} ms\n${child?.tail().slice(-3000) ?? ''}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU: utime+stime of a process and its descendants, from /proc

const TICK = 100; // USER_HZ on Linux

function statOf(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by `pid` and every descendant still running. */
export function cpuSeconds(pid: number): number {
  const all = new Map<number, { ppid: number; ticks: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = statOf(Number(d));
    if (s) all.set(Number(d), s);
  }
  let total = 0;
  const queue = [pid];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const p = queue.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    total += all.get(p)?.ticks ?? 0;
    for (const [q, s] of all) if (s.ppid === p) queue.push(q);
  }
  return total / TICK;
}

// ---------------------------------------------------------------------------------------------
// natter build

/** Newest mtime under a directory (ts files). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Compiles lib/ into .tmp/bench-dist (tsc, tsconfig.build.json) unless it is newer than every
 * source file. Type errors are reported but do not stop the bench while tsc still emitted.
 */
export function buildNatter(): string {
  // a build of another tree (before/after comparisons): used as it is
  if (process.env.BENCH_NATTER_DIST) return path.resolve(process.env.BENCH_NATTER_DIST);
  const marker = path.join(BENCH_DIST, 'bin', 'natter.js');
  if (existsSync(marker) && statSync(marker).mtimeMs > newest(path.join(ROOT, 'lib'))) return BENCH_DIST;
  log('compiling lib/ into .tmp/bench-dist');
  mkdirSync(path.dirname(BENCH_DIST), { recursive: true });
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(tsc, ['-p', 'tsconfig.build.json', '--outDir', BENCH_DIST], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    if (!existsSync(marker)) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
    log(`tsc reported errors (emitted anyway):\n${(r.stdout + r.stderr).slice(0, 2000)}`);
  }
  return BENCH_DIST;
}

/** The node flags on the shebang line of natter's bin (`#!/usr/bin/env -S node FLAGS`): the bench runs natter as the command would. */
export function natterBinFlags(dist: string): string[] {
  const first = readFileSync(path.join(dist, 'bin', 'natter.js'), 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node (.*)$/.exec(first);
  return m ? m[1]!.split(/\s+/).filter((f) => f.startsWith('--')) : [];
}

/**
 * Node flags for a natter child run from the build in `dist`: the bin's own (natterBinFlags), BENCH_NODE_FLAGS (e.g.
 * `--trace-gc`), and --cpu-prof with BENCH_PROFILE.
 */
export function nodeFlags(tag: string, dist: string): string[] {
  const extra = [...natterBinFlags(dist), ...(process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter((f) => f !== '') ?? [])];
  if (PROFILE_DIR === undefined) return extra;
  mkdirSync(PROFILE_DIR, { recursive: true });
  return [...extra, '--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${tag}-${Date.now()}.cpuprofile`];
}

export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// ---------------------------------------------------------------------------------------------
// rate search

export interface StepResult {
  rate: number;
  pass: boolean;
  /** why it failed, or a summary */
  note: string;
  completed: number;
  failed: number;
  retrans: number;
  /** CPU of the system under test during the step, as a fraction of one core */
  cpu?: number;
}

export interface SearchOptions {
  start: number;
  /** seconds per search step */
  stepSec: number;
  /** seconds of the confirming hold */
  holdSec: number;
  maxSteps: number;
  /** stop bisecting when the gap is below this fraction of the passing rate */
  resolution: number;
  ceiling?: number;
}

/** BENCH_STEP_SEC=N: seconds per step (with BENCH_RATES, a long fixed step shows what builds up over time). */
const STEP_SEC = Number(process.env.BENCH_STEP_SEC) > 0 ? Number(process.env.BENCH_STEP_SEC) : undefined;

export function searchOptions(start: number, ceiling?: number): SearchOptions {
  const o = QUICK
    ? { start, stepSec: 3, holdSec: 5, maxSteps: 3, resolution: 0.3, ...(ceiling ? { ceiling } : {}) }
    : { start, stepSec: 10, holdSec: 20, maxSteps: 5, resolution: 0.12, ...(ceiling ? { ceiling } : {}) };
  return STEP_SEC !== undefined ? { ...o, stepSec: STEP_SEC } : o;
}

export interface SearchResult {
  /** highest rate held for holdSec with no failure and no retransmission storm (0 if none) */
  rate: number;
  steps: StepResult[];
  hold: StepResult | undefined;
}

/**
 * Steps the rate up (x1.6) from `start` until a step fails, down (x0.6) while it fails, then
 * bisects; finally holds the best passing rate for holdSec, stepping down 20% (at most three
 * times) while the hold fails.
 */
export async function searchRate(label: string, o: SearchOptions, step: (rate: number, seconds: number) => Promise<StepResult>): Promise<SearchResult> {
  const steps: StepResult[] = [];
  const fixed = process.env.BENCH_RATES?.split(',').map(Number).filter((n) => n > 0);
  if (fixed && fixed.length > 0) {
    // fixed steps instead of a search (before/after comparisons): the figure is the highest that passed
    let best = 0;
    for (const r of fixed) {
      const res = await step(r, o.stepSec);
      log(`${label}: ${r}/s for ${o.stepSec}s -> ${res.pass ? 'pass' : 'FAIL'} (${res.note}${res.cpu !== undefined ? `, cpu ${(res.cpu * 100).toFixed(0)}%` : ''})`);
      steps.push(res);
      if (res.pass) best = Math.max(best, r);
    }
    return { rate: best, steps, hold: steps.find((x) => x.rate === best && x.pass) };
  }
  let pass = 0;
  let fail = Infinity;
  let rate = o.start;
  const run = async (r: number, s: number): Promise<StepResult> => {
    const res = await step(r, s);
    log(`${label}: ${r}/s for ${s}s -> ${res.pass ? 'pass' : 'FAIL'} (${res.note}${res.cpu !== undefined ? `, cpu ${(res.cpu * 100).toFixed(0)}%` : ''})`);
    return res;
  };
  for (let i = 0; i < o.maxSteps; i++) {
    const res = await run(rate, o.stepSec);
    steps.push(res);
    if (res.pass) pass = Math.max(pass, rate);
    else fail = Math.min(fail, rate);
    if (o.ceiling !== undefined && pass >= o.ceiling) break;
    if (fail !== Infinity && pass > 0 && fail - pass <= o.resolution * pass) break;
    let next: number;
    if (fail === Infinity) next = rate * 1.6;
    else if (pass === 0) next = rate * 0.6;
    else next = (pass + fail) / 2;
    if (o.ceiling !== undefined) next = Math.min(next, o.ceiling);
    rate = roundRate(next);
    if (rate <= 0) break;
  }
  let hold: StepResult | undefined;
  for (let attempt = 0; attempt < 4 && pass > 0; attempt++) {
    hold = await run(pass, o.holdSec);
    steps.push(hold);
    if (hold.pass) break;
    pass = roundRate(pass * 0.8);
  }
  return { rate: hold?.pass ? hold.rate : 0, steps, hold };
}

function roundRate(r: number): number {
  if (r >= 1000) return Math.round(r / 50) * 50;
  if (r >= 100) return Math.round(r / 10) * 10;
  return Math.max(1, Math.round(r));
}

// ---------------------------------------------------------------------------------------------
// formatting

export function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function ratio(a: number | undefined, b: number | undefined): string {
  if (!a || !b) return 'n/a';
  return `${(a / b).toFixed(2)}x`;
}

/** A markdown table. */
export function table(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(3, ...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => '| ' + r.map((c, i) => (c ?? '').padEnd(w[i]!)).join(' | ') + ' |';
  return [line(head), '| ' + w.map((n) => '-'.repeat(n)).join(' | ') + ' |', ...rows.map(line)].join('\n');
}
