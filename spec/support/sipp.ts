/**
 * sipp harness: runs SIPp (Debian package `sip-tester`, binary `sipp`) as a child process that
 * this process owns, and turns its statistics into a typed result.
 *
 * How sipp is driven, and why:
 * - `-nostdin` and stdin ignored: without a terminal sipp would otherwise poll the keyboard.
 * - never `-bg`: sipp would fork and we would lose the PID; we keep the child and kill it by PID.
 * - statistics come from `-trace_stat -stf <workDir>/stat.csv`: a `;`-separated CSV whose last
 *   row, written when sipp exits (also on SIGTERM), holds the cumulative counters ("(C)"
 *   columns: SuccessfulCall(C), FailedCall(C), Retransmissions(C), FailedTimeoutOnRecv(C), ...).
 *   That is more robust than scraping the curses-style screen; the final screen is still kept
 *   (`-trace_screen`) for humans, as are `-trace_err` and, on request, `-trace_msg`/`-trace_logs`.
 * - `-timeout` is always paired with `-timeout_error`: without it, sipp's global timeout only
 *   starts a soft quit that waits for calls in progress (it can run on for 20 s and more).
 *   A watchdog of our own (SIGTERM, then SIGKILL) backs it up.
 * - exit codes: 0 all calls succeeded, 1 at least one failed (also: invalid scenario XML),
 *   97 exit on internal command, 99 normal exit without calls, 255 (-1) fatal error or
 *   -timeout_error hit, 254 (-2) could not bind its socket.
 * - `-p 0` is refused by sipp, so a free UDP port is found first (bind port 0, read, close).
 * - inside a network namespace the child is `ip netns exec NS sipp ...`; `ip` execs sipp, so the
 *   PID we hold is sipp's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of spec/interop/scenarios. */
export const SCENARIO_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'interop',
  'scenarios',
);

/** Where Debian's sip-tester ships its RTP/DTMF pcap files (g711a.pcap, dtmf_2833_*.pcap). */
export const PCAP_DIRS = ['/usr/share/sip-tester', '/usr/share/sipp', '/usr/local/share/sipp'];

/** Built-in scenarios (`-sn`). */
export type SippBuiltin = 'uac' | 'uas' | 'regexp' | 'branchc' | 'branchs' | 'uac_pcap';

/** `{ builtin }` runs `-sn NAME`; `{ file }` runs `-sf FILE` (a name like 'uac-cancel' is looked up in SCENARIO_DIR). */
export type SippScenario = { builtin: SippBuiltin } | { file: string };

export interface SippOptions {
  /** Scenario to run. A bare string is a built-in name ('uac', 'uas', ...) or a scenario file/name. */
  scenario: SippScenario | string;
  /** Remote `host[:port]` (UAC target). Omit for a pure UAS. */
  remote?: string;
  /** `-i`: local IP for Via/Contact/From and the SDP. Default '127.0.0.1'. */
  localIp?: string;
  /** `-p`: local SIP port (> 0). Default: a free UDP port on localIp (5060 inside a namespace). */
  localPort?: number;
  /** `-bind_local`: bind the socket to localIp only (else sipp binds 0.0.0.0). */
  bindLocal?: boolean;
  /** `-m`: stop after this many calls. Default 1. */
  calls?: number;
  /** `-r`: calls per rate period (default period 1 s). */
  rate?: number;
  /** `-rp`: rate period in ms. */
  ratePeriodMs?: number;
  /** `-l`: max simultaneous calls. */
  maxConcurrent?: number;
  /** `-s`: user part of the Request-URI ([service]). */
  service?: string;
  /** `-rsa host:port`: send everything there instead of to `remote` (e.g. an outbound proxy). */
  remoteSendingAddress?: string;
  /** `-lost`: percentage of packets to lose (scenario `lost=` attributes override). */
  lostPercent?: number;
  /** `-nr`: disable UDP retransmissions AND retransmission detection (some scenarios need it). */
  noRetrans?: boolean;
  /** `-d`: default `<pause/>` length in ms. */
  pauseMs?: number;
  /** `-recv_timeout` in ms: global default timeout of a `<recv>`. */
  recvTimeoutMs?: number;
  /** `-timeout Ns -timeout_error`: sipp's own overall deadline in seconds. Default 20. */
  timeoutSec?: number;
  /** Hard watchdog: SIGTERM then SIGKILL after this many ms. Default timeoutSec*1000 + 3000. */
  killAfterMs?: number;
  /** `-mi`: local media IP ([media_ip]; also the source of play_pcap_audio). */
  mediaIp?: string;
  /** `-mp`: local RTP port ([media_port]; start of [auto_media_port]; the -rtp_echo port). */
  mediaPort?: number;
  /** `-rtp_echo`: echo RTP received on mediaPort (and mediaPort+2) back to its sender. */
  rtpEcho?: boolean;
  /** `-key K V`: [K] in the scenario expands to V. */
  keys?: Record<string, string>;
  /** `-set V X`: global scenario variable. */
  vars?: Record<string, string>;
  /** `-trace_msg`: keep every SIP message sent/received (result.messages). */
  traceMessages?: boolean;
  /** `-trace_logs`: keep the output of `<log>` actions (result.logs). */
  traceLogs?: boolean;
  /** Extra raw arguments, appended last. */
  extraArgs?: string[];
  /** Run inside this network namespace (`ip netns exec NS sipp ...`). */
  netns?: string;
  /** Keep the work directory (stat CSV, logs) after the run. Also env NATTER_KEEP_SIPP=1. */
  keepWorkDir?: boolean;
  /** Path of the sipp binary. Default 'sipp' (env SIPP overrides). */
  binary?: string;
}

export interface SippResult {
  /** Process exit code, or null if it died from a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** True when our watchdog (not sipp's -timeout) had to stop it. */
  killedByWatchdog: boolean;
  /** Whether the final statistics row was found (false: sipp never got going, see stderrTail). */
  statsFound: boolean;
  successfulCalls: number;
  failedCalls: number;
  /** Retransmissions *sent* by this sipp (Retransmissions(C)). */
  retransmissions: number;
  /** All cumulative counters, keyed by CSV name without "(C)": FailedTimeoutOnRecv, OutgoingCall, ... */
  counters: Record<string, number>;
  /** The raw final CSV row, keyed by column name. */
  stats: Record<string, string>;
  /** The last screens (-trace_screen). */
  screen: string;
  /** Unexpected messages and warnings (-trace_err). */
  errors: string;
  /** Every message, when traceMessages was set. */
  messages: string;
  /** Output of `<log>` actions, when traceLogs was set. */
  logs: string;
  stdoutTail: string;
  stderrTail: string;
  /** argv after the binary, and the full command line for messages. */
  args: string[];
  command: string;
  pid: number;
  localPort: number;
  workDir: string;
  durationMs: number;
}

const TAIL_BYTES = 8192;
const live = new Map<number, ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: never leave a sipp we started running after the test process is gone.
  process.on('exit', () => killAllSipp());
}

/** SIGKILL every sipp this module started that is still running (by PID only). */
export function killAllSipp(): void {
  for (const [pid, child] of live) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** PIDs of sipp children still running. */
export function runningSippPids(): number[] {
  return [...live.keys()];
}

/** Absolute path of a scenario in spec/interop/scenarios ('uac-cancel' or 'uac-cancel.xml'). */
export function scenarioFile(name: string): string {
  const file = path.isAbsolute(name)
    ? name
    : path.join(SCENARIO_DIR, name.endsWith('.xml') ? name : `${name}.xml`);
  if (!existsSync(file)) throw new Error(`sipp scenario not found: ${file}`);
  return file;
}

/** The directory holding g711a.pcap, or undefined if sip-tester's pcaps are not installed. */
export function pcapDir(): string | undefined {
  return PCAP_DIRS.find((d) => existsSync(path.join(d, 'g711a.pcap')));
}

const BUILTINS = new Set<string>(['uac', 'uas', 'regexp', 'branchc', 'branchs', 'uac_pcap']);

function scenarioArgs(s: SippScenario | string): string[] {
  if (typeof s === 'string') {
    return BUILTINS.has(s) ? ['-sn', s] : ['-sf', scenarioFile(s)];
  }
  return 'builtin' in s ? ['-sn', s.builtin] : ['-sf', scenarioFile(s.file)];
}

const allocated = new Set<number>();

/**
 * A UDP port that was free on `host` a moment ago (bind to port 0, read it, close).
 * Ports handed out by this process are not handed out again.
 */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      sock.once('error', reject);
      sock.bind(0, host, () => {
        const p = sock.address().port;
        sock.close(() => resolve(p));
      });
    });
    if (!allocated.has(port)) {
      allocated.add(port);
      return port;
    }
  }
  throw new Error(`could not find a fresh free UDP port on ${host}`);
}

let availability: Promise<boolean> | undefined;

/** Whether a runnable sipp is on PATH (cached). */
export function sippAvailable(binary = process.env.SIPP ?? 'sipp'): Promise<boolean> {
  availability ??= new Promise<boolean>((resolve) => {
    const child = spawn(binary, ['-v'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    // `sipp -v` exits non-zero on some builds; starting at all is what counts.
    child.once('exit', () => resolve(true));
  });
  return availability;
}

/** Parse sipp's `-trace_stat` CSV: header row plus value rows; returns the last row. */
export function parseStatCsv(text: string): Record<string, string> | undefined {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) return undefined;
  const header = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  const row: Record<string, string> = {};
  header.forEach((h, i) => {
    if (h !== '') row[h] = last[i] ?? '';
  });
  return row;
}

function countersOf(row: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(row)) {
    if (!k.endsWith('(C)')) continue;
    const n = Number(v);
    if (v !== '' && Number.isFinite(n)) out[k.slice(0, -3)] = n;
  }
  for (const k of ['TotalCallCreated', 'CurrentCall']) {
    if (row[k] !== undefined && row[k] !== '') out[k] = Number(row[k]);
  }
  return out;
}

function tailer(): { push(b: Buffer): void; text(): string } {
  let buf = '';
  return {
    push(b) {
      buf += b.toString('latin1');
      if (buf.length > TAIL_BYTES * 2) buf = buf.slice(-TAIL_BYTES);
    },
    text: () => buf.slice(-TAIL_BYTES),
  };
}

async function readOr(file: string): Promise<string> {
  try {
    return await readFile(file, 'latin1');
  } catch {
    return '';
  }
}

/** One running sipp. */
export class SippProcess {
  /** Resolves when sipp has exited and its files are read; never rejects. */
  readonly done: Promise<SippResult>;
  readonly pid: number;
  private exited = false;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly args: string[],
    readonly command: string,
    readonly localPort: number,
    readonly workDir: string,
    private readonly opts: SippOptions,
    private readonly startedAt: number,
  ) {
    if (child.pid === undefined) throw new Error(`sipp did not start: ${command}`);
    this.pid = child.pid;
    const out = tailer();
    const err = tailer();
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let watchdogFired = false;
    const killAfter = opts.killAfterMs ?? (opts.timeoutSec ?? 20) * 1000 + 3000;
    this.killTimer = setTimeout(() => {
      watchdogFired = true;
      this.terminate();
    }, killAfter);
    this.killTimer.unref();

    this.done = new Promise<SippResult>((resolve) => {
      child.once('close', (code, signal) => {
        this.exited = true;
        live.delete(this.pid);
        if (this.killTimer) clearTimeout(this.killTimer);
        void this.collect(code, signal, watchdogFired, out.text(), err.text()).then(resolve);
      });
    });
  }

  /** True while the process runs. */
  get running(): boolean {
    return !this.exited;
  }

  /**
   * Resolves once sipp's SIP socket is bound (its port shows in /proc/PID/net/udp{,6}, which
   * reflects the child's own network namespace). Rejects if sipp exits first or on timeout.
   */
  async ready(timeoutMs = 5000): Promise<void> {
    const hex = this.localPort.toString(16).toUpperCase().padStart(4, '0');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) {
        const r = await this.done;
        throw new Error(`sipp exited before binding port ${this.localPort}\n${describeSipp(r)}`);
      }
      for (const f of ['udp', 'udp6']) {
        const table = await readOr(`/proc/${this.pid}/net/${f}`);
        // local_address is "IP:PORT" (hex) in column 2
        if (table.split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(`:${hex}`))) return;
      }
      if (Date.now() > deadline) {
        throw new Error(`sipp (pid ${this.pid}) did not bind UDP ${this.localPort} within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Ask sipp to finish (SIGUSR1: no new calls, let calls in progress end). */
  softStop(): void {
    if (!this.exited) this.signal('SIGUSR1');
  }

  /** SIGTERM now (sipp still writes its statistics), SIGKILL 2 s later if it lingers. */
  terminate(): void {
    if (this.exited) return;
    this.signal('SIGTERM');
    const t = setTimeout(() => {
      if (!this.exited) this.signal('SIGKILL');
    }, 2000);
    t.unref();
  }

  /** terminate() and wait for the result. */
  async stop(): Promise<SippResult> {
    this.terminate();
    return this.done;
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      /* already exited */
    }
  }

  private async collect(
    code: number | null,
    signal: NodeJS.Signals | null,
    killedByWatchdog: boolean,
    stdoutTail: string,
    stderrTail: string,
  ): Promise<SippResult> {
    const f = (n: string) => readOr(path.join(this.workDir, n));
    const [csv, screen, errors, messages, logs] = await Promise.all([
      f('stat.csv'),
      f('screen.log'),
      f('errors.log'),
      f('messages.log'),
      f('logs.log'),
    ]);
    const row = parseStatCsv(csv);
    const counters = row ? countersOf(row) : {};
    const result: SippResult = {
      exitCode: code,
      signal,
      killedByWatchdog,
      statsFound: row !== undefined,
      successfulCalls: counters.SuccessfulCall ?? 0,
      failedCalls: counters.FailedCall ?? 0,
      retransmissions: counters.Retransmissions ?? 0,
      counters,
      stats: row ?? {},
      screen,
      errors,
      messages,
      logs,
      stdoutTail,
      stderrTail,
      args: this.args,
      command: this.command,
      pid: this.pid,
      localPort: this.localPort,
      workDir: this.workDir,
      durationMs: Date.now() - this.startedAt,
    };
    if (!(this.opts.keepWorkDir || process.env.NATTER_KEEP_SIPP === '1')) {
      await rm(this.workDir, { recursive: true, force: true });
    }
    return result;
  }
}

/** Build sipp's argv (without the binary) for these options and this local port. */
export function buildSippArgs(opts: SippOptions, localPort: number, workDir: string): string[] {
  const a: string[] = [];
  if (opts.remote) a.push(opts.remote);
  a.push(...scenarioArgs(opts.scenario));
  a.push('-i', opts.localIp ?? '127.0.0.1', '-p', String(localPort));
  if (opts.bindLocal) a.push('-bind_local');
  a.push('-m', String(opts.calls ?? 1));
  if (opts.rate !== undefined) a.push('-r', String(opts.rate));
  if (opts.ratePeriodMs !== undefined) a.push('-rp', String(opts.ratePeriodMs));
  if (opts.maxConcurrent !== undefined) a.push('-l', String(opts.maxConcurrent));
  if (opts.service !== undefined) a.push('-s', opts.service);
  if (opts.remoteSendingAddress) a.push('-rsa', opts.remoteSendingAddress);
  if (opts.lostPercent !== undefined) a.push('-lost', String(opts.lostPercent));
  if (opts.noRetrans) a.push('-nr');
  if (opts.pauseMs !== undefined) a.push('-d', String(opts.pauseMs));
  if (opts.recvTimeoutMs !== undefined) a.push('-recv_timeout', String(opts.recvTimeoutMs));
  a.push('-timeout', `${opts.timeoutSec ?? 20}s`, '-timeout_error');
  if (opts.mediaIp) a.push('-mi', opts.mediaIp);
  if (opts.mediaPort !== undefined) a.push('-mp', String(opts.mediaPort));
  if (opts.rtpEcho) a.push('-rtp_echo');
  for (const [k, v] of Object.entries(opts.keys ?? {})) a.push('-key', k, v);
  for (const [k, v] of Object.entries(opts.vars ?? {})) a.push('-set', k, v);
  a.push('-nostdin');
  a.push('-trace_stat', '-stf', path.join(workDir, 'stat.csv'));
  a.push('-trace_screen', '-screen_file', path.join(workDir, 'screen.log'));
  a.push('-trace_err', '-error_file', path.join(workDir, 'errors.log'));
  if (opts.traceMessages) a.push('-trace_msg', '-message_file', path.join(workDir, 'messages.log'));
  if (opts.traceLogs) a.push('-trace_logs', '-log_file', path.join(workDir, 'logs.log'));
  a.push(...(opts.extraArgs ?? []));
  return a;
}

/** Start sipp; the returned process is already running (await `ready()` for a UAS). */
export async function startSipp(opts: SippOptions): Promise<SippProcess> {
  installExitHook();
  const localIp = opts.localIp ?? '127.0.0.1';
  const localPort = opts.localPort ?? (opts.netns ? 5060 : await freeUdpPort(localIp));
  if (!Number.isInteger(localPort) || localPort <= 0 || localPort > 65535) {
    throw new Error(`sipp needs a real local port (1-65535), got ${localPort}`);
  }
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'natter-sipp-'));
  // scenarios name pcaps as pcap/<file>, resolved by sipp from its working directory
  const pcaps = pcapDir();
  if (pcaps) await symlink(pcaps, path.join(workDir, 'pcap'));

  const binary = opts.binary ?? process.env.SIPP ?? 'sipp';
  const args = buildSippArgs(opts, localPort, workDir);
  const [cmd, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, binary, ...args]] : [binary, args];
  const command = [cmd, ...argv].join(' ');
  const child = spawn(cmd, argv, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new Error(`cannot start sipp (${command}): ${e.message}`)));
  });
  live.set(child.pid!, child);
  return new SippProcess(child, args, command, localPort, workDir, opts, Date.now());
}

/** Start sipp and wait for it to finish. */
export async function runSipp(opts: SippOptions): Promise<SippResult> {
  const p = await startSipp(opts);
  return p.done;
}

/**
 * Start `uas`, wait until it listens, run `uac` against it (remote defaults to the UAS address),
 * then wait for the UAS to finish too (it stops after its own -m calls, or its timeout).
 */
export async function runPair(
  uas: SippOptions,
  uac: Omit<SippOptions, 'remote'> & { remote?: string },
): Promise<{ uas: SippResult; uac: SippResult }> {
  const server = await startSipp(uas);
  try {
    await server.ready();
    const remote = uac.remote ?? `${uas.localIp ?? '127.0.0.1'}:${server.localPort}`;
    const client = await runSipp({ ...uac, remote });
    if (client.exitCode !== 0 && server.running) server.terminate();
    return { uas: await server.done, uac: client };
  } catch (e) {
    server.terminate();
    await server.done;
    throw e;
  }
}

/** A multi-line summary of a result, for assertion messages. */
export function describeSipp(r: SippResult): string {
  const nonZero = Object.entries(r.counters)
    .filter(([k, v]) => v !== 0 && /^(Failed|Retrans|Successful|Outgoing|Incoming|Unexpected|DeadCall|OutOfCall|Warnings|FatalErrors)/.test(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return [
    `sipp pid ${r.pid} exit=${r.exitCode}${r.signal ? ` signal=${r.signal}` : ''}${r.killedByWatchdog ? ' (watchdog)' : ''} in ${r.durationMs} ms`,
    `  ${r.command}`,
    `  stats: ${r.statsFound ? nonZero || '(all zero)' : 'none written'}`,
    r.errors.trim() ? `  errors: ${r.errors.trim().slice(-1500)}` : '',
    r.stderrTail.trim() ? `  stderr: ${r.stderrTail.trim().slice(-1500)}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}
