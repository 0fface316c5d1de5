/**
 * The plug point between the proxy and whatever relays media: the in-process relay
 * (`local/local-relay-allocator.ts`), a relay server asked over SIP (relay-by-redirect), or
 * rtpengine over its ng protocol. The proxy's relay resource engine only ever sees this interface.
 *
 * The verbs follow the offer/answer model (RFC 3264) the way Kamailio's rtpengine module does:
 * an SDP offer from either party goes through `offer`, the matching answer through `answer`, and
 * the call's end through `release`. Re-INVITEs and UPDATEs are not separate verbs: they are offers
 * and answers like the first ones, and `from` says which party an SDP comes from.
 */

/** A party of a call. The caller sent the dialog-creating INVITE; the callee answered it. */
export type RelayParty = 'caller' | 'callee';

/**
 * Names one call's relay session, from the SIP message that carries the SDP. Tags are as on the
 * wire: in a request from the callee (re-INVITE, UPDATE, BYE) `fromTag` is the callee's tag; in a
 * response `fromTag` is still the tag of the request's sender.
 */
export interface RelaySessionKey {
  /** The Call-ID. */
  callId: string;
  /** The From tag of the message carrying the SDP. */
  fromTag: string;
  /** The To tag, once the dialog has one (absent on an initial INVITE). */
  toTag?: string;
  /**
   * The top Via branch of the initial INVITE, which tells forks of one call apart. Back ends that
   * keep forks apart (rtpengine's via-branch) use it; the local relay does not.
   */
  viaBranch?: string;
}

/** What the proxy knows about the party whose SDP is handed over. */
export interface RelayOfferOptions {
  /** The NAT detector's verdict on that party: its SDP addresses may not be where its media comes from. */
  natted: boolean;
  /** That party's public address (the source address of its SIP packets), where its media likely comes from. */
  sourceAddress?: string;
  /**
   * Which party the SDP comes from. Default, for `offer`: the callee if `fromTag` is the callee's
   * known tag, else the caller; for `answer`: the party that did not make the pending offer. Say it
   * explicitly for an offer in a response (late offer: INVITE without SDP, offer in the 2xx).
   */
  from?: RelayParty;
  /**
   * Offer only: the address family the other party expects in the SDP it will receive (`IP4` or
   * `IP6`); the relay bridges families. Default: the family of this SDP.
   */
  targetAddressType?: 'IP4' | 'IP6';
}

/** What the proxy knows about the party whose answer is handed over. */
export type RelayAnswerOptions = Omit<RelayOfferOptions, 'targetAddressType'>;

/** Why a back end ended a session on its own. */
export type RelaySessionEndReason =
  /** No media on any stream for the media timeout. */
  | 'media-timeout'
  /** An offer that never got an answer, past the offer timeout. */
  | 'offer-timeout'
  /** The relay server holding the session stopped answering, or restarted (relay-by-redirect). */
  | 'relay-down';

/** A session the back end ended on its own; the proxy may end the call (BYE) or only log it. */
export interface RelaySessionEnded {
  /** The key the session was created with (the caller's tag as `fromTag`). */
  key: RelaySessionKey;
  reason: RelaySessionEndReason;
  /** The session's media counters at its end, when the back end knows them. */
  counters?: MediaCounters;
}

export interface RelayAllocator {
  /**
   * Takes an SDP offer and returns the SDP to forward to the other party, naming the relay in its
   * c=/m= lines. Creates the session on the first offer; a later offer (re-INVITE, UPDATE, either
   * party) updates it and keeps the relay ports of streams that stay, so media does not drop.
   * Offering the same SDP again returns the same SDP, o= version included (RFC 3264 §8).
   *
   * Rejects with RelayError: `ERR_RELAY_NO_PORTS` (503) when no relay resource is free,
   * `ERR_RELAY_BAD_SDP` (488) for an SDP it cannot relay, `ERR_RELAY_CLOSED` after close().
   */
  offer(key: RelaySessionKey, sdp: Buffer, options: RelayOfferOptions): Promise<Buffer>;

  /**
   * Takes the SDP answer to the session's last offer and returns the SDP to forward to the offerer.
   * May be called again with the same or a new answer (183 then 200, each with SDP).
   *
   * Rejects with RelayError: `ERR_RELAY_UNKNOWN_SESSION` (481) when no offer was made for the
   * key, `ERR_RELAY_BAD_SDP` (488), `ERR_RELAY_NO_PORTS` (503), `ERR_RELAY_CLOSED`.
   */
  answer(key: RelaySessionKey, sdp: Buffer, options: RelayAnswerOptions): Promise<Buffer>;

  /**
   * Ends the session named by the key (either party's tags) and frees its resources. Resolves true
   * if there was such a session, false if not: releasing twice is harmless (BYE, CANCEL and a
   * failure response may all try).
   */
  release(key: RelaySessionKey): Promise<boolean>;

  /** Releases every session and stops; later calls reject with `ERR_RELAY_CLOSED`. Idempotent. */
  close(): Promise<void>;

  /**
   * Subscribes to sessions the back end ends on its own (media timeout). Returns the function that
   * unsubscribes. Optional: a back end that never ends sessions on its own need not offer it.
   */
  onSessionEnded?(listener: (event: RelaySessionEnded) => void): () => void;

  /**
   * Media packets the relay received from each party in a session (RTP and RTCP, every stream),
   * for the call log and for tests that prove media flowed. Optional.
   */
  mediaCounters?(key: RelaySessionKey): MediaCounters | undefined;
}

/** Packets a relay received from each party of a call. */
export interface MediaCounters {
  fromCaller: number;
  fromCallee: number;
}
