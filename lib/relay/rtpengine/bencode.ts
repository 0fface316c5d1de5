/**
 * Bencode (the BitTorrent encoding, BEP 3), the body format of rtpengine's ng control protocol:
 * byte strings `4:spam`, integers `i42e`, lists `l...e` and dictionaries `d...e` whose keys are
 * byte strings in sorted order. Written here rather than taken from npm: it is ~150 lines, and
 * the ng protocol needs byte strings kept as Buffers (an SDP body is bytes, not text).
 */
import { SipError } from '../../errors.js';

/** A value to encode: strings are encoded as UTF-8, Buffers as they are; `undefined` dictionary entries are left out. */
export type BencodeInput = Buffer | string | number | bigint | readonly BencodeInput[] | { readonly [key: string]: BencodeInput | undefined };

/** A decoded value: byte strings stay Buffers; integers are numbers (bigint beyond 2^53). */
export type BencodeValue = Buffer | number | bigint | BencodeValue[] | BencodeDict;

/** A decoded dictionary (created without a prototype, so no key can reach Object.prototype). */
export interface BencodeDict {
  [key: string]: BencodeValue;
}

/** Input that is not valid bencode, or a value bencode cannot carry. */
export class BencodeError extends SipError {
  /** Byte offset of the fault in the input (decoding), or -1 (encoding). */
  readonly offset: number;
  constructor(message: string, offset = -1) {
    super('ERR_BENCODE', message);
    this.offset = offset;
  }
}

const D = 0x64; // d
const E = 0x65; // e
const I = 0x69; // i
const L = 0x6c; // l
const COLON = 0x3a;

/** Encodes a value; dictionary keys are sorted by their UTF-8 bytes, as BEP 3 requires. */
export function bencode(value: BencodeInput): Buffer {
  const parts: Buffer[] = [];
  encodeInto(value, parts, 0);
  return Buffer.concat(parts);
}

function encodeInto(value: BencodeInput, out: Buffer[], depth: number): void {
  if (depth > 64) throw new BencodeError('bencode: nesting deeper than 64');
  if (Buffer.isBuffer(value)) {
    out.push(Buffer.from(`${value.length}:`, 'latin1'), value);
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    out.push(Buffer.from(`${bytes.length}:`, 'latin1'), bytes);
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new BencodeError(`bencode: ${value} is not a safe integer`);
    out.push(Buffer.from(`i${value}e`, 'latin1'));
  } else if (typeof value === 'bigint') {
    out.push(Buffer.from(`i${value}e`, 'latin1'));
  } else if (Array.isArray(value)) {
    out.push(Buffer.from('l', 'latin1'));
    for (const item of value as readonly BencodeInput[]) encodeInto(item, out, depth + 1);
    out.push(Buffer.from('e', 'latin1'));
  } else if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as { readonly [key: string]: BencodeInput | undefined })
      .filter((e): e is [string, BencodeInput] => e[1] !== undefined)
      .map(([k, v]) => [Buffer.from(k, 'utf8'), v] as const)
      .sort((a, b) => Buffer.compare(a[0], b[0]));
    out.push(Buffer.from('d', 'latin1'));
    for (const [k, v] of entries) {
      out.push(Buffer.from(`${k.length}:`, 'latin1'), k);
      encodeInto(v, out, depth + 1);
    }
    out.push(Buffer.from('e', 'latin1'));
  } else {
    throw new BencodeError(`bencode: cannot encode a ${typeof value}`);
  }
}

/**
 * Decodes one value that must span the whole input. Throws BencodeError on malformed input:
 * leading zeros, `-0`, a length beyond the input, an unterminated container, trailing bytes,
 * a non-string dictionary key, or nesting deeper than 64.
 */
export function bdecode(input: Buffer): BencodeValue {
  const decoder = new Decoder(input);
  const value = decoder.value(0);
  if (decoder.pos !== input.length) throw new BencodeError(`bencode: ${input.length - decoder.pos} trailing byte(s)`, decoder.pos);
  return value;
}

class Decoder {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  value(depth: number): BencodeValue {
    if (depth > 64) throw new BencodeError('bencode: nesting deeper than 64', this.pos);
    const c = this.buf[this.pos];
    if (c === undefined) throw new BencodeError('bencode: unexpected end of input', this.pos);
    if (c === I) return this.integer();
    if (c === L) {
      this.pos++;
      const list: BencodeValue[] = [];
      while (this.peek() !== E) list.push(this.value(depth + 1));
      this.pos++;
      return list;
    }
    if (c === D) {
      this.pos++;
      const dict = Object.create(null) as BencodeDict;
      while (this.peek() !== E) {
        const at = this.pos;
        if (!isDigit(this.buf[at])) throw new BencodeError('bencode: a dictionary key must be a byte string', at);
        const key = this.bytes().toString('utf8');
        dict[key] = this.value(depth + 1);
      }
      this.pos++;
      return dict;
    }
    if (isDigit(c)) return this.bytes();
    throw new BencodeError(`bencode: unexpected byte 0x${c.toString(16)}`, this.pos);
  }

  peek(): number {
    const c = this.buf[this.pos];
    if (c === undefined) throw new BencodeError('bencode: unterminated list or dictionary', this.pos);
    return c;
  }

  integer(): number | bigint {
    const start = ++this.pos;
    const end = this.buf.indexOf(E, start);
    if (end === -1) throw new BencodeError('bencode: unterminated integer', start);
    const text = this.buf.toString('latin1', start, end);
    if (!/^(0|-?[1-9][0-9]*)$/.test(text)) throw new BencodeError(`bencode: bad integer "${text}"`, start);
    this.pos = end + 1;
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }

  bytes(): Buffer {
    const start = this.pos;
    const colon = this.buf.indexOf(COLON, start);
    if (colon === -1 || colon - start > 10) throw new BencodeError('bencode: bad string length', start);
    const text = this.buf.toString('latin1', start, colon);
    if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new BencodeError(`bencode: bad string length "${text}"`, start);
    const length = Number(text);
    const from = colon + 1;
    if (from + length > this.buf.length) throw new BencodeError(`bencode: string of ${length} bytes runs past the end`, start);
    this.pos = from + length;
    return Buffer.from(this.buf.subarray(from, from + length));
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** A byte string of a decoded value as text (UTF-8), or undefined when it is not a byte string. */
export function bstr(value: BencodeValue | undefined): string | undefined {
  return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
}

/** A decoded value as a dictionary, or undefined. */
export function bdict(value: BencodeValue | undefined): BencodeDict | undefined {
  return typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && !Array.isArray(value) ? value : undefined;
}

/** A decoded value as a list, or an empty list. */
export function blist(value: BencodeValue | undefined): BencodeValue[] {
  return Array.isArray(value) ? value : [];
}

/** A decoded integer as a number, or undefined. */
export function bint(value: BencodeValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}
