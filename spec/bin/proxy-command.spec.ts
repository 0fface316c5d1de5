import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join, resolve } from 'node:path';
import { parse, InvalidArgumentError } from '../../lib/index.js';
import type { SipResponse } from '../../lib/index.js';
import { parseProxyArgs } from '../../lib/bin/proxy-config.js';
import { locationFromSpec } from '../../lib/bin/backends.js';
import { randomPortRange } from '../support/proxy-world.js';

const root = resolve(import.meta.dirname, '..', '..');

describe('natter proxy command', function () {
  this.timeout(30000);

  describe('arguments', () => {
    it('has the documented defaults', () => {
      const c = parseProxyArgs([]);
      expect(c.listen).to.deep.equal({ address: '127.0.0.1', port: 5060 });
      expect(c.relay).to.deep.equal(['local']);
      expect(c.location).to.equal('memory');
      expect(c.relayAlways).to.equal(false);
      expect(c.domains).to.deep.equal([]);
      expect(c.logLevel).to.equal('info');
      expect(c.natPingInterval).to.equal(30);
      expect(c.maxBindings).to.equal(100000);
    });
    it('--max-bindings sizes the memory location store; a bad value is refused', async () => {
      const c = parseProxyArgs(['--max-bindings', '250000']);
      expect(c.maxBindings).to.equal(250000);
      const store = await locationFromSpec(c.location, c.maxBindings);
      expect(store?.limits?.maxTotal).to.equal(250000);
      expect(() => parseProxyArgs(['--max-bindings', '0'])).to.throw(InvalidArgumentError);
    });
    it('reads every flag, repeated and comma-separated domains', () => {
      const c = parseProxyArgs(['--listen', '[::1]:5070', '--domain', 'a.example', '--domain=b.example,c.example', '--media-address', '127.0.0.2', '--rtp-ports', '40000-40100', '--relay-always', '--log-level', 'debug']);
      expect(c.listen).to.deep.equal({ address: '::1', port: 5070 });
      expect(c.domains).to.deep.equal(['a.example', 'b.example', 'c.example']);
      expect(c.mediaAddress).to.deep.equal(['127.0.0.2']);
      expect(c.rtpPorts).to.deep.equal({ min: 40000, max: 40100 });
      expect(c.relayAlways).to.equal(true);
      expect(c.logLevel).to.equal('debug');
    });
    it('reads a dual-stack setup: --dual-stack, --advertise, an IPv4 and an IPv6 media address', () => {
      const c = parseProxyArgs(['--listen', '[::]:5060', '--dual-stack', '--advertise', 'sip.example.com', '--media-address', '192.0.2.1,2001:db8::1']);
      expect(c.dualStack).to.equal(true);
      expect(c.advertise).to.equal('sip.example.com');
      expect(c.mediaAddress).to.deep.equal(['192.0.2.1', '2001:db8::1']);
    });
    it('takes the same keys from a JSON --config file, flags winning', () => {
      const file = JSON.stringify({ listen: '127.0.0.1:5080', domains: ['x.example'], rtpPorts: '41000-41010', relayAlways: true, 'log-level': 'warn' });
      const c = parseProxyArgs(['--config', 'f.json', '--listen', '127.0.0.1:5090'], () => file);
      expect(c.listen.port).to.equal(5090);
      expect(c.domains).to.deep.equal(['x.example']);
      expect(c.rtpPorts).to.deep.equal({ min: 41000, max: 41010 });
      expect(c.relayAlways).to.equal(true);
      expect(c.logLevel).to.equal('warn');
    });
    it('refuses unknown flags, bad ranges and bad addresses with InvalidArgumentError', () => {
      for (const args of [['--nope'], ['--rtp-ports', '5-4'], ['--listen', 'a:b:c:99999'], ['--log-level', 'loud'], ['--relay', 'nowhere'], ['--listen']]) {
        expect(() => parseProxyArgs(args), args.join(' ')).to.throw(InvalidArgumentError);
      }
    });
  });

  it('runs, answers OPTIONS, and stops cleanly on SIGTERM', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const range = randomPortRange(20);
    const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'lib', 'bin', 'natter.ts'), 'proxy', '--listen', `127.0.0.1:${port}`, '--rtp-ports', `${range.min}-${range.max}`], { cwd: root });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 15000;
      while (!out.includes('listening') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(out).to.include(`listening on 127.0.0.1:${port}`);
      const sock = createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
      const answer = new Promise<SipResponse>((r) => sock.once('message', (m) => r(parse(m) as SipResponse)));
      const lp = sock.address().port;
      sock.send(`OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${lp};branch=z9hG4bKcli1\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: cli1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`, port, '127.0.0.1');
      expect((await answer).status).to.equal(200);
      sock.close();
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(out).to.include('stopping (SIGTERM)');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
