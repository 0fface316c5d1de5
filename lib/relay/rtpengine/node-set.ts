import createDebug from 'debug';
import { isIP } from 'node:net';
import { InvalidArgumentError, RelayError } from '../../errors.js';
import { type Clock, type TimerHandle, systemClock } from '../../transaction/clock.js';
import { bstr } from './bencode.js';
import type { NgClient, NgTarget } from './ng-client.js';

const debug = createDebug('natter:relay:rtpengine');

/** One rtpengine instance: its ng control address and its share of new calls. */
export interface RtpengineNodeSpec {
  /** IP literal of its `--listen-ng`. */
  address: string;
  port: number;
  /** Relative share of new calls (default 1); 0 drains it: existing calls only. */
  weight?: number;
}

/** What the node set knows of one instance, for monitoring. */
export interface RtpengineNodeStatus {
  address: string;
  port: number;
  weight: number;
  /** False after a request or ping went unanswered, until a ping is answered again. */
  up: boolean;
  /** Calls this allocator holds on it. */
  calls: number;
  lastError: string | undefined;
}

/** One instance, as the node set tracks it. */
export class RtpengineNode implements NgTarget {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  up = true;
  calls = 0;
  lastError: string | undefined;
  /** Smooth weighted round robin state (nginx's algorithm). */
  current = 0;

  constructor(spec: RtpengineNodeSpec) {
    if (isIP(spec.address) === 0) throw new InvalidArgumentError(`rtpengine address must be an IP literal, got ${spec.address}`);
    if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) throw new InvalidArgumentError(`bad rtpengine port ${spec.port}`);
    const weight = spec.weight ?? 1;
    if (!Number.isInteger(weight) || weight < 0) throw new InvalidArgumentError(`rtpengine weight must be a non-negative integer, got ${weight}`);
    this.address = spec.address;
    this.port = spec.port;
    this.weight = weight;
  }

  get name(): string {
    return isIP(this.address) === 6 ? `[${this.address}]:${this.port}` : `${this.address}:${this.port}`;
  }

  status(): RtpengineNodeStatus {
    return { address: this.address, port: this.port, weight: this.weight, up: this.up, calls: this.calls, lastError: this.lastError };
  }
}

/**
 * The rtpengine instances one allocator uses, after Kamailio's rtpengine set: new calls are
 * spread over the live instances by weight (smooth weighted round robin), an instance that lets
 * a request time out is taken out of the rotation, and every `pingInterval` ms each instance is
 * sent an ng `ping`, which takes it out when unanswered and puts it back when answered.
 */
export class RtpengineNodeSet {
  readonly nodes: readonly RtpengineNode[];
  readonly #client: NgClient;
  readonly #clock: Clock;
  readonly #pingInterval: number;
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(specs: readonly RtpengineNodeSpec[], client: NgClient, options: { pingInterval?: number; clock?: Clock } = {}) {
    if (specs.length === 0) throw new InvalidArgumentError('at least one rtpengine instance is needed');
    this.nodes = specs.map((s) => new RtpengineNode(s));
    const names = new Set(this.nodes.map((n) => n.name));
    if (names.size !== this.nodes.length) throw new InvalidArgumentError('the same rtpengine instance is listed twice');
    this.#client = client;
    this.#clock = options.clock ?? systemClock;
    this.#pingInterval = options.pingInterval ?? 10000;
    if (!Number.isFinite(this.#pingInterval) || this.#pingInterval < 0) throw new InvalidArgumentError(`bad pingInterval ${this.#pingInterval}`);
  }

  /** Starts the periodic pings (none with pingInterval 0). */
  start(): void {
    if (this.#pingInterval > 0 && this.#timer === undefined && !this.#stopped) this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The instance for a new call: the live instance with weight > 0 that smooth weighted round
   * robin picks among those not in `exclude`; when none is live, one of those marked down (it
   * may be back before the next ping); undefined when every instance is excluded or drained.
   */
  pick(exclude: ReadonlySet<RtpengineNode> = new Set()): RtpengineNode | undefined {
    // with no live instance left, the ones marked down get a try (bounded by the request timeout)
    const live = this.nodes.some((n) => n.up && n.weight > 0 && !exclude.has(n));
    let total = 0;
    let best: RtpengineNode | undefined;
    for (const n of this.nodes) {
      if ((live && !n.up) || n.weight === 0 || exclude.has(n)) continue;
      n.current += n.weight;
      total += n.weight;
      if (best === undefined || n.current > best.current) best = n;
    }
    if (best !== undefined) best.current -= total;
    return best;
  }

  find(address: string, port: number): RtpengineNode | undefined {
    return this.nodes.find((n) => n.address === address && n.port === port);
  }

  /** Records the outcome of a request to a node: a timeout takes it down, any reply brings it up. */
  observe(node: RtpengineNode, error?: unknown): void {
    if (error instanceof RelayError && error.code === 'ERR_RELAY_TIMEOUT') {
      if (node.up) debug('rtpengine %s is down: %s', node.name, error.message);
      node.up = false;
      node.lastError = error.message;
    } else if (error === undefined || (error instanceof RelayError && error.code !== 'ERR_RELAY_CLOSED')) {
      // any reply, an error reply too, shows the instance is alive
      if (!node.up) debug('rtpengine %s is up again', node.name);
      node.up = true;
    }
  }

  /** Pings every instance once; resolves when each has answered or timed out. */
  async pingAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.ping(n)));
  }

  /** Pings one instance; true when it answered `pong`. */
  async ping(node: RtpengineNode): Promise<boolean> {
    try {
      const reply = await this.#client.request(node, { command: 'ping' });
      this.observe(node);
      return bstr(reply['result']) === 'pong';
    } catch (err) {
      this.observe(node, err);
      return false;
    }
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      void this.pingAll().finally(() => {
        if (!this.#stopped && this.#timer === undefined) this.#schedule();
      });
    }, this.#pingInterval);
  }
}
