import type { SipMessage } from '../message/message.js';
import { formatHost } from '../message/uri.js';

/**
 * Kamailio's `fix_nated_contact()`: rewrites the host and port of the (first) Contact URI to the
 * address the message really came from, so requests within the dialog (BYE, re-INVITE) reach a
 * client behind NAT through the mapping its own packets opened. Only a single SIP Contact is
 * rewritten; `*` and other schemes are left alone. Returns true when the message changed.
 */
export function fixNatedContact(message: SipMessage, source: { address: string; port: number }): boolean {
  const contacts = message.contact;
  if (contacts.length !== 1) return false;
  const contact = contacts[0]!.clone();
  if (contact.wildcard || !contact.uri.isSip) return false;
  if (contact.uri.host === source.address && contact.uri.port === source.port) return false;
  contact.uri.host = source.address;
  contact.uri.port = source.port;
  message.set('Contact', contact.toString());
  return true;
}

/** `sip:address:port` for a source endpoint (IPv6 in brackets). */
export function sourceUriText(source: { address: string; port: number }): string {
  return `sip:${formatHost(source.address)}:${source.port}`;
}
