/**
 * Summarises V8 CPU profiles (node --cpu-prof): self time per function and per file, and the
 * inclusive time of natter's own functions, so that "where does the time go" has an answer in
 * text.
 *
 *   BENCH_PROFILE=.tmp/prof BENCH_TARGETS=natter npm run bench:proxy
 *   npx tsx bench/profile-summary.ts .tmp/prof/natter-*.cpuprofile [--top 40]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function short(url: string): string {
  if (url === '') return '(native)';
  const u = url.replace(/^file:\/\//, '');
  const i = u.indexOf('/bench-dist/');
  if (i !== -1) return 'lib/' + u.slice(i + '/bench-dist/'.length).replace(/\.js$/, '.ts');
  const n = u.lastIndexOf('node_modules/');
  if (n !== -1) return u.slice(n);
  if (u.startsWith('node:')) return u;
  return path.basename(u);
}

export function summarise(files: string[], top = 30): string {
  const self = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (const f of files) {
    const p = JSON.parse(readFileSync(f, 'utf8')) as Profile;
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const dt = new Map<number, number>();
    p.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
    for (const [id, us] of dt) {
      const n = nodes.get(id)!;
      const fr = n.callFrame;
      const name = fr.functionName || '(anonymous)';
      total += us;
      if (name === '(idle)' || name === '(program)') {
        if (name === '(idle)') idle += us;
      }
      if (name === '(garbage collector)') gc += us;
      const key = `${name}  ${short(fr.url)}:${fr.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + us);
      byFile.set(short(fr.url), (byFile.get(short(fr.url)) ?? 0) + us);
      // inclusive time of natter functions (each function counted once per stack)
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const c = nodes.get(cur)!.callFrame;
        const s = short(c.url);
        if (!s.startsWith('lib/')) continue;
        const k = `${c.functionName || '(anonymous)'}  ${s}:${c.lineNumber + 1}`;
        if (seen.has(k)) continue;
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + us);
      }
    }
  }
  const busy = total - idle;
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1)}%`.padStart(6);
  const ms = (us: number): string => `${(us / 1000).toFixed(0)} ms`.padStart(9);
  const sorted = (m: Map<string, number>): [string, number][] => [...m].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]);
  const lines: string[] = [];
  lines.push(`profiles: ${files.length}; busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled; GC ${pct(gc).trim()} of busy`);
  lines.push('', `self time, top ${top} (share of busy time):`);
  for (const [k, v] of sorted(self).slice(0, top)) lines.push(`${pct(v)} ${ms(v)}  ${k}`);
  lines.push('', 'self time by file:');
  for (const [k, v] of sorted(byFile).slice(0, top)) lines.push(`${pct(v)} ${ms(v)}  ${k}`);
  lines.push('', `inclusive time of natter functions, top ${top}:`);
  for (const [k, v] of sorted(inclusive).slice(0, top)) lines.push(`${pct(v)} ${ms(v)}  ${k}`);
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith('profile-summary.ts')) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t !== -1 ? Number(args[t + 1]) : 30;
  const files = args.filter((a, i) => a.endsWith('.cpuprofile') && (t === -1 || i !== t + 1));
  if (files.length === 0) {
    process.stderr.write('usage: tsx bench/profile-summary.ts FILE.cpuprofile... [--top N]\n');
    process.exit(2);
  }
  process.stdout.write(summarise(files, top) + '\n');
}
