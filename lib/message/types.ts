/**
 * The shapes of parsed SIP values. Hosts are always bare: an IPv6 address is `2001:db8::1`, never
 * `[2001:db8::1]`; serializers add the brackets (RFC 3261 §25.1 IPv6reference, RFC 5118).
 * Parameter maps have lower-cased names; a parameter present without a value maps to `null`.
 */
export type Params = Record<string, string | null>;

/** One raw header field exactly as received (value is the latin1 text of the bytes, folding undone). */
export interface HeaderField {
  name: string;
  value: string;
}

/** A header-field's CSeq (RFC 3261 §20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

/** Where a message came from or goes to. */
export interface Endpoint {
  address: string;
  port: number;
}
