/**
 * Runs a bench file in plain node rather than under tsx.
 *
 * tsx loads TypeScript through module hooks that run on a worker thread, and the messages between
 * the two threads detach an ArrayBuffer. From the first detachment on, V8 checks every typed-array
 * read for it (it keeps the check out only while no buffer in the process was ever detached), so
 * code that reads Buffers byte by byte runs slower for the whole life of the process: natter's
 * parser by about 12% (measured with bench/parse.ts both ways), the string-based peers not at all.
 * natter runs in plain node (its bin), so that is where its parser is measured.
 *
 * relaunchInPlainNode(import.meta.url) from a bench's .ts entry compiles it with tsc into
 * .tmp/bench-js and runs the output with node, passing the arguments, environment and output
 * through; it returns the child's exit status. From the compiled .js it returns undefined, and
 * the bench goes on.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, log } from './harness.js';

const OUT = path.join(ROOT, '.tmp', 'bench-js');

export function relaunchInPlainNode(entryUrl: string): number | undefined {
  const entry = fileURLToPath(entryUrl);
  if (!entry.endsWith('.ts')) return undefined;
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  const args = [
    '--outDir', OUT, '--rootDir', ROOT, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--strict', '--skipLibCheck', '--types', 'node', '--sourceMap', 'false', '--declaration', 'false', entry,
  ];
  const built = spawnSync(tsc, args, { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0) {
    log(`tsc failed on ${path.relative(ROOT, entry)}:\n${(built.stdout + built.stderr).slice(0, 2000)}`);
    return 1;
  }
  const compiled = path.join(OUT, path.relative(ROOT, entry)).replace(/\.ts$/, '.js');
  const run = spawnSync(process.execPath, [compiled, ...process.argv.slice(2)], { cwd: ROOT, stdio: 'inherit' });
  return run.status ?? 1;
}
