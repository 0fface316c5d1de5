import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import createDebug from 'debug';
import { InvalidArgumentError, RelayError } from '../../errors.js';
import { type Clock, type TimerHandle, systemClock } from '../../transaction/clock.js';
import { type BencodeDict, type BencodeInput, bdecode, bdict, bencode, bstr } from './bencode.js';

const debug = createDebug('natter:relay:rtpengine');

/** Where an rtpengine listens for ng commands (`--listen-ng`). */
export interface NgTarget {
  address: string;
  port: number;
}

/** An ng command: a dictionary with at least `command` (ping, offer, answer, delete, query, ...). */
export type NgCommand = { readonly command: string } & { readonly [key: string]: BencodeInput | undefined };

export interface NgClientOptions {
  /** How long one request may take, retransmissions included, before it fails, in ms. Default 3000. */
  timeout?: number;
  /** Time between retransmissions of an unanswered request (same cookie), in ms. Default 500. */
  retransmitInterval?: number;
  /** Clock for the retransmission and timeout timers. Default: the system clock. */
  clock?: Clock;
}

interface Pending {
  cookie: string;
  target: string;
  command: string;
  datagram: Buffer;
  socket: Socket;
  destination: NgTarget;
  sends: number;
  resolve: (reply: BencodeDict) => void;
  reject: (error: Error) => void;
  retransmit: TimerHandle | undefined;
  deadline: TimerHandle | undefined;
}

/**
 * A client of rtpengine's ng control protocol over UDP. A request is the datagram
 * `<cookie> <bencoded dictionary>`; the reply carries the same cookie. An unanswered request is
 * sent again with the same cookie every `retransmitInterval` ms (rtpengine keeps a cache of
 * replies by cookie, so a retransmitted offer is not executed twice) until `timeout`, when it
 * fails with `ERR_RELAY_TIMEOUT`. A reply whose `result` is `error` rejects with a RelayError
 * mapped from its `error-reason` (see `ngError`).
 */
export class NgClient {
  readonly timeout: number;
  readonly retransmitInterval: number;
  readonly #clock: Clock;
  readonly #pending = new Map<string, Pending>();
  readonly #sockets = new Map<'udp4' | 'udp6', Promise<Socket>>();
  /** Requests in flight per socket: a socket is ref'ed only while it has some. */
  readonly #inFlight = new Map<Socket, number>();
  readonly #prefix = randomBytes(4).toString('hex');
  #counter = 0;
  #closed = false;

  constructor(options: NgClientOptions = {}) {
    this.timeout = positive('timeout', options.timeout ?? 3000);
    this.retransmitInterval = positive('retransmitInterval', options.retransmitInterval ?? 500);
    this.#clock = options.clock ?? systemClock;
  }

  /** Requests awaiting a reply. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Sends a command and resolves with the reply dictionary (result `ok`, `pong` or `warning`).
   * Rejects with RelayError: `ERR_RELAY_TIMEOUT` (503) without a reply, the mapped code of an
   * `error` reply, `ERR_RELAY_BAD_REPLY` for a reply that is not a bencoded dictionary,
   * `ERR_RELAY_CLOSED` after close().
   */
  async request(target: NgTarget, command: NgCommand): Promise<BencodeDict> {
    if (this.#closed) throw new RelayError('ERR_RELAY_CLOSED', 'ng client is closed', 503);
    const socket = await this.#socket(isIPv6(target.address) ? 'udp6' : 'udp4');
    if (this.#closed) throw new RelayError('ERR_RELAY_CLOSED', 'ng client is closed', 503);
    const cookie = `${this.#prefix}_${(++this.#counter).toString(36)}`;
    const datagram = Buffer.concat([Buffer.from(cookie + ' ', 'latin1'), bencode(command)]);
    const where = `${target.address}:${target.port}`;
    return new Promise<BencodeDict>((resolve, reject) => {
      const p: Pending = { cookie, target: where, command: command.command, datagram, socket, destination: target, sends: 0, resolve, reject, retransmit: undefined, deadline: undefined };
      this.#pending.set(cookie, p);
      // a pending request keeps the process alive (the socket is unref'ed while idle)
      const inFlight = this.#inFlight.get(socket) ?? 0;
      if (inFlight === 0) socket.ref();
      this.#inFlight.set(socket, inFlight + 1);
      p.deadline = this.#clock.setTimeout(() => {
        this.#settle(p);
        debug('%s to %s: no reply after %d send(s)', p.command, where, p.sends);
        reject(new RelayError('ERR_RELAY_TIMEOUT', `rtpengine ${where} did not answer ${p.command} within ${this.timeout} ms`, 503));
      }, this.timeout);
      this.#send(p);
    });
  }

  /** Fails every pending request with `ERR_RELAY_CLOSED` and closes the sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of [...this.#pending.values()]) {
      this.#settle(p);
      p.reject(new RelayError('ERR_RELAY_CLOSED', 'ng client is closed', 503));
    }
    const sockets = await Promise.allSettled(this.#sockets.values());
    this.#sockets.clear();
    await Promise.all(
      sockets.map((s) => (s.status === 'fulfilled' ? new Promise<void>((resolve) => s.value.close(() => resolve())) : undefined)),
    );
  }

  #send(p: Pending): void {
    p.sends++;
    p.socket.send(p.datagram, p.destination.port, p.destination.address, (err) => {
      if (err) debug('%s to %s: send failed: %s', p.command, p.target, err.message);
    });
    p.retransmit = this.#clock.setTimeout(() => {
      p.retransmit = undefined;
      if (this.#pending.get(p.cookie) === p) this.#send(p);
    }, this.retransmitInterval);
  }

  #settle(p: Pending): void {
    this.#pending.delete(p.cookie);
    const inFlight = (this.#inFlight.get(p.socket) ?? 1) - 1;
    this.#inFlight.set(p.socket, inFlight);
    if (inFlight === 0) p.socket.unref();
    if (p.retransmit !== undefined) this.#clock.clearTimeout(p.retransmit);
    if (p.deadline !== undefined) this.#clock.clearTimeout(p.deadline);
    p.retransmit = p.deadline = undefined;
  }

  #socket(type: 'udp4' | 'udp6'): Promise<Socket> {
    let socket = this.#sockets.get(type);
    if (socket === undefined) {
      socket = new Promise<Socket>((resolve, reject) => {
        const s = createSocket(type === 'udp6' ? { type, ipv6Only: true } : { type });
        s.once('error', reject);
        s.bind(0, () => {
          s.off('error', reject);
          s.on('error', (err) => debug('ng socket error: %s', err.message));
          s.on('message', (msg) => this.#receive(msg));
          s.unref();
          resolve(s);
        });
      });
      socket.catch(() => this.#sockets.delete(type));
      this.#sockets.set(type, socket);
    }
    return socket;
  }

  #receive(msg: Buffer): void {
    const space = msg.indexOf(0x20);
    if (space <= 0) return;
    const p = this.#pending.get(msg.toString('latin1', 0, space));
    if (p === undefined) return; // a late reply to a request that timed out, or a duplicate
    this.#settle(p);
    let reply: BencodeDict | undefined;
    try {
      reply = bdict(bdecode(msg.subarray(space + 1)));
    } catch {
      reply = undefined;
    }
    if (reply === undefined) {
      p.reject(new RelayError('ERR_RELAY_BAD_REPLY', `rtpengine ${p.target} sent a reply to ${p.command} that is not a bencoded dictionary`, 500));
      return;
    }
    const result = bstr(reply['result']);
    if (result === 'error' || result === 'load limit') {
      const reason = result === 'load limit' ? 'load limit' : (bstr(reply['error-reason']) ?? 'unspecified error');
      debug('%s to %s: error: %s', p.command, p.target, reason);
      p.reject(ngError(reason, p.command, p.target));
      return;
    }
    if (result === 'warning') debug('%s to %s: warning: %s', p.command, p.target, bstr(reply['warning']));
    p.resolve(reply);
  }
}

/**
 * The RelayError for an ng `error` reply, its status being what the proxy answers the caller:
 * an unknown call or tag is `ERR_RELAY_UNKNOWN_SESSION` (481); an SDP rtpengine cannot parse or
 * rewrite `ERR_RELAY_BAD_SDP` (488); no ports, a session or load limit `ERR_RELAY_NO_PORTS` (503);
 * anything else `ERR_RELAY_FAILED` (500).
 */
export function ngError(reason: string, command: string, target: string): RelayError {
  const r = reason.toLowerCase();
  const message = `rtpengine ${target} refused ${command}: ${reason}`;
  if (/unknown (call|from|to)|not found/.test(r)) return new RelayError('ERR_RELAY_UNKNOWN_SESSION', message, 481);
  if (/out of ports|no (free )?ports|load limit|session limit|parallel session|too many|capacity|max(imum)? (sessions|load|cpu|bandwidth)/.test(r)) {
    return new RelayError('ERR_RELAY_NO_PORTS', message, 503);
  }
  if (/sdp|incomplete|parse|unsupported|protocol|invalid/.test(r)) return new RelayError('ERR_RELAY_BAD_SDP', message, 488);
  return new RelayError('ERR_RELAY_FAILED', message, 500);
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`${name} must be a positive number of ms, got ${v}`);
  return v;
}
