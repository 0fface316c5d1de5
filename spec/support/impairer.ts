import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';

/**
 * A userspace network impairment between one SIP client and a server, for kernels without netem:
 * every datagram, either way, is dropped with probability `loss` or delayed by a random time up
 * to `maxDelayMs`, so datagrams overtake each other (reordering). The client talks to `address`;
 * the server sees the impairer's second socket as the client's address.
 */
export class Impairer {
  readonly stats = { forwarded: 0, dropped: 0, reordered: 0 };
  #client: { address: string; port: number } | undefined;
  #lastDue = { up: 0, down: 0 };
  #closed = false;
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(
    readonly front: Socket,
    readonly back: Socket,
    readonly server: { address: string; port: number },
    readonly loss: number,
    readonly maxDelayMs: number,
  ) {
    front.on('message', (m, r) => {
      this.#client = { address: r.address, port: r.port };
      this.#pass('up', m, () => back.send(m, server.port, server.address));
    });
    back.on('message', (m) => {
      const c = this.#client;
      if (c !== undefined) this.#pass('down', m, () => front.send(m, c.port, c.address));
    });
  }

  static async start(server: { address: string; port: number }, loss: number, maxDelayMs: number): Promise<Impairer> {
    const bind = async (): Promise<Socket> => {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
      return s;
    };
    return new Impairer(await bind(), await bind(), server, loss, maxDelayMs);
  }

  /** Where the client sends. */
  get address(): { address: string; port: number } {
    return { address: '127.0.0.1', port: this.front.address().port };
  }

  #pass(direction: 'up' | 'down', _m: Buffer, send: () => void): void {
    if (this.#closed) return;
    if (Math.random() < this.loss) {
      this.stats.dropped++;
      return;
    }
    const delay = Math.random() * this.maxDelayMs;
    const due = Date.now() + delay;
    if (due < this.#lastDue[direction]) this.stats.reordered++;
    this.#lastDue[direction] = Math.max(this.#lastDue[direction], due);
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (this.#closed) return;
      this.stats.forwarded++;
      send();
    }, delay);
    this.#timers.add(t);
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.front.close();
    this.back.close();
  }
}
