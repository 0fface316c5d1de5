import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

describe('package', function () {
  this.timeout(180000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'natter-pack-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('packs with npm pack, installs in a consumer project, and `import { parse } from "natter"` works', () => {
    execFileSync('npm', ['pack', '--pack-destination', dir], { cwd: root, stdio: 'pipe' });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tarball, 'npm pack wrote a tarball').to.be.a('string');
    const consumer = join(dir, 'consumer');
    execFileSync('mkdir', ['-p', consumer]);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball!)], { cwd: consumer, stdio: 'pipe' });
    writeFileSync(join(consumer, 'check.mjs'), [
      "import { parse, serialize, SipParseError } from 'natter';",
      "const m = parse(Buffer.from('OPTIONS sip:b@example.com SIP/2.0\\r\\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\\r\\nTo: <sip:b@example.com>\\r\\nFrom: <sip:a@example.com>;tag=1\\r\\nCall-ID: c\\r\\nCSeq: 1 OPTIONS\\r\\n\\r\\n'));",
      "let bad = ''; try { parse('garbage'); } catch (e) { bad = e instanceof SipParseError ? e.code : 'other'; }",
      "console.log(JSON.stringify({ method: m.method, branch: m.via[0].branch, bytes: serialize(m).length, bad }));",
    ].join('\n'));
    const out = JSON.parse(execFileSync('node', ['check.mjs'], { cwd: consumer }).toString()) as Record<string, unknown>;
    expect(out).to.deep.equal({ method: 'OPTIONS', branch: 'z9hG4bK1', bytes: 179, bad: 'ERR_SIP_PARSE' });
    // the type declarations ship with it
    const types = readdirSync(join(consumer, 'node_modules', 'natter', 'dist'));
    expect(types).to.include('index.d.ts');
  });
});
