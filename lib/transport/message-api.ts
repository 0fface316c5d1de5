/**
 * The one place where the transport, transaction and user-agent layers import the message layer
 * (through the package barrel, as the message contract says). If the barrel ever needs to stop
 * re-exporting these layers to break an import cycle, only this file changes. Nothing here runs at
 * module-evaluation time, so the cycle index → transport → index is harmless.
 */
export {
  parse,
  serialize,
  SipRequest,
  SipResponse,
  Uri,
  Via,
  NameAddr,
  BRANCH_COOKIE,
  makeResponse,
  generateBranch,
  generateTag,
  generateCallId,
  parseUri,
} from '../index.js';
export type { SipMessageAny, HeaderField, HeaderInit } from '../index.js';
