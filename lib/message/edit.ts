import type { SipMessage } from './message.js';
import { NameAddr } from './name-addr.js';
import { Uri } from './uri.js';
import { Via } from './via.js';

/**
 * Edits a proxy makes to a message (RFC 3261 §16.6, §16.7, §18.2.1). Each keeps every other byte
 * of the message as it was.
 */

/** Pushes a new top Via (§16.6 step 8). */
export function addVia(msg: SipMessage, via: Via | string): void {
  msg.prepend('Via', via.toString());
}

/** Removes the top Via (§16.7 step 3), even when it shares a field with the next one. */
export function removeTopVia(msg: SipMessage): Via | undefined {
  const top = msg.via[0];
  if (top === undefined) return undefined;
  msg.shift('Via');
  return top;
}

/** Rewrites the top Via (for received/rport, §18.2.1 and RFC 3581 §4). */
export function replaceTopVia(msg: SipMessage, via: Via): void {
  msg.shift('Via');
  msg.prepend('Via', via.toString());
}

/**
 * RFC 3261 §18.2.1: add `received` when the sent-by host differs from the packet's source
 * address; RFC 3581 §4: fill in `rport` with the source port when the client asked for it (and
 * then add `received` even when the host matches). Returns true when the top Via changed.
 */
export function stampReceived(msg: SipMessage, address: string, port: number): boolean {
  const top = msg.via[0];
  if (top === undefined) return false;
  const wantsRport = top.rport === null;
  if (!wantsRport && top.host === address) return false;
  const via = top.clone();
  via.received = address;
  if (wantsRport) via.rport = port;
  replaceTopVia(msg, via);
  return true;
}

/** Adds a Record-Route for this proxy above the existing ones (§16.6 step 4); `lr` is added. */
export function addRecordRoute(msg: SipMessage, uri: Uri): void {
  const u = uri.clone();
  u.params['lr'] = null;
  msg.prepend('Record-Route', new NameAddr(u).toString());
}

/** Pushes a Route on top (§16.6 step 7 or a UAC's pre-loaded route). */
export function addRoute(msg: SipMessage, uri: Uri | NameAddr): void {
  msg.prepend('Route', (uri instanceof NameAddr ? uri : new NameAddr(uri)).toString());
}

/** Removes the top Route (§16.4: a proxy removes the Route naming itself). */
export function removeTopRoute(msg: SipMessage): NameAddr | undefined {
  const top = msg.route[0];
  if (top === undefined) return undefined;
  msg.shift('Route');
  return top;
}
