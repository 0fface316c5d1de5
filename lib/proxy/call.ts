import type { Endpoint } from '../transport/transport.js';
import type { RelayParty, RelaySessionKey } from '../relay/relay-allocator.js';
import type { NatVerdict } from '../nat/detector.js';

/** One side of a call as the proxy saw it. */
export interface CallParty {
  /** The AOR or URI naming the party (From for the caller, the Request-URI for the callee). */
  uri: string;
  /** Where its SIP packets come from (the callee's once it answered). */
  source?: Endpoint;
  /** Whether it is behind NAT (caller: the detector's verdict; callee: its binding's). */
  natted: boolean;
  /** The address family it is reached in, when known: the relay gives it SDP of that family. */
  family?: 'IP4' | 'IP6' | undefined;
}

/** The last SDP the relay rewrote for a party, so a retransmitted message gets the same bytes. */
interface SdpMemo {
  input: Buffer;
  output: Buffer;
}

/**
 * A call the proxy tracks from its INVITE until BYE, failure, timeout or the relay's media
 * timeout: the parties, the NAT verdict, whether media is relayed, and the offer/answer state.
 */
export class Call {
  readonly callId: string;
  readonly callerTag: string;
  calleeTag: string | undefined;
  readonly caller: CallParty;
  readonly callee: CallParty;
  readonly verdict: NatVerdict;
  /** Media goes through the relay allocator. */
  relayed = false;
  /** Whose SDP offer awaits an answer (RFC 3264). */
  pendingOfferFrom: RelayParty | undefined;
  /** Relay ports handed to each party (the ports it sends its media to), for the call log. */
  readonly relayPorts: Partial<Record<RelayParty, string>> = {};
  readonly startedAt: number;
  answeredAt: number | undefined;
  /** The final status of the initial INVITE. */
  status: number | undefined;
  ended = false;
  readonly #memo = new Map<string, SdpMemo>();

  constructor(init: { callId: string; callerTag: string; caller: CallParty; callee: CallParty; verdict: NatVerdict; now: number }) {
    this.callId = init.callId;
    this.callerTag = init.callerTag;
    this.caller = init.caller;
    this.callee = init.callee;
    this.verdict = init.verdict;
    this.startedAt = init.now;
  }

  /** The key the relay allocator knows this call by: always oriented caller → callee. */
  get relayKey(): RelaySessionKey {
    const key: RelaySessionKey = { callId: this.callId, fromTag: this.callerTag };
    if (this.calleeTag !== undefined) key.toTag = this.calleeTag;
    return key;
  }

  /** Which party sent an in-dialog message with this From tag. */
  partyOfFromTag(fromTag: string | undefined): RelayParty {
    return fromTag === this.callerTag ? 'caller' : 'callee';
  }

  party(which: RelayParty): CallParty {
    return which === 'caller' ? this.caller : this.callee;
  }

  /** A previously rewritten SDP for the same input from the same party and role. */
  recall(slot: string, input: Buffer): Buffer | undefined {
    const memo = this.#memo.get(slot);
    return memo !== undefined && memo.input.equals(input) ? memo.output : undefined;
  }

  remember(slot: string, input: Buffer, output: Buffer): void {
    this.#memo.set(slot, { input, output });
  }
}

/** The calls in progress, found by Call-ID and either party's tag. */
export class CallTable {
  readonly #calls = new Map<string, Call>();

  get size(): number {
    return this.#calls.size;
  }

  add(call: Call): void {
    this.#calls.set(`${call.callId}\n${call.callerTag}`, call);
  }

  /** The call of a message, from its Call-ID and From or To tag (either direction). */
  find(callId: string, fromTag: string | undefined, toTag: string | undefined): Call | undefined {
    return (
      (fromTag !== undefined ? this.#calls.get(`${callId}\n${fromTag}`) : undefined) ??
      (toTag !== undefined ? this.#calls.get(`${callId}\n${toTag}`) : undefined)
    );
  }

  remove(call: Call): void {
    const key = `${call.callId}\n${call.callerTag}`;
    if (this.#calls.get(key) === call) this.#calls.delete(key);
  }

  all(): Call[] {
    return [...this.#calls.values()];
  }
}
