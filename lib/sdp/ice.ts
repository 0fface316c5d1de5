import { isPrivateAddress } from './address.js';
import { type SdpLine, attributeName, attributeValue } from './sdp-lines.js';

/**
 * What to do with ICE attributes when rewriting SDP:
 * - `strip`: remove them all. A relay that rewrites c=/m= must, or the peer would run ICE
 *   against the party's own (often private) candidates and bypass the relay.
 * - `strip-private`: remove only `a=candidate` lines whose address is private or mDNS, and hide a
 *   private `raddr` in the others.
 * - `keep`: leave them.
 */
export type IcePolicy = 'strip' | 'strip-private' | 'keep';

/** ICE attributes (RFC 8839 §5; `ice-lite` and `ice-mismatch` from RFC 8839 §5.3, §5.6). */
const iceAttributes = new Set([
  'candidate',
  'remote-candidates',
  'end-of-candidates',
  'ice-ufrag',
  'ice-pwd',
  'ice-options',
  'ice-lite',
  'ice-mismatch',
  'ice-pacing',
]);

/** Whether a line is an ICE attribute. */
export function isIceLine(line: SdpLine): boolean {
  const name = attributeName(line);
  return name !== undefined && iceAttributes.has(name);
}

/**
 * Whether an `a=candidate` line's connection-address is a private (or mDNS) address. RFC 8839 §5.1:
 * `candidate-attribute = "candidate" ":" foundation SP component-id SP transport SP priority SP
 *  connection-address SP port SP cand-type [SP rel-addr] [SP rel-port] *(SP cand-extension)`.
 */
export function isPrivateCandidate(line: SdpLine): boolean {
  if (attributeName(line) !== 'candidate') return false;
  const address = candidateFields(line)[4];
  return address !== undefined && isPrivateAddress(address);
}

/**
 * The candidate line with a private `raddr` hidden: RFC 8839 §5.1 lets an agent that does not want
 * to reveal the related address use `0.0.0.0` (or `::`) and port 9 instead. A server-reflexive
 * candidate is useful to the peer; its private base address is not.
 */
export function hidePrivateRelatedAddress(line: SdpLine): SdpLine {
  if (attributeName(line) !== 'candidate') return line;
  const fields = candidateFields(line);
  const raddr = fields.indexOf('raddr');
  const related = raddr === -1 ? undefined : fields[raddr + 1];
  if (related === undefined || !isPrivateAddress(related)) return line;
  fields[raddr + 1] = related.includes(':') ? '::' : '0.0.0.0';
  const rport = fields.indexOf('rport');
  if (rport !== -1 && fields[rport + 1] !== undefined) fields[rport + 1] = '9';
  return { text: `a=candidate:${fields.join(' ')}`, eol: line.eol };
}

/** Whether a policy removes this line. */
export function iceLineRemoved(line: SdpLine, policy: IcePolicy): boolean {
  if (policy === 'keep') return false;
  if (policy === 'strip') return isIceLine(line);
  return isPrivateCandidate(line);
}

/**
 * Applies an ICE policy to a section's lines, in place: removes what the policy removes and, for
 * `strip-private`, hides private related addresses of the candidates it keeps.
 */
export function applyIcePolicy(lines: SdpLine[], policy: IcePolicy): void {
  if (policy === 'keep') return;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (iceLineRemoved(lines[i]!, policy)) lines.splice(i, 1);
    else if (policy === 'strip-private') lines[i] = hidePrivateRelatedAddress(lines[i]!);
  }
}

function candidateFields(line: SdpLine): string[] {
  return attributeValue(line).trim().split(/ +/);
}
