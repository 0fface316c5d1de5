import type { CSeq } from './types.js';
import { isDigits, isToken } from './charset.js';
import { SyntaxFault } from './params.js';

/** RFC 3261 §8.1.1.5: the sequence number MUST be expressible as a 32-bit unsigned integer (and less than 2**31 when chosen). */
const MAX_SEQ = 4294967295;

/** Parses `CSeq: 1*DIGIT LWS Method` (RFC 3261 §20.16). Throws SyntaxFault. */
export function parseCSeq(value: string): CSeq {
  const v = value.trim();
  let sp = 0;
  while (sp < v.length && v.charCodeAt(sp) !== 32 && v.charCodeAt(sp) !== 9) sp++;
  const num = v.slice(0, sp);
  const method = v.slice(sp).trim();
  if (!isDigits(num) || num.length > 10 || Number(num) > MAX_SEQ) throw new SyntaxFault(`bad sequence number ${num}`);
  if (!isToken(method)) throw new SyntaxFault(`bad method ${method}`);
  return { seq: Number(num), method };
}
