import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * `natter proxy` as a child process (tsx, no build needed): its output collected, its PID the
 * only one ever signalled. `stop()` sends SIGTERM and waits (bounded) for the exit, then SIGKILL.
 */
export class ProxyChild {
  output = '';
  /** The `natter proxy stats {...}` lines (SIGUSR2 and at the end), newest last. */
  readonly statsLines: string[] = [];
  #partial = '';
  readonly exited: Promise<number | null>;
  #code: number | null | undefined = undefined;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-200_000);
      const lines = (this.#partial + d.toString()).split('\n');
      this.#partial = lines.pop()!;
      for (const l of lines) if (l.startsWith('natter proxy stats ')) this.statsLines.push(l.slice('natter proxy stats '.length));
      if (this.statsLines.length > 100) this.statsLines.splice(0, this.statsLines.length - 100);
    });
    child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-200_000)));
    this.exited = new Promise((r) =>
      child.once('exit', (code) => {
        this.#code = code;
        r(code);
      }),
    );
  }

  /** Starts `natter proxy ARGS` and resolves once it printed its listening line (rejects after timeoutMs). */
  static async start(args: readonly string[], timeoutMs = 20_000, env: NodeJS.ProcessEnv = process.env): Promise<ProxyChild> {
    // node itself with tsx's loader (not the tsx wrapper): the PID is the proxy's own, for RSS
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib', 'bin', 'natter.ts'), 'proxy', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
    const p = new ProxyChild(child);
    const deadline = Date.now() + timeoutMs;
    while (!p.output.includes('listening on') && p.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!p.output.includes('listening on')) {
      await p.stop();
      throw new Error(`natter proxy did not start:\n${p.output}`);
    }
    return p;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.#code === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** proxy.stats() of the running proxy (SIGUSR2 makes it print them), or undefined within waitMs. */
  async stats<T = Record<string, unknown>>(waitMs = 3000): Promise<T | undefined> {
    const before = this.statsLines.length > 0 ? this.statsLines[this.statsLines.length - 1] : undefined;
    const count = this.statsLines.length;
    if (!this.running) return undefined;
    this.child.kill('SIGUSR2');
    const until = Date.now() + waitMs;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 25));
      const last = this.statsLines[this.statsLines.length - 1];
      if (this.statsLines.length > count || (count === 100 && last !== before)) return JSON.parse(last!) as T;
    }
    return undefined;
  }

  /** Resident set size of the process in bytes, from /proc (undefined when gone). */
  rss(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
      return m === null ? undefined : Number(m[1]) * 1024;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM, wait up to waitMs for the exit, then SIGKILL. Resolves with the exit code. */
  async stop(waitMs = 5000): Promise<number | null> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), waitMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout' && this.running) this.child.kill('SIGKILL');
    return this.exited;
  }
}
