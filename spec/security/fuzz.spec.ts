import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * The socket fuzzer (bench/fuzz.ts, `npm run fuzz`) for a few seconds: mutated RFC 4475 / RFC 5118
 * messages, captured phone messages and random datagrams at a running `natter proxy` while two
 * phones register and call through it. The long run (a minute, plus the wait for every call and
 * transaction to end) is `npm run fuzz`, which .ci/run runs after the tests.
 */
describe('fuzz: a short run of npm run fuzz', function () {
  this.timeout(120_000);

  it('keeps the proxy alive and within memory, and every legitimate call succeeds', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'fuzz.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FUZZ_SECONDS: '6', FUZZ_RATE: '1000', FUZZ_DRAIN_SECONDS: '0' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    clearTimeout(timer);
    expect(code, out).to.equal(0);
    const summary = /fuzz: sent (\d+) datagrams, proxy alive, rss ([\d.]+) MB, calls (\d+)\/(\d+)/.exec(out);
    expect(summary, out).to.not.equal(null);
    expect(Number(summary![1])).to.be.greaterThan(3000);
    expect(Number(summary![3])).to.be.greaterThan(0);
    expect(summary![3]).to.equal(summary![4]);
  });
});
