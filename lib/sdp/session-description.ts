import { parse, type SessionDescription } from 'sdp-transform';
import { RelayError } from '../errors.js';
import { parseMediaLine } from './media-line.js';

export type { SessionDescription, MediaDescription } from 'sdp-transform';

/**
 * Reads an SDP body with sdp-transform. Throws RelayError `ERR_RELAY_BAD_SDP` (status 488, "Not
 * Acceptable Here", RFC 3261 §21.4.26) when the body is not a session description a relay can work
 * with: RFC 4566 §5 requires `v=0` first and an `o=` line, and every m= line needs a port and a
 * transport.
 */
export function parseSessionDescription(body: Buffer): SessionDescription {
  const text = body.toString('latin1');
  if (!/^v=0\s*(\r\n|\n|\r)/.test(text)) throw badSdp('SDP must start with v=0 (RFC 4566 §5.1)');
  let description: SessionDescription;
  try {
    description = parse(text);
  } catch (cause) {
    throw badSdp('SDP could not be parsed', cause);
  }
  if (!description.origin || typeof description.origin.address !== 'string') {
    throw badSdp('SDP has no usable o= line (RFC 4566 §5.2)');
  }
  const mLines = text.match(/^m=.*$/gm) ?? [];
  if (mLines.length !== description.media.length) throw badSdp('SDP has an m= line that cannot be read');
  for (const mLine of mLines) {
    if (!parseMediaLine(mLine)) throw badSdp(`SDP line "${mLine.trimEnd()}" has no valid port and transport (RFC 4566 §5.14)`);
  }
  return description;
}

/** The error for an SDP a relay cannot work with: 488 Not Acceptable Here. */
export function badSdp(message: string, cause?: unknown): RelayError {
  return new RelayError('ERR_RELAY_BAD_SDP', message, 488, cause === undefined ? undefined : { cause });
}
