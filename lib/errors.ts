/**
 * Every failure natter reports is a SipError with a stable `code`; callers branch on `code`,
 * never on message text (the undici convention).
 */
export class SipError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Raw header values that could be read from a message that failed to parse. */
export interface PartialHeaders {
  via: string[];
  from?: string;
  to?: string;
  callId?: string;
  cseq?: string;
}

/**
 * A message that is not valid SIP. `status` is what a server should answer with (400, or 505 for
 * an unknown SIP version) and `reason` is a reason phrase naming the fault. `isRequest` is
 * true/false when the start line could be classified, undefined otherwise. `headers` holds what
 * could be read of the headers a response needs (RFC 3261 §8.2.6.2): Via, From, To, Call-ID, CSeq.
 */
export class SipParseError extends SipError {
  readonly status: number;
  readonly reason: string;
  readonly isRequest: boolean | undefined;
  readonly headers: PartialHeaders;
  constructor(reason: string, options: { status?: number; isRequest?: boolean; headers?: PartialHeaders } = {}) {
    super('ERR_SIP_PARSE', reason);
    this.status = options.status ?? 400;
    this.reason = reason;
    this.isRequest = options.isRequest;
    this.headers = options.headers ?? { via: [] };
  }
}

/** A bad argument given to a natter API (wrong type, out of range, malformed URI in options). */
export class InvalidArgumentError extends SipError {
  constructor(message: string) {
    super('ERR_SIP_INVALID_ARG', message);
  }
}

/** A socket-level failure: bind error, ICMP unreachable, send on a closed socket. */
export class TransportError extends SipError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'ERR_SIP_TRANSPORT', message, options);
  }
}

/** A transaction timed out (Timer B or F): the TU treats it as a 408 (RFC 3261 §8.1.3.1). */
export class TimeoutError extends SipError {
  constructor(message: string) {
    super('ERR_SIP_TIMEOUT', message);
  }
}

/** An operation on an object that was closed. */
export class ClosedError extends SipError {
  constructor(message = 'closed') {
    super('ERR_SIP_CLOSED', message);
  }
}

/** A media relay could not be allocated or answered; `status` is the SIP answer to give (503, 488, 481). */
export class RelayError extends SipError {
  readonly status: number;
  constructor(code: string, message: string, status = 503, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}
