/**
 * natter's public API. Everything a user imports comes from here; nothing else is public.
 */
export * from './message/index.js';
export {
  SipError,
  SipParseError,
  InvalidArgumentError,
  TransportError,
  TimeoutError,
  ClosedError,
  RelayError,
} from './errors.js';
export type { PartialHeaders } from './errors.js';
