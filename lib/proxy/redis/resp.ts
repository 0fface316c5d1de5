/**
 * RESP2, the Redis serialization protocol (https://redis.io/docs/reference/protocol-spec/), as
 * much as a client needs: commands go out as arrays of bulk strings; replies come back as simple
 * strings, errors, integers, bulk strings (null too) and arrays (null too, nested).
 */
import { SipError } from '../../errors.js';

/** Why a Redis operation failed; callers branch on `code`. */
export type RedisErrorCode =
  /** No connection to Redis (refused, reset, or lost with the command in flight). */
  | 'ERR_REDIS_CONNECTION'
  /** No reply within the command timeout. */
  | 'ERR_REDIS_TIMEOUT'
  /** Redis answered with an error reply (`-ERR ...`, `-WRONGTYPE ...`). */
  | 'ERR_REDIS_REPLY'
  /** Bytes from the server that are not RESP. */
  | 'ERR_REDIS_PROTOCOL'
  /** An optimistic update lost to concurrent writers too many times in a row. */
  | 'ERR_REDIS_CONFLICT';

export class RedisError extends SipError {
  constructor(code: RedisErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A decoded reply. Bulk strings are decoded as UTF-8; an error inside an array stays a RedisError value. */
export type RespValue = string | number | null | RedisError | RespValue[];

/** One command as RESP: an array of bulk strings. */
export function encodeCommand(args: readonly (string | number | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const a of args) {
    const bytes = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`, 'latin1'), bytes, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}

const INCOMPLETE = Symbol('incomplete');

/** Incremental reply parser: feed it socket chunks, get back the replies they complete. */
export class RespParser {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;

  /** Appends a chunk and returns every complete reply. Throws RedisError (ERR_REDIS_PROTOCOL) on garbage. */
  push(chunk: Buffer): RespValue[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: RespValue[] = [];
    for (;;) {
      const start = this.#pos;
      const v = this.#value(0);
      if (v === INCOMPLETE) {
        this.#pos = start;
        break;
      }
      out.push(v);
    }
    // keep only the unparsed tail
    this.#buf = this.#pos >= this.#buf.length ? Buffer.alloc(0) : this.#buf.subarray(this.#pos);
    this.#pos = 0;
    return out;
  }

  #line(): string | typeof INCOMPLETE {
    const end = this.#buf.indexOf('\r\n', this.#pos, 'latin1');
    if (end === -1) return INCOMPLETE;
    const line = this.#buf.toString('utf8', this.#pos, end);
    this.#pos = end + 2;
    return line;
  }

  #value(depth: number): RespValue | typeof INCOMPLETE {
    if (depth > 32) throw new RedisError('ERR_REDIS_PROTOCOL', 'RESP reply nested too deeply');
    if (this.#pos >= this.#buf.length) return INCOMPLETE;
    const type = String.fromCharCode(this.#buf[this.#pos]!);
    this.#pos++;
    const line = this.#line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case '+':
        return line;
      case '-':
        return new RedisError('ERR_REDIS_REPLY', line);
      case ':':
        return integer(line);
      case '$': {
        const n = integer(line);
        if (n === -1) return null;
        if (this.#pos + n + 2 > this.#buf.length) return INCOMPLETE;
        const s = this.#buf.toString('utf8', this.#pos, this.#pos + n);
        this.#pos += n + 2;
        return s;
      }
      case '*': {
        const n = integer(line);
        if (n === -1) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < n; i++) {
          const v = this.#value(depth + 1);
          if (v === INCOMPLETE) return INCOMPLETE;
          items.push(v);
        }
        return items;
      }
      default:
        throw new RedisError('ERR_REDIS_PROTOCOL', `unexpected RESP type byte ${JSON.stringify(type)}`);
    }
  }
}

function integer(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new RedisError('ERR_REDIS_PROTOCOL', `bad RESP integer ${JSON.stringify(text)}`);
  return Number(text);
}
