/**
 * examples/uac.ts and examples/uas.ts as a user runs them (`tsx examples/<name>.ts`, child
 * processes, RFC default timers): against each other, and against sipp with 10 % packet loss.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describeSipp, freeUdpPort, killAllSipp, runSipp, sippAvailable, startSipp } from '../support/sipp.js';
import type { SippResult } from '../support/sipp.js';
import { IGNORE_UNEXPECTED, builtinUasLongTimewait } from './sipp-builtin.js';

const root = resolve(import.meta.dirname, '..', '..');
const TSX = join(root, 'node_modules', '.bin', 'tsx');
const LO = '127.0.0.1';

/** A running example: its output so far and its exit. */
interface Example {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

function run(name: 'uac' | 'uas', args: string[]): Example {
  const child = spawn(TSX, [join('examples', `${name}.ts`), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('close', (code) => {
      running.delete(child);
      resolveExit(code);
    }),
  );
  return { child, output: () => out, exited };
}

/** Resolves once the output matches `re` (the start line); fails if the example exits first. */
async function started(ex: Example, re: RegExp, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!re.test(ex.output())) {
    if (ex.child.exitCode !== null || Date.now() > deadline) expect.fail(`no ${re} from the example:\n${ex.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function expectAllOk(r: SippResult, n: number): void {
  const info = describeSipp(r);
  expect(r.exitCode, info).to.equal(0);
  expect(r.successfulCalls, info).to.equal(n);
  expect(r.failedCalls, info).to.equal(0);
}

describe('examples: uac.ts and uas.ts', function () {
  this.timeout(45_000);

  afterEach(() => {
    killAllSipp();
    for (const child of running) child.kill('SIGKILL'); // only the examples this spec started, by PID
  });

  it('uac.ts calls uas.ts 5 times: "calls: 5 succeeded, 0 failed", exit 0; uas.ts stops on SIGTERM', async () => {
    const port = await freeUdpPort(LO);
    const uas = run('uas', ['--listen', `${LO}:${port}`, '--ring', '50']);
    await started(uas, /^uas: listening on 127\.0\.0\.1:\d+/m);
    expect(uas.output()).to.include(`${LO}:${port}`);
    const uac = run('uac', ['--to', `sip:uas@${LO}:${port}`, '--calls', '5', '--rate', '20', '--hold', '100']);
    const code = await uac.exited;
    expect(uac.output()).to.match(/^uac: bound to 127\.0\.0\.1:\d+/m);
    expect(uac.output()).to.match(/^calls: 5 succeeded, 0 failed$/m);
    expect(code, uac.output()).to.equal(0);
    uas.child.kill('SIGTERM');
    expect(await uas.exited, uas.output()).to.equal(0);
    expect(uas.output()).to.include('uas: SIGTERM: 5 answered, 0 cancelled, 0 rejected, 5 BYEs');
  });

  describe('against sipp', () => {
    before(async function () {
      if (!(await sippAvailable())) {
        console.log('    sipp not installed (run .ci/install-deps.sh): skipping');
        this.skip();
      }
    });

    it('uac.ts -> sipp uas (built-in) -lost 10: 10 calls all complete through retransmissions', async () => {
      // the built-in uas with a longer timewait and unexpected messages ignored: see sipp-builtin.ts
      const sipp = await startSipp({ scenario: builtinUasLongTimewait(), localIp: LO, calls: 10, lostPercent: 10, timeoutSec: 35, extraArgs: IGNORE_UNEXPECTED });
      await sipp.ready();
      const uac = run('uac', ['--to', `sip:service@${LO}:${sipp.localPort}`, '--calls', '10', '--rate', '10', '--hold', '200']);
      const code = await uac.exited;
      expect(uac.output()).to.match(/^calls: 10 succeeded, 0 failed$/m);
      expect(code, uac.output()).to.equal(0);
      expectAllOk(await sipp.done, 10);
    });

    it('sipp -sn uac -lost 10 -> uas.ts: 10 calls all complete through retransmissions', async () => {
      const port = await freeUdpPort(LO);
      const uas = run('uas', ['--listen', `${LO}:${port}`, '--ring', '50']);
      await started(uas, /^uas: listening on/m);
      const r = await runSipp({ scenario: 'uac', remote: `${LO}:${port}`, localIp: LO, calls: 10, rate: 10, lostPercent: 10, timeoutSec: 35, traceMessages: true });
      expectAllOk(r, 10);
      // the SDP answer names the UAS's address and takes PCMU, the one codec sipp offers
      const answer = r.messages.split(/^-{20,}.*$/m).find((m) => /^SIP\/2\.0 200 OK/m.test(m) && /^CSeq: 1 INVITE/m.test(m)) ?? '';
      expect(answer, r.messages.slice(0, 3000)).to.match(/^o=natter \d+ \d+ IN IP4 127\.0\.0\.1\r?$/m);
      expect(answer).to.match(/^c=IN IP4 127\.0\.0\.1\r?$/m);
      expect(answer).to.match(/^m=audio \d+ RTP\/AVP 0\r?$/m);
      expect(answer).to.match(/^a=rtpmap:0 PCMU\/8000\r?$/m);
      uas.child.kill('SIGTERM');
      expect(await uas.exited, uas.output()).to.equal(0);
      expect(uas.output()).to.match(/^uas: SIGTERM: 10 answered, 0 cancelled, 0 rejected, \d+ BYEs$/m);
    });

    it('uac.ts -> sipp uas-busy: "calls: 0 succeeded, 2 failed", exit 1', async () => {
      const sipp = await startSipp({ scenario: 'uas-busy', localIp: LO, calls: 2, timeoutSec: 15 });
      await sipp.ready();
      const uac = run('uac', ['--to', `sip:service@${LO}:${sipp.localPort}`, '--calls', '2']);
      expect(await uac.exited, uac.output()).to.equal(1);
      expect(uac.output()).to.match(/^uac: call 1: 486 Busy Here$/m);
      expect(uac.output()).to.match(/^calls: 0 succeeded, 2 failed$/m);
      expectAllOk(await sipp.done, 2); // it checked the ACKs
    });
  });
});
