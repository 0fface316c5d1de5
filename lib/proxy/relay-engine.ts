import createDebug from 'debug';
import type { SipMessageAny } from '../message/message.js';
import type { RelayAllocator, RelayParty } from '../relay/relay-allocator.js';
import { parseMediaLine } from '../sdp/media-line.js';
import type { Call } from './call.js';
import { classifySdp, isSdpBody } from './offer-answer.js';

const debug = createDebug('natter:proxy:relay');

/**
 * The relay resource engine of claims 1 and 7: decides whether a call's media goes through a
 * relay, and hands each SDP offer and answer to the relay allocator, replacing the message's body
 * with the SDP that names the relay. What it rewrites for a party is remembered, so a
 * retransmitted 200 OK carries the very same SDP.
 */
export class RelayEngine {
  readonly allocator: RelayAllocator;
  readonly relayAlways: boolean;

  constructor(allocator: RelayAllocator, options: { relayAlways?: boolean } = {}) {
    this.allocator = allocator;
    this.relayAlways = options.relayAlways ?? false;
  }

  /**
   * Claim 1: "establishing a relay server resource if the IP address extracted from the internet
   * protocol channel does not match the IP address of the first client" - and, as any NAT proxy
   * must, when the callee is behind NAT too, or always when configured so.
   */
  shouldRelay(callerNatted: boolean, calleeNatted: boolean): boolean {
    return this.relayAlways || callerNatted || calleeNatted;
  }

  /**
   * Passes the SDP a message carries through the relay when the call is relayed, rewriting
   * `message.body` in place. `from` is the party that sent the message. Rejects with RelayError
   * when the relay cannot serve (its `status` says what to answer).
   */
  async process(call: Call, message: SipMessageAny, method: string, from: RelayParty): Promise<void> {
    if (!call.relayed) return;
    const body = message.body;
    if (!isSdpBody(message.contentType, body)) return;
    const slot = `${from}:${message.isRequest ? method : 'response'}`;
    const remembered = call.recall(slot, body);
    if (remembered !== undefined) {
      message.body = remembered;
      return;
    }
    const role = classifySdp({
      method,
      isRequest: message.isRequest,
      status: message.isRequest ? undefined : message.status,
      from,
      pendingOfferFrom: call.pendingOfferFrom,
      hasSdp: true,
    });
    if (role === 'none') return;
    const party = call.party(from);
    const options = { natted: party.natted, from, ...(party.source ? { sourceAddress: party.source.address } : {}) };
    let out: Buffer;
    if (role === 'offer') {
      // the SDP goes to the other party: in its address family (the relay bridges IPv4 and IPv6)
      const family = call.party(from === 'caller' ? 'callee' : 'caller').family;
      out = await this.allocator.offer(call.relayKey, body, family !== undefined ? { ...options, targetAddressType: family } : options);
      call.pendingOfferFrom = from;
    } else {
      out = await this.allocator.answer(call.relayKey, body, options);
      // a provisional answer (183) may be followed by the final one in the 2xx
      const final = message.isRequest || message.status >= 200;
      if (final) call.pendingOfferFrom = undefined;
    }
    debug('%s %s from %s in call %s', role, message.isRequest ? method : message.status, from, call.callId);
    call.remember(slot, body, out);
    // the rewritten SDP goes to the other party: it names the ports that party sends to
    const to: RelayParty = from === 'caller' ? 'callee' : 'caller';
    call.relayPorts[to] = relayPorts(out) ?? call.relayPorts[to];
    message.body = out;
  }

  /** Frees the call's relay resource; harmless when there is none. */
  async release(call: Call): Promise<void> {
    if (!call.relayed) return;
    try {
      await this.allocator.release(call.relayKey);
    } catch (err) {
      debug('release of call %s failed: %s', call.callId, (err as Error).message);
    }
  }
}

/**
 * The media ports an SDP names, for the call log. Read off the m= lines alone: this SDP was just
 * written by the relay, and a full parse (sdp-transform) here would be the third of every call.
 */
function relayPorts(sdp: Buffer): string | undefined {
  const ports: number[] = [];
  for (const line of sdp.toString('latin1').split('\n')) {
    if (!line.startsWith('m=')) continue;
    const media = parseMediaLine(line);
    if (media === undefined) return undefined;
    ports.push(media.port);
  }
  return ports.join(',');
}
