import type { SipMessage } from './message.js';

/**
 * Writes a message as bytes: start line, every header field in order (values as they are held),
 * a Content-Length equal to the body's length (replacing the value of an existing Content-Length
 * field, or added last), an empty line and the body. A parsed message nobody changed serializes
 * to the very bytes it was parsed from.
 */
export function serialize(msg: SipMessage): Buffer {
  if (msg._raw !== undefined) return msg._raw;
  const body = msg.body;
  let head = msg.startLine() + '\r\n';
  let wroteLength = false;
  for (const h of msg._headers) {
    if (h.key === 'content-length') {
      if (wroteLength) continue;
      head += h.name + ': ' + body.length + '\r\n';
      wroteLength = true;
    } else {
      head += h.name + ': ' + h.value + '\r\n';
    }
  }
  if (!wroteLength) head += 'Content-Length: ' + body.length + '\r\n';
  head += '\r\n';
  const headLength = Buffer.byteLength(head, 'latin1');
  const out = Buffer.allocUnsafe(headLength + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, headLength);
  return out;
}
