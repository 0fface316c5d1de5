/**
 * The vocabulary of the relay-by-redirect protocol (docs/relay-protocol.md): header names, the
 * values they carry, the resource description line and the status codes. Shared by the relay
 * server and its clients; no I/O here.
 */
import { isIP } from 'node:net';
import type { MediaCounters, RelayParty } from '../relay-allocator.js';

/** Header names (section 3 of the spec). */
export const RelayHeader = {
  party: 'X-Relay-Party',
  sdp: 'X-Relay-Sdp',
  nat: 'X-Relay-Nat',
  source: 'X-Relay-Source',
  family: 'X-Relay-Family',
  call: 'X-Relay-Call',
  owner: 'X-Relay-Owner',
  list: 'X-Relay-List',
  auth: 'X-Relay-Auth',
  instance: 'X-Relay-Instance',
  resource: 'X-Relay-Resource',
  load: 'X-Relay-Load',
  listNext: 'X-Relay-List-Next',
} as const;

/** The user part that names the relay itself in a Request-URI. */
export const RELAY_USER = 'relay';

/** Content type of a listing body. */
export const LISTING_CONTENT_TYPE = 'text/x-relay-resources';

/** The methods a relay accepts. */
export const RELAY_METHODS = ['INVITE', 'ACK', 'BYE', 'OPTIONS', 'CANCEL'] as const;

/** What an SDP in an INVITE to the relay is, in RFC 3264 terms. */
export type RelaySdpRole = 'offer' | 'answer';

/** The relayed call, as `X-Relay-Call` carries it. */
export interface RelayCallId {
  callId: string;
  fromTag: string;
  toTag?: string;
}

/** A malformed protocol header: the relay answers 400. */
export class RelayProtocolError extends Error {}

/** `X-Relay-Call: CALL-ID;from-tag=TAG[;to-tag=TAG]`. */
export function formatRelayCall(call: RelayCallId): string {
  return `${call.callId};from-tag=${call.fromTag}${call.toTag !== undefined ? `;to-tag=${call.toTag}` : ''}`;
}

export function parseRelayCall(value: string): RelayCallId {
  const [callId, ...params] = value.split(';').map((s) => s.trim());
  if (!callId || /\s/.test(callId)) throw new RelayProtocolError(`bad ${RelayHeader.call}: ${value}`);
  const map = parseParams(params, RelayHeader.call);
  const fromTag = map.get('from-tag');
  if (!fromTag) throw new RelayProtocolError(`${RelayHeader.call} needs from-tag`);
  const toTag = map.get('to-tag');
  return { callId, fromTag, ...(toTag ? { toTag } : {}) };
}

export function parseParty(value: string | undefined): RelayParty | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'caller' || v === 'callee') return v;
  throw new RelayProtocolError(`bad ${RelayHeader.party}: ${value} (caller or callee)`);
}

export function parseSdpRole(value: string | undefined): RelaySdpRole | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'offer' || v === 'answer') return v;
  throw new RelayProtocolError(`bad ${RelayHeader.sdp}: ${value} (offer or answer)`);
}

export function parseNat(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw new RelayProtocolError(`bad ${RelayHeader.nat}: ${value} (yes or no)`);
}

export function parseSource(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (isIP(v) === 0) throw new RelayProtocolError(`bad ${RelayHeader.source}: ${value} (an IP literal)`);
  return v;
}

export function parseFamily(value: string | undefined): 'IP4' | 'IP6' | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toUpperCase();
  if (v === 'IP4' || v === 'IP6') return v;
  throw new RelayProtocolError(`bad ${RelayHeader.family}: ${value} (IP4 or IP6)`);
}

/** A token as SIP defines it (RFC 3261 §25.1), for owners and resource ids. */
export function isToken(value: string): boolean {
  return /^[A-Za-z0-9.!%*_+`'~-]+$/.test(value);
}

/** What `X-Relay-List` asks for. */
export interface ListRequest {
  /** An owner token, or undefined for `all`. */
  owner: string | undefined;
  /** Only resources whose id sorts after this one. */
  after: string | undefined;
  max: number | undefined;
}

export function formatListRequest(request: ListRequest): string {
  let value = request.owner === undefined ? 'all' : `owner=${request.owner}`;
  if (request.after !== undefined) value += `;after=${request.after}`;
  if (request.max !== undefined) value += `;max=${request.max}`;
  return value;
}

export function parseListRequest(value: string): ListRequest {
  const [first, ...params] = value.split(';').map((s) => s.trim());
  let owner: string | undefined;
  if (first === undefined || first === '') throw new RelayProtocolError(`bad ${RelayHeader.list}: ${value}`);
  if (first.toLowerCase() !== 'all') {
    const m = /^owner=(.+)$/i.exec(first);
    if (m === null || !isToken(m[1]!)) throw new RelayProtocolError(`bad ${RelayHeader.list}: ${value} (all or owner=TOKEN)`);
    owner = m[1]!;
  }
  const map = parseParams(params, RelayHeader.list);
  const maxText = map.get('max');
  const max = maxText === undefined ? undefined : Number(maxText);
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new RelayProtocolError(`bad max in ${RelayHeader.list}: ${value}`);
  return { owner, after: map.get('after'), max };
}

function parseParams(params: string[], header: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const p of params) {
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) throw new RelayProtocolError(`bad parameter ${p} in ${header}`);
    map.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  return map;
}

/** A resource as its description line says (section 7 of the spec). */
export interface RelayResourceInfo {
  /** The resource id (the user part of its URI). */
  id: string;
  state: 'offered' | 'answered';
  callId: string | undefined;
  fromTag: string | undefined;
  toTag: string | undefined;
  owner: string | undefined;
  /** Seconds since allocation. */
  age: number;
  /** Stream relays held. */
  streams: number;
  /** RTP ports given to the caller and to the callee, one per stream relay, in m= order. */
  ports: { caller: number[]; callee: number[] };
  /** Media packets received from each party. */
  packets: MediaCounters;
}

/** The description line of a resource. */
export function formatResourceLine(r: RelayResourceInfo): string {
  const v = (s: string | undefined): string => (s === undefined || s === '' ? '-' : s);
  const ports = (list: number[]): string => (list.length === 0 ? '-' : list.join(','));
  return (
    `${r.id} state=${r.state} call-id=${v(r.callId)} from-tag=${v(r.fromTag)} to-tag=${v(r.toTag)} owner=${v(r.owner)} ` +
    `age=${r.age.toFixed(1)} streams=${r.streams} ports=${ports(r.ports.caller)}/${ports(r.ports.callee)} ` +
    `rtp-in=${r.packets.fromCaller}/${r.packets.fromCallee}`
  );
}

/** Reads a description line; undefined if it is not one. Unknown fields are ignored. */
export function parseResourceLine(line: string): RelayResourceInfo | undefined {
  const [id, ...fields] = line.trim().split(/\s+/);
  if (id === undefined || id === '' || id.includes('=')) return undefined;
  const map = new Map<string, string>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    if (eq > 0) map.set(f.slice(0, eq), f.slice(eq + 1));
  }
  const opt = (name: string): string | undefined => {
    const value = map.get(name);
    return value === undefined || value === '-' ? undefined : value;
  };
  const pair = (name: string): [string, string] => {
    const [a = '-', b = '-'] = (map.get(name) ?? '-/-').split('/');
    return [a, b];
  };
  const ports = (s: string): number[] => (s === '-' ? [] : s.split(',').map(Number).filter((n) => Number.isInteger(n)));
  const [callerPorts, calleePorts] = pair('ports');
  const [fromCaller, fromCallee] = pair('rtp-in');
  return {
    id,
    state: map.get('state') === 'answered' ? 'answered' : 'offered',
    callId: opt('call-id'),
    fromTag: opt('from-tag'),
    toTag: opt('to-tag'),
    owner: opt('owner'),
    age: Number(map.get('age') ?? 0) || 0,
    streams: Number(map.get('streams') ?? 0) || 0,
    ports: { caller: ports(callerPorts), callee: ports(calleePorts) },
    packets: { fromCaller: Number(fromCaller) || 0, fromCallee: Number(fromCallee) || 0 },
  };
}

/** `X-Relay-Load: resources=N;ports=USED/TOTAL`. */
export interface RelayLoad {
  resources: number;
  portsInUse: number;
  portsTotal: number;
}

export function formatLoad(load: RelayLoad): string {
  return `resources=${load.resources};ports=${load.portsInUse}/${load.portsTotal}`;
}

export function parseLoad(value: string | undefined): RelayLoad | undefined {
  if (value === undefined) return undefined;
  const m = /resources=(\d+)\s*;\s*ports=(\d+)\/(\d+)/.exec(value);
  if (m === null) return undefined;
  return { resources: Number(m[1]), portsInUse: Number(m[2]), portsTotal: Number(m[3]) };
}
