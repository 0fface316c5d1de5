import { expect } from 'chai';
import { InvalidArgumentError } from '../../lib/index.js';
import { parseProxyArgs, proxyOptions } from '../../lib/bin/proxy-config.js';

describe('natter proxy: security flags', () => {
  it('defaults: no users, flood limit 200 per 2 s with a 60 s block, scanners dropped, 32 KiB messages', () => {
    const c = parseProxyArgs([]);
    expect(c).to.include({ users: undefined, realm: undefined, floodLimit: 200, floodBlock: 60, dropScanners: true, maxMessageSize: 32768 });
    expect(c.authAlgorithms).to.deep.equal(['SHA-256', 'MD5']);
    const o = proxyOptions(c);
    expect(o.floodGuard).to.deep.equal({ limit: 200, windowMs: 2000, blockMs: 60000 });
    expect(o.dropScanners).to.equal(true);
  });
  it('reads --users, --realm, --auth-algorithms, --flood-limit 0 (off), --flood-block, --scanners allow, --max-message-size', () => {
    const c = parseProxyArgs(['--users', 'u.json', '--realm', 'example.test', '--auth-algorithms', 'sha-512-256,MD5', '--flood-limit', '0', '--flood-block', '5', '--scanners', 'allow', '--max-message-size', '4096']);
    expect(c).to.include({ users: 'u.json', realm: 'example.test', floodLimit: 0, floodBlock: 5, dropScanners: false, maxMessageSize: 4096 });
    expect(c.authAlgorithms).to.deep.equal(['SHA-512-256', 'MD5']);
    expect(proxyOptions(c).floodGuard).to.equal(false);
  });
  it('refuses bad values', () => {
    for (const args of [['--flood-limit', '-1'], ['--flood-block', '0'], ['--scanners', 'maybe'], ['--max-message-size', '70000'], ['--auth-algorithms', 'SHA-1'], ['--users']]) {
      expect(() => parseProxyArgs(args), args.join(' ')).to.throw(InvalidArgumentError);
    }
  });
});
