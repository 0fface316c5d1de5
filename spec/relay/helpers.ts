/**
 * Real-socket helpers for the relay specs: UDP "phones" on loopback, RTP/RTCP packets, SDP
 * bodies, and bounded waits (tests wait on events, never on wall-clock sleeps).
 */
import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';

/** A port range of `size` ports at a random even base in 40000-49999, so parallel runs rarely collide. */
export function randomPortRange(size: number): { portMin: number; portMax: number } {
  const slots = Math.floor((10000 - size) / 2);
  const portMin = 40000 + 2 * Math.floor(Math.random() * slots);
  return { portMin, portMax: portMin + size - 1 };
}

/** Whether this host can bind UDP on ::1. */
export async function ipv6Available(): Promise<boolean> {
  const socket = createSocket({ type: 'udp6', ipv6Only: true });
  return new Promise((resolve) => {
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(0, '::1', () => {
      socket.close();
      resolve(true);
    });
  });
}

export interface Received {
  data: Buffer;
  from: RemoteInfo;
}

/** A UDP socket that queues what it receives; `next()` waits (bounded) for the next datagram. */
export class UdpPeer {
  readonly socket: Socket;
  readonly received: Received[] = [];
  #waiters: ((r: Received) => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (data, from) => {
      const item = { data, from };
      const waiter = this.#waiters.shift();
      if (waiter) waiter(item);
      else this.received.push(item);
    });
  }

  /** Binds on `address`, on a random port of 50000-59999 (outside the relay ranges the specs use). */
  static async bind(address: string): Promise<UdpPeer> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const socket = address.includes(':') ? createSocket({ type: 'udp6', ipv6Only: true }) : createSocket('udp4');
      const port = 50000 + Math.floor(Math.random() * 10000);
      const ok = await new Promise<boolean>((resolve) => {
        socket.once('error', () => resolve(false));
        socket.bind({ port, address, exclusive: true }, () => resolve(true));
      });
      if (ok) return new UdpPeer(socket);
      socket.close();
    }
    throw new Error('could not bind a test peer');
  }

  get address(): string {
    return this.socket.address().address;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Buffer, port: number, address: string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, address, (err) => (err ? reject(err) : resolve())));
  }

  /** The next datagram; rejects after `timeoutMs`. */
  next(timeoutMs = 2000): Promise<Received> {
    const queued = this.received.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no datagram on ${this.address}:${this.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: Received): void => {
        clearTimeout(timer);
        resolve(r);
      };
      this.#waiters.push(waiter);
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** A phone endpoint: an RTP socket and an RTCP socket on the same address. */
export class Phone {
  constructor(
    readonly rtp: UdpPeer,
    readonly rtcp: UdpPeer,
  ) {}

  static async create(address: string): Promise<Phone> {
    return new Phone(await UdpPeer.bind(address), await UdpPeer.bind(address));
  }

  get address(): string {
    return this.rtp.address;
  }

  close(): void {
    this.rtp.close();
    this.rtcp.close();
  }
}

/** An RTP packet (RFC 3550 §5.1): version 2, payload type `pt`, sequence `seq`, a small payload. */
export function rtpPacket(seq: number, pt = 0, payload = 'media'): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = pt & 0x7f;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(seq * 160, 4);
  header.writeUInt32BE(0x1234abcd, 8);
  return Buffer.concat([header, Buffer.from(payload)]);
}

/** An RTCP receiver report with no report blocks (RFC 3550 §6.4.2): packet type 201. */
export function rtcpPacket(ssrc = 0x1234abcd): Buffer {
  const packet = Buffer.alloc(8);
  packet[0] = 0x80;
  packet[1] = 201;
  packet.writeUInt16BE(1, 2);
  packet.writeUInt32BE(ssrc, 4);
  return packet;
}

export interface SdpStream {
  type?: string;
  port: number;
  rtcpPort?: number;
  rtcpMux?: boolean;
  address?: string;
  direction?: string;
  formats?: string;
}

/** An SDP offer or answer for a phone: session c= names `address`, one m= block per stream. */
export function makeSdp(address: string, streams: SdpStream[], options: { version?: number; sessionId?: string } = {}): Buffer {
  const ip = address.includes(':') ? 'IP6' : 'IP4';
  const lines = [
    'v=0',
    `o=phone ${options.sessionId ?? '1234567890'} ${options.version ?? 1} IN ${ip} ${address}`,
    's=natter test',
    `c=IN ${ip} ${address}`,
    't=0 0',
  ];
  for (const stream of streams) {
    lines.push(`m=${stream.type ?? 'audio'} ${stream.port} RTP/AVP ${stream.formats ?? '0 101'}`);
    if (stream.address !== undefined) lines.push(`c=IN ${stream.address.includes(':') ? 'IP6' : 'IP4'} ${stream.address}`);
    lines.push('a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:20');
    if (stream.rtcpPort !== undefined) lines.push(`a=rtcp:${stream.rtcpPort}`);
    if (stream.rtcpMux) lines.push('a=rtcp-mux');
    lines.push(`a=${stream.direction ?? 'sendrecv'}`);
  }
  return Buffer.from(lines.join('\r\n') + '\r\n');
}

/** The relay address and ports an SDP names for stream `index`: c= (media, else session), m= port, a=rtcp or port + 1. */
export function relayTarget(sdp: Buffer, index = 0): { address: string; rtpPort: number; rtcpPort: number } {
  const text = sdp.toString();
  const [session, ...media] = text.split(/\r\n(?=m=)/);
  const section = media[index]!;
  const connection = /^c=IN IP[46] (\S+)/m.exec(section) ?? /^c=IN IP[46] (\S+)/m.exec(session!);
  const rtpPort = Number(/^m=\S+ (\d+)/.exec(section)![1]);
  const rtcp = /^a=rtcp:(\d+)/m.exec(section);
  return { address: connection![1]!, rtpPort, rtcpPort: rtcp ? Number(rtcp[1]) : rtpPort + 1 };
}

/** Polls `condition` every few milliseconds until it holds; rejects after `timeoutMs`. */
export async function eventually(condition: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
