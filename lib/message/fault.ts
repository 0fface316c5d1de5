/**
 * A fault found while parsing a message: the reason phrase and the status a server answers with
 * (RFC 3261 §21.4.1 400, §21.5.6 505, §21.4.14 513). parse() turns it into a SipParseError
 * carrying what could be read of the headers.
 */
export class Fault extends Error {
  constructor(
    readonly reason: string,
    readonly status = 400,
  ) {
    super(reason);
  }
}

/**
 * The largest unsigned 32-bit value: delta-seconds (§25.1, Expires §20.19) and the CSeq number
 * (§8.1.1.5) are at most this.
 */
export const MAX_UINT32 = 4294967295;

/** Parser limits: a datagram is at most 65 535 bytes anyway; these bound work on hostile input. */
export const MAX_HEADERS = 512;
export const MAX_MESSAGE = 65535;
