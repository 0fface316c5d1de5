import type { SipMessageAny } from './message-api.js';

/** An IP address (bare: IPv6 without brackets) and a UDP port. */
export interface Endpoint {
  address: string;
  port: number;
}

/** The transport protocol a message arrived on or leaves by. natter speaks UDP only. */
export type TransportProtocol = 'UDP';

/** What the transport knows about a received message (RFC 3261 §18.2.1: the source of the packet). */
export interface MessageInfo {
  /** Where the datagram came from: the packet's source address and port. */
  source: Endpoint;
  /** The local address and port of the socket that received it. */
  local: Endpoint;
  transport: TransportProtocol;
}

/** The layer above a transport (normally a TransactionLayer): receives every message that parsed. */
export interface TransportListener {
  /** A message that parsed; requests already carry `received`/`rport` in their top Via (RFC 3581). */
  onMessage(message: SipMessageAny, info: MessageInfo): void;
  /**
   * A failure that is not tied to one send: socket errors (as TransportError with the system error
   * as `cause`), and exceptions thrown by `onMessage` (passed as thrown). Never thrown.
   */
  onError?(error: Error): void;
}

/** Running totals kept by a transport; read-only snapshots for metrics. */
export interface TransportCounters {
  /** Datagrams read from the socket. */
  received: number;
  /** Requests and responses delivered to the listener. */
  requests: number;
  responses: number;
  /** Datagrams handed to the socket, and sends that failed. */
  sent: number;
  sendErrors: number;
  /** Datagrams that did not parse as SIP (answered or not). */
  parseErrors: number;
  /** Unparseable requests answered with 400 (or 505). */
  rejected: number;
  /** Datagrams dropped without an answer (unparseable and unanswerable, invalid responses, oversized). */
  dropped: number;
  /** Datagrams over the size limit (also counted in `dropped`). */
  oversized: number;
  /** CRLF keep-alives and STUN packets ignored. */
  keepalives: number;
  /** Exceptions thrown by the listener while handling a message. */
  handlerErrors: number;
}

/**
 * A SIP transport: sends messages to an address and port, and delivers each received message,
 * stamped with where it came from, to its listener.
 */
export interface Transport {
  readonly protocol: TransportProtocol;
  /** The address family of the socket. */
  readonly family: 4 | 6;
  /** Bound address and port (known once listening). */
  readonly localAddress: string;
  readonly localPort: number;
  /** The host and port to write in Via sent-by and Contact: the advertised address, else the bound one. */
  readonly sentBy: { host: string; port: number };
  readonly counters: Readonly<TransportCounters>;
  /** Sets the single listener (the layer above). */
  setListener(listener: TransportListener): void;
  /**
   * Sends one message (or already-serialized bytes). Resolves once the socket accepted it; rejects
   * with TransportError (or ClosedError after close()). Never throws synchronously.
   */
  send(message: SipMessageAny | Buffer, destination: Endpoint): Promise<void>;
  /** Releases the socket. Idempotent. */
  close(): Promise<void>;
}

export function newCounters(): TransportCounters {
  return {
    received: 0,
    requests: 0,
    responses: 0,
    sent: 0,
    sendErrors: 0,
    parseErrors: 0,
    rejected: 0,
    dropped: 0,
    oversized: 0,
    keepalives: 0,
    handlerErrors: 0,
  };
}
