import { createHash } from 'node:crypto';
import { type Socket, createConnection } from 'node:net';
import createDebug from 'debug';
import { ClosedError, InvalidArgumentError } from '../../errors.js';
import { RedisError, RespParser, type RespValue, encodeCommand } from './resp.js';

const debug = createDebug('natter:redis');

export interface RedisClientOptions {
  host?: string;
  port?: number;
  /** AUTH on every (re)connection: `password`, or `username` and `password` (Redis 6 ACLs). */
  username?: string;
  password?: string;
  /** SELECT on every (re)connection. Default 0. */
  db?: number;
  /** How long a command may wait for its reply (queued while disconnected included), in ms. Default 2000. */
  commandTimeout?: number;
  /** Longest pause between reconnection attempts, in ms (they start at 50 ms and double). Default 2000. */
  maxReconnectDelay?: number;
}

/** A Lua script run with EVALSHA, falling back to EVAL when the server does not have it cached. */
export class RedisScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

type Arg = string | number | Buffer;

interface Pending {
  bytes: Buffer;
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** Written to the current connection, awaiting its reply. */
  sent: boolean;
  /** Timed out while in flight: its reply is still to be read and thrown away. */
  abandoned: boolean;
}

/**
 * A small Redis client over node:net, written for the location store so that natter needs no
 * Redis package: RESP2, pipelining (commands are written as they come, replies matched in order),
 * AUTH and SELECT on connect, reconnection with backoff, and a timeout per command. A command
 * issued while disconnected waits for the connection, within its timeout. Commands in flight when
 * the connection drops fail with `ERR_REDIS_CONNECTION` (they may or may not have run).
 */
export class RedisClient {
  readonly host: string;
  readonly port: number;
  readonly #options: RedisClientOptions;
  readonly #commandTimeout: number;
  readonly #maxDelay: number;
  /** Commands not yet written (no connection yet). */
  #waiting: Pending[] = [];
  /** Commands written to the current connection, in order. */
  #inFlight: Pending[] = [];
  #socket: Socket | undefined;
  #ready = false;
  #delay = 50;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #lastError: Error | undefined;

  constructor(options: RedisClientOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 6379;
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65535) throw new InvalidArgumentError(`bad Redis port ${this.port}`);
    this.#options = options;
    this.#commandTimeout = options.commandTimeout ?? 2000;
    this.#maxDelay = options.maxReconnectDelay ?? 2000;
    this.#connect();
  }

  /** Parses `redis://[[user]:password@]host[:port][/db]`; query parameters are the caller's business. */
  static optionsFromUrl(url: string): RedisClientOptions {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new InvalidArgumentError(`bad Redis URL ${url}: redis://[:password@]HOST[:PORT][/DB]`);
    }
    if (u.protocol !== 'redis:') throw new InvalidArgumentError(`bad Redis URL ${url}: only redis:// (no TLS) is supported`);
    const options: RedisClientOptions = { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: u.port === '' ? 6379 : Number(u.port) };
    if (u.username !== '') options.username = decodeURIComponent(u.username);
    if (u.password !== '') options.password = decodeURIComponent(u.password);
    const db = u.pathname.replace(/^\//, '');
    if (db !== '') {
      if (!/^\d+$/.test(db)) throw new InvalidArgumentError(`bad Redis database ${db} in ${url}`);
      options.db = Number(db);
    }
    return options;
  }

  /** Whether the connection is up (handshake done). */
  get connected(): boolean {
    return this.#ready;
  }

  /** Runs one command, e.g. `call('SET', 'k', 'v', 'PX', 1000)`. Rejects with RedisError or ClosedError. */
  call(...args: Arg[]): Promise<RespValue> {
    if (this.#closed) return Promise.reject(new ClosedError('Redis client is closed'));
    return new Promise<RespValue>((resolve, reject) => {
      const p: Pending = { bytes: encodeCommand(args), resolve, reject, timer: undefined, sent: false, abandoned: false };
      p.timer = setTimeout(() => this.#timeout(p, String(args[0])), this.#commandTimeout);
      if (this.#ready) this.#write(p);
      else this.#waiting.push(p);
      this.#updateRef();
    }).then((v) => {
      if (v instanceof RedisError) throw v;
      return v;
    });
  }

  /** Runs a script: EVALSHA, and EVAL when the server answers NOSCRIPT. */
  async eval(script: RedisScript, keys: readonly string[], args: readonly Arg[]): Promise<RespValue> {
    try {
      return await this.call('EVALSHA', script.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof RedisError) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.call('EVAL', script.source, keys.length, ...keys, ...args);
    }
  }

  /** Fails every queued command with ClosedError and closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    for (const p of [...this.#waiting, ...this.#inFlight]) this.#fail(p, new ClosedError('Redis client is closed'));
    this.#waiting = [];
    this.#inFlight = [];
    const socket = this.#socket;
    this.#socket = undefined;
    this.#ready = false;
    if (socket !== undefined && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 500).unref();
      });
    }
  }

  #connect(): void {
    if (this.#closed) return;
    const socket = createConnection({ host: this.host, port: this.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.unref();
    const parser = new RespParser();
    socket.on('connect', () => {
      debug('connected to %s:%d', this.host, this.port);
      this.#handshake(socket);
    });
    socket.on('data', (chunk) => {
      let replies: RespValue[];
      try {
        replies = parser.push(chunk);
      } catch (err) {
        debug('protocol error from %s:%d: %s', this.host, this.port, (err as Error).message);
        socket.destroy(err as Error);
        return;
      }
      for (const reply of replies) {
        const p = this.#inFlight.shift();
        if (p === undefined) continue;
        if (p.abandoned) continue;
        if (p.timer !== undefined) clearTimeout(p.timer);
        p.resolve(reply);
      }
      this.#updateRef();
    });
    socket.on('error', (err) => {
      this.#lastError = err;
      debug('connection to %s:%d: %s', this.host, this.port, err.message);
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#ready = false;
      const lost = this.#inFlight;
      this.#inFlight = [];
      const why = this.#lastError?.message ?? 'connection closed';
      for (const p of lost) this.#fail(p, new RedisError('ERR_REDIS_CONNECTION', `Redis ${this.host}:${this.port}: ${why}`, { cause: this.#lastError }));
      this.#updateRef();
      if (this.#closed) return;
      this.#reconnectTimer = setTimeout(() => {
        this.#reconnectTimer = undefined;
        this.#connect();
      }, this.#delay);
      this.#reconnectTimer.unref();
      this.#delay = Math.min(this.#delay * 2, this.#maxDelay);
    });
  }

  /** AUTH and SELECT go first on a new connection; queued commands follow once they succeed. */
  #handshake(socket: Socket): void {
    const steps: Arg[][] = [];
    if (this.#options.password !== undefined) {
      steps.push(this.#options.username !== undefined ? ['AUTH', this.#options.username, this.#options.password] : ['AUTH', this.#options.password]);
    }
    if (this.#options.db !== undefined && this.#options.db !== 0) steps.push(['SELECT', this.#options.db]);
    let remaining = steps.length;
    const done = (): void => {
      this.#ready = true;
      this.#delay = 50;
      this.#lastError = undefined;
      const queued = this.#waiting;
      this.#waiting = [];
      for (const p of queued) this.#write(p);
    };
    if (remaining === 0) return done();
    for (const step of steps) {
      const p: Pending = {
        bytes: encodeCommand(step),
        resolve: (v) => {
          if (v instanceof RedisError) {
            this.#lastError = v;
            debug('%s failed: %s', step[0], v.message);
            socket.destroy();
            return;
          }
          if (--remaining === 0 && this.#socket === socket) done();
        },
        reject: () => undefined,
        timer: undefined,
        sent: true,
        abandoned: false,
      };
      this.#inFlight.push(p);
      socket.write(p.bytes);
    }
  }

  #write(p: Pending): void {
    p.sent = true;
    this.#inFlight.push(p);
    this.#socket!.write(p.bytes);
  }

  #timeout(p: Pending, command: string): void {
    p.timer = undefined;
    if (!p.sent) {
      const why = this.#lastError !== undefined ? ` (${this.#lastError.message})` : '';
      const error = new RedisError('ERR_REDIS_CONNECTION', `no connection to Redis ${this.host}:${this.port} within ${this.#commandTimeout} ms${why}`, { cause: this.#lastError });
      this.#waiting = this.#waiting.filter((q) => q !== p);
      p.reject(error);
      this.#updateRef();
      return;
    }
    // in flight: its reply must still be read in order; a server this slow is treated as gone
    const error = new RedisError('ERR_REDIS_TIMEOUT', `Redis ${this.host}:${this.port} did not answer ${command} within ${this.#commandTimeout} ms`);
    p.abandoned = true;
    p.reject(error);
    this.#socket?.destroy();
  }

  #fail(p: Pending, error: Error): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.timer = undefined;
    if (!p.abandoned) p.reject(error);
    p.abandoned = true;
  }

  /** The connection keeps the process alive only while commands are pending. */
  #updateRef(): void {
    const busy = this.#waiting.length > 0 || this.#inFlight.some((p) => !p.abandoned);
    if (this.#socket === undefined) return;
    if (busy) this.#socket.ref();
    else this.#socket.unref();
  }
}
