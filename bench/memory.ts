/**
 * Memory per idle registration and per relayed call held open, in a natter proxy process of its
 * own (bench/peers/proxy-host.mjs, --expose-gc): heap and RSS after full GCs, before and after
 * sipp registered 10 000 addresses-of-record, then before and after sipp set up relayed calls
 * and kept them open (INVITE+SDP answered, ACKed, no BYE).
 *
 * Relayed calls: each holds four UDP sockets (RTP and RTCP on each side; the bench SDP does not
 * offer rtcp-mux), and this machine allows 20 000 open files per process, so the call figure is
 * measured at 4 000 calls (16 000 sockets), not 10 000; per-call memory is the slope.
 * The transaction timers run with T1 = 100 ms so that finished transactions (kept 64*T1 by
 * RFC 3261/6026) are gone before the measurement; what is left is the bindings and the calls.
 *
 *   npm run bench:memory
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeUdpPort } from '../spec/support/sipp.js';
import { BENCH_DIR, QUICK, SCENARIOS, buildNatter, fmt, log, sleep, startChild, table, waitUdpBound } from './support/harness.js';

interface Snapshot {
  memory: NodeJS.MemoryUsage;
  stats: { calls: number; transactions: number; bindings: number };
  relayPorts?: number;
}

export interface MemoryResult {
  registrations: number;
  calls: number;
  perRegistration: { heap: number; rss: number };
  perCall: { heap: number; rss: number };
  snapshots: Record<string, Snapshot>;
}

const T1 = 100;

export async function memoryBench(): Promise<MemoryResult> {
  const regs = QUICK ? 2000 : 10000;
  const calls = QUICK ? 1000 : 4000;
  const dist = buildNatter();
  const port = await freeUdpPort('127.0.0.1');
  const host = startChild('natter-proxy-host', process.execPath, ['--expose-gc', path.join(BENCH_DIR, 'peers', 'proxy-host.mjs'), dist, String(port), '20000', '39999', String(T1)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    host.proc.once('message', () => resolve());
    void host.exited.then(() => reject(new Error(`proxy host exited:\n${host.tail()}`)));
  });
  let seq = 0;
  const snap = (): Promise<Snapshot> =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      const on = (m: { id: number; result?: Snapshot; error?: string }): void => {
        if (m.id !== id) return;
        host.proc.off('message', on);
        if (m.error) reject(new Error(m.error));
        else resolve(m.result!);
      };
      host.proc.on('message', on);
      host.proc.send({ op: 'memory', id });
    });
  /** waits until the proxy holds no transaction (64*T1 after the last one finished) */
  const settled = async (): Promise<Snapshot> => {
    for (let i = 0; i < 60; i++) {
      const s = await snap();
      if (s.stats.transactions === 0) return s;
      await sleep(500);
    }
    return snap();
  };
  const sipps: ReturnType<typeof startChild>[] = [];
  try {
    const base = await settled();
    log(`memory: baseline heap ${fmt(base.memory.heapUsed / 1024)} KiB, rss ${fmt(base.memory.rss / 1024)} KiB`);
    // registrations
    const regPort = await freeUdpPort('127.0.0.1');
    const reg = startChild('sipp-register', 'sipp', [
      `127.0.0.1:${port}`, '-sf', path.join(SCENARIOS, 'uac-register.xml'), '-i', '127.0.0.1', '-bind_local', '-p', String(regPort),
      '-r', '1000', '-m', String(regs), '-nostdin', '-buff_size', '4194304', '-timeout', '60s', '-timeout_error',
    ]);
    const r = await reg.exited;
    if (r.code !== 0) log(`memory: sipp register exited ${r.code}: ${reg.tail().slice(-800)}`);
    const afterRegs = await settled();
    log(`memory: ${afterRegs.stats.bindings} bindings: heap ${fmt(afterRegs.memory.heapUsed / 1024)} KiB, rss ${fmt(afterRegs.memory.rss / 1024)} KiB`);
    // relayed calls held open: the UAS answers, the UAC ACKs and then waits (no BYE)
    const uasPort = await freeUdpPort('127.0.0.2');
    const uas = startChild('sipp-uas', 'sipp', ['-sf', path.join(SCENARIOS, 'uas-call.xml'), '-i', '127.0.0.2', '-bind_local', '-p', String(uasPort), '-m', '1000000', '-nostdin', '-buff_size', '4194304']);
    sipps.push(uas);
    await waitUdpBound(uas, uasPort);
    const uacPort = await freeUdpPort('127.0.0.1');
    const uac = startChild('sipp-uac', 'sipp', [
      `127.0.0.1:${port}`, '-sf', path.join(SCENARIOS, 'uac-call.xml'), '-key', 'uas', `127.0.0.2:${uasPort}`, '-s', 'bench',
      '-i', '127.0.0.1', '-bind_local', '-p', String(uacPort), '-r', '400', '-m', String(calls), '-l', String(calls),
      '-d', '3600000', '-nostdin', '-buff_size', '4194304', '-timeout', '3700s',
    ]);
    sipps.push(uac);
    let afterCalls = await snap();
    for (let i = 0; i < 120 && afterCalls.stats.calls < calls; i++) {
      await sleep(500);
      afterCalls = await snap();
    }
    afterCalls = await settled();
    log(`memory: ${afterCalls.stats.calls} calls, ${afterCalls.relayPorts ?? '?'} relay ports: heap ${fmt(afterCalls.memory.heapUsed / 1024)} KiB, rss ${fmt(afterCalls.memory.rss / 1024)} KiB`);
    const nRegs = afterRegs.stats.bindings || regs;
    const nCalls = afterCalls.stats.calls || calls;
    return {
      registrations: nRegs,
      calls: nCalls,
      perRegistration: { heap: (afterRegs.memory.heapUsed - base.memory.heapUsed) / nRegs, rss: (afterRegs.memory.rss - base.memory.rss) / nRegs },
      perCall: { heap: (afterCalls.memory.heapUsed - afterRegs.memory.heapUsed) / nCalls, rss: (afterCalls.memory.rss - afterRegs.memory.rss) / nCalls },
      snapshots: { base, afterRegs, afterCalls },
    };
  } finally {
    for (const s of sipps) await s.stop();
    await host.stop();
  }
}

export function memoryTable(m: MemoryResult): string {
  const kib = (b: number): string => `${fmt(b / 1024, 1)} KiB`;
  return table(
    ['what', 'count', 'heap each', 'RSS each', 'target'],
    [
      ['idle registration', fmt(m.registrations), kib(m.perRegistration.heap), kib(m.perRegistration.rss), '< 20 KiB'],
      ['relayed call held open (4 relay sockets)', fmt(m.calls), kib(m.perCall.heap), kib(m.perCall.rss), '< 100 KiB'],
    ],
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = await memoryBench();
  process.stdout.write(`\nMemory (natter proxy process, after full GCs)\n\n${memoryTable(m)}\n`);
  process.exit(0);
}
