/**
 * A real redis-server (the Debian package) for the specs: started by the test on 127.0.0.1 and a
 * random port, no persistence, stopped by its own PID. A system Redis started by apt never
 * interferes (it is on 6379; this one is not).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The redis-server binary, or undefined when it is not installed. */
export function redisServerBinary(): string | undefined {
  for (const path of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    const r = spawnSync(path, ['--version'], { timeout: 5000 });
    if (r.status === 0) return path;
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 in [min, max). */
export async function freeTcpPort(min = 20000, max = 30000): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min));
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free TCP port');
}

export class RedisServer {
  log = '';
  readonly #exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts redis-server (on `port`, or a random free one) and waits, at most 10 s, until it accepts connections. */
  static async start(binary: string, port?: number): Promise<RedisServer> {
    let lastLog = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const p = port ?? (await freeTcpPort());
      const dir = mkdtempSync(join(tmpdir(), 'natter-redis-'));
      const child = spawn(binary, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--loglevel', 'notice'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const server = new RedisServer(child, p, dir);
      const deadline = Date.now() + 10000;
      while (server.running && Date.now() < deadline && !server.log.includes('Ready to accept connections')) await new Promise((r) => setTimeout(r, 20));
      if (server.running && server.log.includes('Ready to accept connections')) return server;
      lastLog = server.log;
      await server.stop();
      if (port !== undefined) break;
    }
    throw new Error(`redis-server did not start:\n${lastLog}`);
  }

  /** SIGKILL: as in a crash. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.#exited;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGTERM, then SIGKILL after 3 s; resolves when it has exited. */
  async stop(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.#exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
