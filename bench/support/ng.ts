/**
 * A minimal rtpengine ng-protocol client for the media bench: bencode over UDP, one request per
 * cookie ("<cookie> <bencoded dict>"), answers matched by cookie. Enough for offer, answer and
 * delete; natter's own rtpengine allocator lives in lib/relay/rtpengine.
 */
import dgram from 'node:dgram';

type Value = string | number | Buffer | Value[] | { [k: string]: Value };

export function bencode(v: Value): Buffer {
  if (typeof v === 'number') return Buffer.from(`i${Math.trunc(v)}e`);
  if (typeof v === 'string') v = Buffer.from(v, 'utf8');
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(`${v.length}:`), v]);
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(v[k]!)]), Buffer.from('e')]);
}

export function bdecode(buf: Buffer): unknown {
  let i = 0;
  const next = (): unknown => {
    const c = buf[i]!;
    if (c === 0x69) {
      const e = buf.indexOf(0x65, i);
      const n = Number(buf.toString('latin1', i + 1, e));
      i = e + 1;
      return n;
    }
    if (c === 0x6c) {
      i++;
      const out: unknown[] = [];
      while (buf[i] !== 0x65) out.push(next());
      i++;
      return out;
    }
    if (c === 0x64) {
      i++;
      const out: Record<string, unknown> = {};
      while (buf[i] !== 0x65) {
        const k = next() as string;
        out[k] = next();
      }
      i++;
      return out;
    }
    const colon = buf.indexOf(0x3a, i);
    const len = Number(buf.toString('latin1', i, colon));
    const s = buf.toString('utf8', colon + 1, colon + 1 + len);
    i = colon + 1 + len;
    return s;
  };
  return next();
}

export class NgClient {
  readonly #socket = dgram.createSocket('udp4');
  readonly #pending = new Map<string, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #seq = 0;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    this.#socket.on('message', (msg) => {
      const sp = msg.indexOf(0x20);
      const cookie = msg.toString('latin1', 0, sp);
      const p = this.#pending.get(cookie);
      if (!p) return;
      this.#pending.delete(cookie);
      clearTimeout(p.timer);
      try {
        p.resolve(bdecode(msg.subarray(sp + 1)) as Record<string, unknown>);
      } catch (e) {
        p.reject(e as Error);
      }
    });
  }

  request(dict: Record<string, Value>, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const cookie = `b${process.pid}_${++this.#seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(cookie);
        reject(new Error(`rtpengine ng ${String(dict.command)}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(cookie, { resolve, reject, timer });
      this.#socket.send(Buffer.concat([Buffer.from(cookie + ' '), bencode(dict)]), this.port, this.host);
    });
  }

  close(): void {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#socket.close();
  }
}
