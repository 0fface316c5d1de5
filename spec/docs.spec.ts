import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

/** Every ```ts block in docs/*.md runs as written (imports of 'natter' point at lib/). */
describe('docs examples run', function () {
  this.timeout(60000);
  const dir = mkdtempSync(join(tmpdir(), 'natter-docs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(join(root, 'docs', file), 'utf8');
    const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    blocks.forEach((code, i) => {
      if (code.includes('// not runnable')) return;
      it(`${file} example ${i + 1}`, () => {
        const path = join(dir, `${file}-${i}.mts`);
        writeFileSync(path, code.replaceAll("from 'natter'", `from '${join(root, 'lib', 'index.ts')}'`));
        const out = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [path], { cwd: root, timeout: 30000 }).toString();
        expect(out.length).to.be.greaterThan(0);
      });
    });
  }
});
