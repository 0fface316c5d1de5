/**
 * A real rtpengine (the Debian rtpengine-daemon package) for the interop specs: started in the
 * foreground by the test on loopback (control socket and media interface), userspace forwarding
 * only (`--table=-1`, no kernel module), no config file, stopped by its own PID. A system
 * rtpengine started by apt never interferes: ports are random and the config file is not read.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';

/** The rtpengine binary, or undefined when rtpengine-daemon is not installed. */
export function rtpengineBinary(): string | undefined {
  for (const path of ['/usr/bin/rtpengine', '/usr/sbin/rtpengine', '/usr/local/bin/rtpengine']) {
    const r = spawnSync(path, ['--version'], { timeout: 5000 });
    if (r.status === 0) return path;
  }
  return undefined;
}

/** A free UDP port on 127.0.0.1 in [min, max), found by binding it. */
export async function freeUdpPort(min = 20000, max = 30000): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min));
    const socket = createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve(true));
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (ok) return port;
  }
  throw new Error('no free UDP port');
}

/** Answers true once an ng ping to 127.0.0.1:port gets a pong. */
async function pong(port: number, ms: number): Promise<boolean> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      socket.once('message', (m) => {
        clearTimeout(timer);
        resolve(m.toString().includes('pong'));
      });
      socket.send('probe d7:command4:pinge', port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

export class RtpengineDaemon {
  log = '';
  readonly #exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly ngPort: number,
    readonly portMin: number,
    readonly portMax: number,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The ng spec for `natter proxy --relay`. */
  get spec(): string {
    return `rtpengine:udp:127.0.0.1:${this.ngPort}`;
  }

  /**
   * Starts rtpengine on 127.0.0.1 with a random ng port and a random media port range of `ports`
   * ports, and waits (at most 10 s) until it answers a ping.
   */
  static async start(binary: string, ports = 100): Promise<RtpengineDaemon> {
    let lastLog = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const ngPort = await freeUdpPort();
      const portMin = 40000 + 2 * Math.floor(Math.random() * ((20000 - ports) / 2));
      const portMax = portMin + ports - 1;
      const child = spawn(binary, [
        '--config-file=none',
        '--foreground',
        '--log-stderr',
        '--no-log-timestamps',
        '--log-level=5',
        '--table=-1',
        '--interface=127.0.0.1',
        `--listen-ng=127.0.0.1:${ngPort}`,
        `--port-min=${portMin}`,
        `--port-max=${portMax}`,
        '--delete-delay=0',
        '--num-threads=2',
        '--timeout=60',
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      const daemon = new RtpengineDaemon(child, ngPort, portMin, portMax);
      const deadline = Date.now() + 10000;
      while (daemon.running && Date.now() < deadline) {
        if (await pong(ngPort, 200)) return daemon;
      }
      lastLog = daemon.log;
      await daemon.stop();
    }
    throw new Error(`rtpengine did not start:\n${lastLog}`);
  }

  /** SIGKILL: the daemon dies at once, as in a crash. Resolves when it has exited. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM, then SIGKILL after 3 s; resolves when it has exited. */
  async stop(): Promise<void> {
    if (!this.running) return this.#exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.#exited;
    clearTimeout(timer);
  }
}
