/**
 * The UDP transport (RFC 3261 §18, RFC 3581) over `node:dgram`, IPv4 or IPv6.
 *
 * The receive path never throws out of the socket callback: a datagram that is too big, a
 * keep-alive, garbage, an invalid response, or an exception in the listener is counted, logged on
 * `natter:transport`, and the socket keeps serving.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import createDebug from 'debug';
import { ClosedError, InvalidArgumentError, SipParseError, TransportError } from '../errors.js';
import { parse, serialize } from './message-api.js';
import type { SipMessageAny, SipRequest } from './message-api.js';
import { newCounters } from './transport.js';
import type { Endpoint, MessageInfo, Transport, TransportCounters, TransportListener } from './transport.js';
import { normalizeAddress, parseViaText, stampViaText } from './via-text.js';
import { responseDestination } from './resolver.js';
import type { LookupFunction } from './resolver.js';
import { buildErrorResponse } from './error-response.js';

const debug = createDebug('natter:transport');

/** The largest UDP payload over IPv4 (65 535 − 8 UDP − 20 IP). */
export const MAX_UDP_PAYLOAD = 65507;

export interface UdpTransportOptions {
  /** Address to bind. Default `0.0.0.0`, or `::` when `family` is 6. */
  address?: string;
  /** Port to bind; 0 picks a free one (tests). Default 5060. */
  port?: number;
  /** Address family; default from `address`, else 4. */
  family?: 4 | 6;
  /**
   * For an IPv6 socket bound to `::`: also receive and send IPv4 (as IPv4-mapped addresses, which
   * the transport reports and takes in their IPv4 form). Default false (IPv6 only).
   */
  dualStack?: boolean;
  /** Host (name or address) to advertise in Via sent-by and Contact instead of the bound address. */
  advertisedAddress?: string;
  /** Port to advertise; default the bound port. */
  advertisedPort?: number;
  /** Datagrams larger than this are dropped. Default and maximum 65 507. */
  maxMessageSize?: number;
  /** The layer above; can also be set later with setListener(). */
  listener?: TransportListener;
  /** Replaces dns.lookup for response destinations that name a host (tests). */
  lookup?: LookupFunction;
  /**
   * OS receive buffer size for the socket. Default DEFAULT_RECV_BUFFER_SIZE (4 MiB; the kernel
   * caps it at net.core.rmem_max): one event loop stall (a GC pause, a burst) must not overflow
   * the queue, or requests are lost and come back as retransmissions.
   */
  recvBufferSize?: number;
  /** OS send buffer size for the socket, when set. */
  sendBufferSize?: number;
  /**
   * Called for every datagram before anything else looks at it (flood protection: a blocked
   * source costs one call); false drops the datagram, counted in `dropped`. Must not throw.
   */
  filter?: (source: Endpoint, datagram: Buffer) => boolean;
}

/** Creates a UDP transport and binds it; rejects with TransportError if the bind fails. */
export async function createUdpTransport(options: UdpTransportOptions = {}): Promise<UdpTransport> {
  const t = new UdpTransport(options);
  await t.listen();
  return t;
}

export class UdpTransport implements Transport {
  readonly protocol = 'UDP' as const;
  readonly family: 4 | 6;
  readonly counters: TransportCounters = newCounters();
  #socket: dgram.Socket | undefined;
  #listener: TransportListener | undefined;
  #options: UdpTransportOptions;
  #bindAddress: string;
  #bindPort: number;
  #maxMessageSize: number;
  #local: Endpoint | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: UdpTransportOptions = {}) {
    const port = options.port ?? 5060;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`invalid port ${String(port)}`);
    const max = options.maxMessageSize ?? MAX_UDP_PAYLOAD;
    if (!Number.isInteger(max) || max < 1 || max > MAX_UDP_PAYLOAD) throw new InvalidArgumentError(`invalid maxMessageSize ${String(max)}`);
    const family = options.family ?? (options.address !== undefined && isIP(options.address) === 6 ? 6 : 4);
    const address = options.address ?? (family === 6 ? '::' : '0.0.0.0');
    if (isIP(address) === 0) throw new InvalidArgumentError(`bind address must be numeric: ${address}`);
    if (isIP(address) !== family) throw new InvalidArgumentError(`address ${address} is not IPv${family}`);
    this.family = family;
    this.#options = options;
    this.#bindAddress = address;
    this.#bindPort = port;
    this.#maxMessageSize = max;
    this.#listener = options.listener;
  }

  get localAddress(): string {
    return this.#local?.address ?? this.#bindAddress;
  }

  get localPort(): number {
    return this.#local?.port ?? this.#bindPort;
  }

  /** Host and port for Via sent-by and Contact: the advertised ones, else the bound address. */
  get sentBy(): { host: string; port: number } {
    let host = this.#options.advertisedAddress ?? this.localAddress;
    if (host === '0.0.0.0' || host === '::') host = this.family === 6 ? '::1' : '127.0.0.1';
    return { host, port: this.#options.advertisedPort ?? this.localPort };
  }

  get listening(): boolean {
    return this.#local !== undefined && !this.#closed;
  }

  setListener(listener: TransportListener): void {
    this.#listener = listener;
  }

  /** Binds the socket. Rejects with TransportError (cause: the system error, e.g. EADDRINUSE). */
  listen(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('transport closed'));
    if (this.#socket !== undefined) return Promise.reject(new InvalidArgumentError('transport already listening'));
    const socket = dgram.createSocket({ type: this.family === 6 ? 'udp6' : 'udp4', ipv6Only: this.family === 6 && this.#options.dualStack !== true });
    this.#socket = socket;
    return new Promise<void>((resolve, reject) => {
      const onBindError = (err: Error): void => {
        this.#socket = undefined;
        try {
          socket.close();
        } catch {
          // already closed by the failed bind
        }
        reject(this.#wrap(`cannot bind ${this.#bindAddress}:${this.#bindPort}`, err));
      };
      socket.once('error', onBindError);
      socket.bind({ address: this.#bindAddress, port: this.#bindPort, exclusive: true }, () => {
        socket.off('error', onBindError);
        socket.on('error', (err) => this.#onSocketError(err));
        socket.on('message', (buf, rinfo) => this.#onDatagram(buf, rinfo));
        setRecvBuffer(socket, this.#options.recvBufferSize);
        if (this.#options.sendBufferSize !== undefined) socket.setSendBufferSize(this.#options.sendBufferSize);
        const a = socket.address();
        this.#local = { address: a.address, port: a.port };
        debug('listening on %s:%d', a.address, a.port);
        resolve();
      });
    });
  }

  send(message: SipMessageAny | Buffer, destination: Endpoint): Promise<void> {
    const socket = this.#socket;
    if (this.#closed || socket === undefined) return Promise.reject(new ClosedError('transport closed'));
    let buf: Buffer;
    try {
      buf = Buffer.isBuffer(message) ? message : serialize(message);
    } catch (err) {
      return Promise.reject(err);
    }
    let address = destination.address;
    if (this.family === 6 && isIP(address) === 4) address = '::ffff:' + address;
    return new Promise<void>((resolve, reject) => {
      try {
        socket.send(buf, destination.port, address, (err) => {
          if (err) {
            this.counters.sendErrors++;
            debug('send to %s:%d failed: %s', destination.address, destination.port, err.message);
            reject(this.#wrap(`send to ${destination.address}:${destination.port} failed`, err));
          } else {
            this.counters.sent++;
            resolve();
          }
        });
      } catch (err) {
        this.counters.sendErrors++;
        reject(this.#wrap(`send to ${destination.address}:${destination.port} failed`, err as Error));
      }
    });
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    const socket = this.#socket;
    this.#closing = new Promise<void>((resolve) => {
      if (socket === undefined) return resolve();
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
    debug('closed %s:%d', this.localAddress, this.localPort);
    return this.#closing;
  }

  #wrap(message: string, err: Error): TransportError {
    const code = (err as NodeJS.ErrnoException).code;
    return new TransportError(code !== undefined ? `${message}: ${code}` : `${message}: ${err.message}`, { cause: err });
  }

  #onSocketError(err: Error): void {
    debug('socket error: %s', err.message);
    this.#listener?.onError?.(this.#wrap('socket error', err));
  }

  #onDatagram(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const counters = this.counters;
    counters.received++;
    const source: Endpoint = { address: normalizeAddress(rinfo.address), port: rinfo.port };
    const filter = this.#options.filter;
    if (filter !== undefined && !filter(source, buf)) {
      counters.dropped++;
      return;
    }
    if (buf.length > this.#maxMessageSize) {
      counters.oversized++;
      counters.dropped++;
      debug('dropped %d-byte datagram from %s:%d: over the %d-byte limit', buf.length, source.address, source.port, this.#maxMessageSize);
      return;
    }
    if (isKeepalive(buf)) {
      counters.keepalives++;
      return;
    }
    let message: SipMessageAny;
    try {
      // parse() validates the start line, framing and the headers every element reads, including
      // the five that every request and response must carry (RFC 3261 §8.1.1).
      message = parse(buf);
    } catch (err) {
      if (err instanceof SipParseError) this.#onParseError(err, source);
      else {
        counters.parseErrors++;
        counters.dropped++;
        debug('dropped datagram from %s:%d: %s', source.address, source.port, (err as Error).message);
      }
      return;
    }
    if (message.isRequest) {
      try {
        stampVia(message, source);
      } catch (err) {
        counters.parseErrors++;
        counters.dropped++;
        debug('dropped request from %s:%d: cannot stamp Via: %s', source.address, source.port, (err as Error).message);
        return;
      }
      counters.requests++;
    } else counters.responses++;
    const info: MessageInfo = { source, local: { address: this.localAddress, port: this.localPort }, transport: 'UDP' };
    const listener = this.#listener;
    if (listener === undefined) {
      counters.dropped++;
      debug('no listener: dropped %s from %s:%d', describe(message), source.address, source.port);
      return;
    }
    try {
      listener.onMessage(message, info);
    } catch (err) {
      counters.handlerErrors++;
      debug('listener threw on %s: %s', describe(message), (err as Error).stack ?? String(err));
      try {
        listener.onError?.(err as Error);
      } catch {
        // an error handler that throws is not allowed to take the socket down
      }
    }
  }

  /**
   * A datagram that is not valid SIP. RFC 3261 §8.2.6.2 / §18.2.1: a request we can read enough of
   * to build a response (Via, From, To, Call-ID, CSeq) is answered with the status and reason the
   * parser chose, sent where §18.2.2 says (to the stamped received/rport); anything else, and every
   * invalid response (§18.1.2), is dropped.
   */
  #onParseError(err: SipParseError, source: Endpoint): void {
    const counters = this.counters;
    counters.parseErrors++;
    const built = err.isRequest === true ? buildErrorResponse(err, source) : undefined;
    if (built === undefined) {
      counters.dropped++;
      debug('dropped unparseable %s from %s:%d: %s', err.isRequest === false ? 'response' : 'datagram', source.address, source.port, err.reason);
      return;
    }
    counters.rejected++;
    debug('answering unparseable request from %s:%d with %d %s', source.address, source.port, err.status, err.reason);
    const top = parseViaText(built.topVia);
    const dest = top !== undefined ? responseDestination(top, { family: this.family, lookup: this.#options.lookup }) : source;
    Promise.resolve(dest)
      .then((d) => this.send(built.bytes, d))
      .catch((e: unknown) => debug('could not send %d to %s:%d: %s', err.status, source.address, source.port, (e as Error).message));
  }
}

function describe(m: SipMessageAny): string {
  return m.isRequest ? m.method : String(m.status);
}

/** RFC 5626 §4.4.1 CRLF keep-alives (and any datagram of only CR/LF/space), and STUN packets (RFC 5389). */
function isKeepalive(buf: Buffer): boolean {
  let i = 0;
  while (i < buf.length && (buf[i] === 13 || buf[i] === 10 || buf[i] === 32 || buf[i] === 9)) i++;
  if (i === buf.length) return true;
  // STUN: top two bits zero and the magic cookie 0x2112A442 at offset 4.
  return buf.length >= 20 && (buf[0]! & 0xc0) === 0 && buf.readUInt32BE(4) === 0x2112a442;
}

/**
 * RFC 3261 §18.2.1: "When the server transport receives a request over any transport, it MUST
 * examine the value of the "sent-by" parameter in the top Via header field value. If the host
 * portion of the "sent-by" parameter contains a domain name, or if it contains an IP address that
 * differs from the packet source address, the server MUST add a "received" parameter to that Via
 * header field value. This parameter MUST contain the source address from which the packet was
 * received."
 *
 * RFC 3581 §4: "If this Via header field value contains an "rport" parameter with no value, it MUST
 * set the value of the parameter to the source port of the request. ... In fact, the server MUST
 * insert a "received" parameter containing the source IP address that the request came from, even
 * if it is identical to the value of the "sent-by" component."
 */
export function stampVia(request: SipRequest, source: Endpoint): void {
  const top = request.via[0];
  if (top === undefined) return;
  const wantsRport = top.rport === null;
  const differs = normalizeAddress(top.host) !== source.address;
  if (!differs && !wantsRport) return;
  const raw = request.get('via');
  if (raw === undefined) return;
  request.shift('via');
  request.prepend('Via', stampViaText(raw, source.address, wantsRport ? source.port : undefined));
}

/**
 * The default SO_RCVBUF of the SIP socket. Linux's default (net.core.rmem_default, 208 KiB) holds
 * only about 150 SIP datagrams on loopback (each is charged its buffer's true size): at 1000
 * calls/s a 30 ms pause of the event loop overflows it. Kamailio likewise raises its UDP receive
 * buffer at startup.
 */
export const DEFAULT_RECV_BUFFER_SIZE = 4 * 1024 * 1024;

/** Sets SO_RCVBUF: the requested size, or the default; a default the system refuses is left out. */
function setRecvBuffer(socket: dgram.Socket, requested: number | undefined): void {
  if (requested !== undefined) {
    socket.setRecvBufferSize(requested);
    return;
  }
  try {
    socket.setRecvBufferSize(DEFAULT_RECV_BUFFER_SIZE);
  } catch (err) {
    debug('cannot raise the receive buffer to %d bytes: %s', DEFAULT_RECV_BUFFER_SIZE, (err as Error).message);
  }
}
