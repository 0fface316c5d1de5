import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSipp, freeUdpPort, runSipp, sippAvailable } from '../support/sipp.js';
import { randomPortRange } from '../support/proxy-world.js';
import { ProxyChild } from '../support/proxy-process.js';

/**
 * Interop: sipp's own digest implementation ([authentication], MD5 only in sipp 3.6) registers
 * with `natter proxy --users FILE`. sipp answers only the first challenge of a 401, so this proxy
 * offers MD5 alone (`--auth-algorithms MD5`); with the default order (SHA-256 first) sipp gives up,
 * which is what an MD5-only client that does not look past the first challenge would do.
 */
describe('interop: sipp registers with digest auth against natter proxy --users', function () {
  this.timeout(60000);
  let dir: string;
  let proxy: ProxyChild | undefined;
  let port: number;

  before(async function () {
    if (!(await sippAvailable())) return this.skip();
    dir = mkdtempSync(join(tmpdir(), 'natter-auth-'));
    writeFileSync(join(dir, 'users.json'), JSON.stringify({ alice: 'alice-secret', bob: { ha1: '0'.repeat(32) } }));
    port = await freeUdpPort();
    const range = randomPortRange(20);
    proxy = await ProxyChild.start(['--listen', `127.0.0.1:${port}`, '--rtp-ports', `${range.min}-${range.max}`, '--users', join(dir, 'users.json'), '--auth-algorithms', 'MD5', '--nat-ping-interval', '0']);
  });
  after(async () => {
    await proxy?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const register = (password: string) =>
    runSipp({ scenario: 'uac-register-auth', remote: `127.0.0.1:${port}`, service: 'alice', keys: { expires: '300' }, extraArgs: ['-au', 'alice', '-ap', password], timeoutSec: 10 });

  it('registers with the right password (401, then 200)', async () => {
    const r = await register('alice-secret');
    expect(r.exitCode, describeSipp(r)).to.equal(0);
    expect(r.successfulCalls).to.equal(1);
  });

  it('is refused with a wrong password (401 again)', async () => {
    const r = await register('wrong');
    expect(r.exitCode, describeSipp(r)).to.not.equal(0);
    expect(r.successfulCalls).to.equal(0);
  });
});
