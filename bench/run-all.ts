/**
 * `npm run bench`: every benchmark in one run, on this machine, with the reference systems
 * measured alongside: the parser (bench/parse.ts), calls per second through the proxy
 * (bench/proxy-cps.ts), registrations per second (bench/register-rps.ts), the media relay
 * (bench/media-pps.ts) and memory (bench/memory.ts). Prints every figure and ratio, then the
 * targets of the performance issue with met / missed.
 *
 *   npm run bench                  # ~20 minutes
 *   BENCH_QUICK=1 npm run bench    # ~3 minutes, short steps: a smoke test, not figures to quote
 *   BENCH_ONLY=proxy,media npm run bench
 *   BENCH_WRITE_DOC=1 npm run bench   # also puts the report into docs/performance.md
 *
 * Missing tools (sipp, kamailio, rtpengine) are installed first by bench/install-deps.sh when
 * this runs as root; without them the rows that need them say "skipped".
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR, QUICK, ROOT, commandExists, fmt, killAll, log, table } from './support/harness.js';
import { type RateFigure, proxyCps, rateTable } from './proxy-cps.js';
import { registerRps } from './register-rps.js';
import { type MediaResult, mediaPps, mediaTables } from './media-pps.js';
import { type MemoryResult, memoryBench, memoryTable } from './memory.js';

const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const want = (k: string): boolean => only === undefined || only.includes(k);

function version(cmd: string, args: string[], re: RegExp): string {
  if (!commandExists(cmd)) return 'not installed';
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const m = re.exec(`${r.stdout}\n${r.stderr}`);
  return m ? m[1]! : 'unknown';
}

function installDeps(): void {
  if (commandExists('sipp') && commandExists('kamailio') && commandExists('rtpengine')) return;
  if (process.env.BENCH_NO_INSTALL === '1') return;
  log('sipp, kamailio or rtpengine missing: running bench/install-deps.sh');
  const r = spawnSync('bash', [path.join(BENCH_DIR, 'install-deps.sh')], { stdio: 'inherit' });
  if (r.status !== 0) log('install-deps.sh failed: the rows that need the missing tools will say skipped');
}

interface Report {
  when: string;
  machine: Record<string, string>;
  parse?: string;
  cps?: RateFigure[];
  rps?: RateFigure[];
  media?: MediaResult;
  memory?: MemoryResult;
  targets: string[][];
}

function parseBench(): string {
  const env = { ...process.env, ...(QUICK ? { BENCH_ROUNDS: '3', BENCH_ROUND_MS: '100', BENCH_WARMUP_MS: '150' } : {}) };
  // parse.ts compiles itself and runs in plain node (bench/support/plain-node.ts)
  const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(BENCH_DIR, 'parse.ts')], { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0) log(`parse bench exited ${r.status}:\n${r.stderr.slice(-2000)}`);
  return (r.stdout || r.stderr).trim();
}

function targets(rep: Report): string[][] {
  const rows: string[][] = [];
  const rate = (list: RateFigure[] | undefined, k: string): number | undefined => list?.find((f) => f.kind === k)?.rate || undefined;
  const check = (what: string, value: number | undefined, goal: number, unit: (v: number) => string, lowerIsBetter = false): void => {
    if (value === undefined || !Number.isFinite(value)) {
      rows.push([what, 'n/a', '']);
      return;
    }
    const met = lowerIsBetter ? value < goal : value >= goal;
    const by = lowerIsBetter ? `${fmt((value / goal - 1) * 100)}% over` : `${fmt((1 - value / goal) * 100)}% short`;
    rows.push([what, unit(value), met ? 'met' : `MISSED (${by})`]);
  };
  const x = (v: number): string => `${v.toFixed(2)}x`;
  const natter = rate(rep.cps, 'natter');
  const kam = rate(rep.cps, 'kamailio');
  const sipNpm = rate(rep.cps, 'sip-npm');
  check('proxy calls/s, relay on, vs Kamailio + rtpengine (>= 0.5x)', natter && kam ? natter / kam : undefined, 0.5, x);
  const nr = rate(rep.cps, 'natter-norelay');
  const kn = rate(rep.cps, 'kamailio-norelay');
  check('proxy calls/s, relay off, vs Kamailio without rtpengine (>= 0.5x)', nr && kn ? nr / kn : undefined, 0.5, x);
  // the npm sip example does no media relay: relay off is the same work, relay on is more
  check('proxy calls/s, relay off (the same work) vs npm sip proxy example (>= 3x)', nr && sipNpm ? nr / sipNpm : undefined, 3, x);
  check('proxy calls/s, relay on (more work) vs npm sip proxy example (>= 3x)', natter && sipNpm ? natter / sipNpm : undefined, 3, x);
  const m = rep.media?.maxPps;
  const nm = m?.['natter local relay']?.pps;
  const rm = m?.['rtpengine (userspace)']?.pps;
  check('relay packets/s vs rtpengine userspace (>= 0.5x)', nm && rm ? nm / rm : undefined, 0.5, x);
  const steps = rep.media?.steps ?? [];
  const d200 = steps.find((s) => s.system === 'direct (no relay)' && s.streams === 200);
  const n200 = steps.find((s) => s.system === 'natter local relay' && s.streams === 200);
  check('relay added median latency at 200 streams (< 1 ms)', d200 && n200 ? (n200.p50us - d200.p50us) / 1000 : undefined, 1, (v) => `${v.toFixed(3)} ms`, true);
  const mem = rep.memory;
  const kib = (v: number): string => `${v.toFixed(1)} KiB`;
  check('memory per idle registration, RSS (< 20 KiB)', mem ? mem.perRegistration.rss / 1024 : undefined, 20, kib, true);
  check('memory per relayed call, RSS (< 100 KiB)', mem ? mem.perCall.rss / 1024 : undefined, 100, kib, true);
  return rows;
}

function render(rep: Report, command: string): string {
  const m = rep.machine;
  const parts: string[] = [];
  parts.push(`Run ${rep.when} with \`${command}\``);
  parts.push(
    `Machine: ${m.cpus}, ${m.memory}; load average ${m.loadBefore} before, ${m.loadAfter} after; ${m.node}; sipp ${m.sipp}; kamailio ${m.kamailio}; rtpengine ${m.rtpengine}` +
      (QUICK ? '\n\n**BENCH_QUICK=1: short steps, a smoke test; do not quote these figures.**' : ''),
  );
  if (rep.cps) parts.push(`### Calls per second\n\nsipp uac (INVITE with SDP, Record-Route followed, 500 ms call) -> proxy -> sipp uas, loopback; highest rate held ${QUICK ? '5' : '20'} s with no failed call and retransmissions under 1% of calls.\n\n${rateTable(rep.cps, 'calls/s')}`);
  if (rep.rps) parts.push(`### Registrations per second\n\nsipp REGISTER (a new AoR per call, Expires 3600) -> registrar, loopback; same criteria.\n\n${rateTable(rep.rps, 'registrations/s')}`);
  if (rep.media) parts.push(`### Media relay\n\nStreams of 20 ms audio (172-byte RTP, 50 packets/s each way), loopback; added latency = relay p50 minus direct p50 at the same N.\n\n${mediaTables(rep.media)}`);
  if (rep.memory) parts.push(`### Memory\n\nnatter proxy process after full GCs; calls relayed (\`relayAlways\`) and held open.\n\n${memoryTable(rep.memory)}`);
  if (rep.parse) parts.push(`### Parser (bench/parse.ts)\n\n\`\`\`\n${rep.parse}\n\`\`\``);
  parts.push(`### Targets\n\n${table(['target', 'figure', 'status'], rep.targets)}`);
  return parts.join('\n\n') + '\n';
}

async function main(): Promise<void> {
  installDeps();
  const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const rep: Report = {
    when: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine: {
      cpus: `${os.cpus().length} x ${os.cpus()[0]?.model.trim() ?? 'cpu'}`,
      memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      loadBefore: load(),
      node: `Node ${process.version}`,
      sipp: version('sipp', ['-v'], /SIPp (v[\d.]+)/),
      kamailio: version('kamailio', ['-v'], /version: kamailio ([\d.]+)/),
      rtpengine: version('rtpengine', ['--version'], /Version: (\S+)/),
    },
    targets: [],
  };
  if (want('parse')) {
    log('parser bench');
    rep.parse = parseBench();
  }
  if (want('proxy')) rep.cps = await proxyCps();
  if (want('register')) rep.rps = await registerRps();
  if (want('media')) rep.media = await mediaPps();
  if (want('memory')) rep.memory = await memoryBench();
  rep.machine.loadAfter = load();
  rep.targets = targets(rep);
  const command = `${QUICK ? 'BENCH_QUICK=1 ' : ''}${only ? `BENCH_ONLY=${only.join(',')} ` : ''}npm run bench`;
  const text = render(rep, command);
  process.stdout.write('\n' + text);
  mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
  writeFileSync(path.join(ROOT, '.tmp', 'bench-report.md'), text);
  writeFileSync(path.join(ROOT, '.tmp', 'bench-results.json'), JSON.stringify(rep, (k, v) => (k === 'search' ? undefined : v), 2));
  log('report written to .tmp/bench-report.md and .tmp/bench-results.json');
  if (process.env.BENCH_WRITE_DOC === '1') {
    const doc = path.join(ROOT, 'docs', 'performance.md');
    const old = readFileSync(doc, 'utf8');
    const begin = '<!-- bench:begin -->';
    const end = '<!-- bench:end -->';
    const i = old.indexOf(begin);
    const j = old.indexOf(end);
    if (i !== -1 && j > i) {
      writeFileSync(doc, old.slice(0, i + begin.length) + '\n\n' + text + '\n' + old.slice(j));
      log('docs/performance.md updated');
    }
  }
}

main()
  .catch((e: unknown) => {
    log(`bench failed: ${(e as Error).stack ?? String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => {
    killAll();
    process.exit();
  });
