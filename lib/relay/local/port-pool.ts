import { type Socket, createSocket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import createDebug from 'debug';
import { InvalidArgumentError, RelayError } from '../../errors.js';

const debug = createDebug('natter:relay');

/** A UDP socket bound to one port of a pool. */
export interface BoundPort {
  readonly port: number;
  readonly socket: Socket;
}

export interface PortPoolOptions {
  /** The local address the sockets bind to (IPv4 or IPv6 literal). */
  address: string;
  /** Lowest port of the range, inclusive. */
  min: number;
  /** Highest port of the range, inclusive. */
  max: number;
}

/**
 * UDP ports of a configurable range on one local address, handed out as bound sockets: even/odd
 * pairs for RTP and RTCP (RFC 3550 §11: "RTP SHOULD use an even destination port number and the
 * corresponding RTCP stream SHOULD use the next higher (odd) destination port number"), or single
 * ports (an RTCP port added later, or a stream with rtcp-mux, RFC 5761).
 *
 * A port some other program holds (EADDRINUSE) is skipped. The search starts after the last port
 * handed out, so a port just released is not reused at once and late packets of an old call do
 * not reach a new one. Exhaustion is RelayError `ERR_RELAY_NO_PORTS` (status 503).
 */
export class PortPool {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly min: number;
  readonly max: number;
  /** Ports reserved: bound, or being bound right now (so two allocations never race for a port). */
  readonly #reserved = new Set<number>();
  #cursor: number;

  constructor(options: PortPoolOptions) {
    const { address, min, max } = options;
    if (!isIPv4(address) && !isIPv6(address)) throw new InvalidArgumentError(`port pool address must be an IP literal: ${address}`);
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new InvalidArgumentError(`port range must be integers with 1 <= min <= max <= 65535, got ${min}-${max}`);
    }
    this.address = address;
    this.family = isIPv4(address) ? 'IPv4' : 'IPv6';
    this.min = min;
    this.max = max;
    this.#cursor = min;
  }

  /** Number of ports of the range currently taken by this pool. */
  get inUse(): number {
    return this.#reserved.size;
  }

  /** Number of ports in the range. */
  get size(): number {
    return this.max - this.min + 1;
  }

  /** Binds an even RTP port and the odd port above it for RTCP. */
  async allocatePair(): Promise<[rtp: BoundPort, rtcp: BoundPort]> {
    const first = this.min % 2 === 0 ? this.min : this.min + 1;
    const count = Math.floor((this.max - first + 1) / 2);
    const start = Math.max(0, Math.floor((this.#cursor - first) / 2)) % Math.max(count, 1);
    for (let i = 0; i < count; i++) {
      const port = first + 2 * ((start + i) % count);
      if (this.#reserved.has(port) || this.#reserved.has(port + 1)) continue;
      const rtp = await this.#tryBind(port);
      if (rtp === undefined) continue;
      const rtcp = await this.#tryBind(port + 1);
      if (rtcp === undefined) {
        this.release(rtp);
        continue;
      }
      this.#cursor = port + 2 > this.max ? this.min : port + 2;
      return [rtp, rtcp];
    }
    throw new RelayError('ERR_RELAY_NO_PORTS', `no free port pair in ${this.min}-${this.max} on ${this.address}`, 503);
  }

  /** Binds one port: `preferred` if it is free, else any free port of the range. */
  async allocateSingle(preferred?: number): Promise<BoundPort> {
    if (preferred !== undefined && preferred >= this.min && preferred <= this.max && !this.#reserved.has(preferred)) {
      const bound = await this.#tryBind(preferred);
      if (bound !== undefined) return bound;
    }
    for (let i = 0; i < this.size; i++) {
      const port = this.min + ((this.#cursor - this.min + i) % this.size);
      if (this.#reserved.has(port)) continue;
      const bound = await this.#tryBind(port);
      if (bound === undefined) continue;
      this.#cursor = port + 1 > this.max ? this.min : port + 1;
      return bound;
    }
    throw new RelayError('ERR_RELAY_NO_PORTS', `no free port in ${this.min}-${this.max} on ${this.address}`, 503);
  }

  /** Closes the socket and returns its port to the pool. Releasing twice is harmless. */
  release(bound: BoundPort): void {
    if (!this.#reserved.delete(bound.port)) return;
    bound.socket.removeAllListeners('message');
    try {
      bound.socket.close();
    } catch {
      // already closed
    }
  }

  /**
   * Reserves and binds `port`. Undefined when another program holds it (EADDRINUSE). Any other bind
   * failure (address not local, permission) is RelayError `ERR_RELAY_BIND` (503): no other port
   * would do better.
   */
  async #tryBind(port: number): Promise<BoundPort | undefined> {
    if (this.#reserved.has(port)) return undefined;
    this.#reserved.add(port);
    const socket = this.family === 'IPv4' ? createSocket('udp4') : createSocket({ type: 'udp6', ipv6Only: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port, address: this.address, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.#reserved.delete(port);
      try {
        socket.close();
      } catch {
        // never bound
      }
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        debug('port %s:%d in use elsewhere, skipped', this.address, port);
        return undefined;
      }
      throw new RelayError('ERR_RELAY_BIND', `cannot bind ${this.address}:${port}: ${(error as Error).message}`, 503, { cause: error });
    }
    socket.on('error', (err) => debug('socket %s:%d error: %s', this.address, port, err.message));
    return { port, socket };
  }
}
