import type { SipRequest } from '../message/message.js';

/**
 * Where a request really came from: the source address and port of the datagram (the "source IP
 * address extracted from the internet protocol channel" of claims 1 and 7), as the transport
 * stamped it, and the transport it came over (`udp` when absent).
 */
export interface NatSource {
  address: string;
  port: number;
  transport?: string;
}

/**
 * What one NAT test found. `expected` is the address (or address:port, or port) the message names;
 * `actual` is what it was compared with (the packet's source, or the address class it fell in).
 * A test returns a result with `fired: false` when it compared something and found no sign of NAT,
 * and `undefined` when it had nothing to compare (no Contact, no SDP, a host name, ...).
 */
export interface NatTestResult {
  test: string;
  fired: boolean;
  expected: string;
  actual: string;
  /** The Kamailio nat_uac_test flag of this test, when there is one. */
  flag?: number;
  detail?: string;
}

/** Knobs the built-in tests read. */
export interface NatTestOptions {
  /**
   * When the top Via or Contact names a host name instead of an IP literal, the address tests
   * cannot compare without DNS. `false` (the default): such a test does not fire. `true`: a name
   * counts as differing from the source (what Kamailio's `received` test does without DNS).
   */
  nameDiffers?: boolean;
}

/** The shape of one test: a pure function of the request and its source. */
export type NatTestFunction = (request: SipRequest, source: NatSource, options?: NatTestOptions) => NatTestResult | undefined;

/** A named NAT test; built-in tests also carry their Kamailio `nat_uac_test` flag. */
export interface NatTest {
  readonly name: string;
  readonly flag?: number;
  readonly description?: string;
  run: NatTestFunction;
}

/**
 * Kamailio nathelper's `nat_uac_test()` flag values, kept numerically identical so that an
 * operator's `nat_uac_test("19")` is natter's `tests: 19`. 256 is the flag newer Kamailio
 * releases added for "SDP connection address differs from the source".
 */
export const NatFlag = {
  /** 1: a Contact host is a private address. */
  CONTACT_PRIVATE: 1,
  /** 2: top Via sent-by host differs from the source address (the "received" test; claims 1 and 7). */
  VIA_RECEIVED: 2,
  /** 4: top Via sent-by host is a private address. */
  VIA_PRIVATE: 4,
  /** 8: an SDP c= address is private. */
  SDP_PRIVATE: 8,
  /** 16: top Via port (default 5060) differs from the source port (the "rport" test). */
  VIA_PORT: 16,
  /** 32: the source address itself is private. */
  SOURCE_PRIVATE: 32,
  /** 64: the request came over WebSocket (always behind something; RFC 7118). */
  WEBSOCKET: 64,
  /** 128: a Contact port (default 5060) differs from the source port. */
  CONTACT_PORT: 128,
  /** 256: an SDP c= address differs from the source address. */
  SDP_SOURCE: 256,
} as const;

export type NatFlagValue = (typeof NatFlag)[keyof typeof NatFlag];
