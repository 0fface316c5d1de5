import { TransportError } from '../../lib/errors.js';
import { parse, serialize } from '../../lib/transport/message-api.js';
import type { SipMessageAny, SipRequest, SipResponse } from '../../lib/transport/message-api.js';
import { newCounters } from '../../lib/transport/transport.js';
import type { Endpoint, MessageInfo, Transport, TransportCounters, TransportListener } from '../../lib/transport/transport.js';
import { stampVia } from '../../lib/transport/udp-transport.js';

export interface Sent {
  message: SipMessageAny;
  destination: Endpoint;
}

/**
 * A transport that records what is sent (synchronously, parsed back from its bytes when a Buffer)
 * and lets a test deliver messages as if they came from the network (requests get their top Via
 * stamped with received/rport exactly as the UDP transport does).
 */
export class FakeTransport implements Transport {
  readonly protocol = 'UDP' as const;
  readonly family = 4 as const;
  readonly localAddress: string;
  readonly localPort: number;
  readonly sentBy: { host: string; port: number };
  /** When set, sent messages are also queued on this network for delivery to another transport. */
  readonly network: FakeNetwork | undefined;
  readonly counters: TransportCounters = newCounters();
  sent: Sent[] = [];
  listener: TransportListener | undefined;
  /** When set, every send rejects with it. */
  failWith: Error | undefined;
  closed = false;

  constructor(options: { address?: string; port?: number; network?: FakeNetwork } = {}) {
    this.localAddress = options.address ?? '192.0.2.1';
    this.localPort = options.port ?? 5060;
    this.sentBy = { host: this.localAddress, port: this.localPort };
    this.network = options.network;
    this.network?.attach(this);
  }

  setListener(listener: TransportListener): void {
    this.listener = listener;
  }

  send(message: SipMessageAny | Buffer, destination: Endpoint): Promise<void> {
    if (this.failWith !== undefined) {
      this.counters.sendErrors++;
      return Promise.reject(this.failWith);
    }
    const m = Buffer.isBuffer(message) ? parse(message) : message;
    this.sent.push({ message: m, destination: { ...destination } });
    this.counters.sent++;
    this.network?.enqueue(this, m, destination);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Delivers a message (text is parsed) from `source` to the listener. */
  deliver(message: SipMessageAny | string, source: Endpoint = { address: '198.51.100.7', port: 5062 }): SipMessageAny {
    const m = typeof message === 'string' ? parse(message) : message;
    if (m.isRequest) stampVia(m, source);
    const info: MessageInfo = { source, local: { address: this.localAddress, port: this.localPort }, transport: 'UDP' };
    this.listener?.onMessage(m, info);
    return m;
  }

  /** Returns and forgets what was sent so far. */
  take(): Sent[] {
    const s = this.sent;
    this.sent = [];
    return s;
  }

  requests(method?: string): SipRequest[] {
    return this.sent.flatMap((s) => (s.message.isRequest && (method === undefined || s.message.method === method) ? [s.message] : []));
  }

  responses(status?: number): SipResponse[] {
    return this.sent.flatMap((s) => (!s.message.isRequest && (status === undefined || s.message.status === status) ? [s.message] : []));
  }

  /** A TransportError like the UDP transport's (for failWith). */
  static error(message = 'send failed: EHOSTUNREACH'): TransportError {
    return new TransportError(message);
  }
}

/**
 * Connects fake transports: what one sends to another's address is queued, and `run()` delivers
 * the queue (re-parsed from bytes, like a real network) until it is empty. `drop` loses chosen
 * messages (sipp -lost style tests).
 */
export class FakeNetwork {
  readonly #transports = new Map<string, FakeTransport>();
  #queue: { from: FakeTransport; bytes: Buffer; to: Endpoint; message: SipMessageAny }[] = [];
  drop: ((message: SipMessageAny, from: Endpoint, to: Endpoint) => boolean) | undefined;
  dropped: SipMessageAny[] = [];

  attach(t: FakeTransport): void {
    this.#transports.set(`${t.localAddress}:${t.localPort}`, t);
  }

  enqueue(from: FakeTransport, message: SipMessageAny, to: Endpoint): void {
    this.#queue.push({ from, bytes: serialize(message), to, message });
  }

  /** Delivers queued messages (and what they trigger) until none is left; returns how many. */
  run(limit = 10_000): number {
    let n = 0;
    while (this.#queue.length > 0 && n < limit) {
      const { from, bytes, to, message } = this.#queue.shift()!;
      n++;
      const source = { address: from.localAddress, port: from.localPort };
      if (this.drop?.(message, source, to) === true) {
        this.dropped.push(message);
        continue;
      }
      this.#transports.get(`${to.address}:${to.port}`)?.deliver(parse(bytes), source);
    }
    return n;
  }
}
