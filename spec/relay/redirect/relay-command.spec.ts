import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, RelayPool } from '../../../lib/index.js';
import { parseRelayArgs, relayServerOptions } from '../../../lib/bin/run-relay.js';
import { createSipRelayAllocator, relayMemberFromSpec } from '../../../lib/bin/relay-sip.js';
import { relayPortRange, startClient } from './world.js';

const root = resolve(import.meta.dirname, '..', '..', '..');

describe('relay-by-redirect: natter relay and --relay sip: specs', function () {
  this.timeout(15000);

  describe('natter relay arguments', () => {
    it('has the documented defaults', () => {
      const config = parseRelayArgs([], {});
      expect(config).to.deep.include({
        listen: { address: '127.0.0.1', port: 5070 },
        mediaAddress: ['127.0.0.1'],
        rtpPorts: { min: 30000, max: 39999 },
        mediaTimeout: 60,
        offerTimeout: 300,
        allow: [],
        secret: undefined,
        logLevel: 'info',
      });
    });

    it('reads every flag, the secret from a file or the environment', () => {
      const config = parseRelayArgs(
        ['--listen', '203.0.113.2:5071', '--advertise', 'relay.example.net', '--media-address', '203.0.113.2,2001:db8::2', '--rtp-ports', '31000-31999',
          '--media-timeout', '20', '--offer-timeout=90', '--allow', '203.0.113.1', '--allow', '198.51.100.0/24', '--secret-file', '/s', '--log-level', 'warn'],
        {},
        (path) => (path === '/s' ? 'from-file\n' : ''),
      );
      expect(relayServerOptions(config)).to.deep.equal({
        listen: { address: '203.0.113.2', port: 5071 },
        advertisedAddress: 'relay.example.net',
        mediaAddress: ['203.0.113.2', '2001:db8::2'],
        rtpPorts: { min: 31000, max: 31999 },
        mediaTimeoutMs: 20000,
        offerTimeoutMs: 90000,
        allow: ['203.0.113.1', '198.51.100.0/24'],
        secret: 'from-file',
      });
      expect(parseRelayArgs(['--listen', '10.0.0.1'], { NATTER_RELAY_SECRET: 'env' })).to.deep.include({ listen: { address: '10.0.0.1', port: 5070 }, secret: 'env' });
      // off loopback an open relay must be asked for
      expect(parseRelayArgs(['--listen', '192.0.2.2', '--allow', '0.0.0.0/0']).allow).to.deep.equal(['0.0.0.0/0']);
    });

    it('refuses unknown flags, bad values, and an open relay off loopback with InvalidArgumentError', () => {
      for (const argv of [['--bogus', '1'], ['--rtp-ports', '9-1'], ['--media-timeout', '-1'], ['--log-level', 'loud'], ['--listen'], ['--listen', '192.0.2.2:5070']]) {
        expect(() => parseRelayArgs(argv, {}), argv.join(' ')).to.throw(InvalidArgumentError);
      }
    });
  });

  describe('--relay sip: specs of natter proxy', () => {
    it('reads weight, timeout, check, owner and secret-file parameters', () => {
      expect(relayMemberFromSpec('sip:relay@203.0.113.2:5070;weight=3;timeout=800;check=1000;owner=proxy-a;secret-file=/k', {}, () => 'k3y\n')).to.deep.equal({
        relay: 'sip:relay@203.0.113.2:5070',
        weight: 3,
        requestTimeoutMs: 800,
        checkIntervalMs: 1000,
        owner: 'proxy-a',
        secret: 'k3y',
      });
      expect(relayMemberFromSpec('sip:[2001:db8::2]:5070', { NATTER_RELAY_SECRET: 's', NATTER_RELAY_OWNER: 'p' })).to.deep.equal({
        relay: 'sip:relay@[2001:db8::2]:5070',
        owner: 'p',
        secret: 's',
      });
      expect(() => relayMemberFromSpec('sip:relay@h:5070;colour=blue', {})).to.throw(InvalidArgumentError);
      expect(() => relayMemberFromSpec('sip:relay@h:5070;weight=-1', {})).to.throw(InvalidArgumentError);
    });

    it('builds a pool with one member per spec', async () => {
      const pool = await createSipRelayAllocator(['sip:relay@127.0.0.1:9;weight=2;check=0', 'sip:relay@127.0.0.1:11;weight=0;check=0']);
      try {
        expect(pool).to.be.instanceOf(RelayPool);
        expect((pool as RelayPool).status().map((s) => [s.relay, s.weight])).to.deep.equal([
          ['sip:relay@127.0.0.1:9', 2],
          ['sip:relay@127.0.0.1:11', 0],
        ]);
      } finally {
        await pool.close();
      }
    });
  });

  it('natter relay runs, answers health checks, logs an allocation and its release, and stops cleanly on SIGTERM', async () => {
    const { min: portMin, max: portMax } = relayPortRange(20);
    const sipPort = portMax + 1; // odd, right above the media range: never one of its pairs
    const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'lib', 'bin', 'natter.ts'), 'relay', '--listen', `127.0.0.1:${sipPort}`, '--rtp-ports', `${portMin}-${portMax}`], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBUG: '', NATTER_RELAY_SECRET: 'cli' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const waitFor = async (re: RegExp, ms: number): Promise<void> => {
      const deadline = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${re} in:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await waitFor(/natter relay listening on 127\.0\.0\.1:\d+ \(udp\) as sip:relay@127\.0\.0\.1:\d+.*signed requests/, 10000);
      const client = await startClient(`sip:relay@127.0.0.1:${sipPort}`, { secret: 'cli' });
      try {
        expect((await client.check()).state).to.equal('up');
        const key = { callId: 'cli-call', fromTag: 't' };
        await client.offer(key, Buffer.from('v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n'), { natted: false });
        await client.release(key);
        await waitFor(/^release reason=bye r[0-9a-f]+ .*call-id=cli-call/m, 3000);
        expect(out).to.match(/^allocate from 127\.0\.0\.1:\d+ r[0-9a-f]+ state=offered call-id=cli-call/m);
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    expect(await exited, err).to.equal(0);
    clearTimeout(t);
    expect(out).to.include('natter relay stopping (SIGTERM)');
  });
});
