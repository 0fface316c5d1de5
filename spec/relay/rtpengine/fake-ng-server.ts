/** A scripted rtpengine stand-in for the ng client and allocator specs: a UDP socket on loopback. */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { type BencodeDict, type BencodeInput, bdecode, bencode, bstr } from '../../../lib/relay/rtpengine/index.js';

export interface ReceivedCommand {
  cookie: string;
  raw: Buffer;
  command: BencodeDict;
  /** The `command` value as text. */
  name: string;
  from: RemoteInfo;
}

/** Returns the reply dictionary for a command, or undefined to stay silent. */
export type FakeHandler = (cmd: ReceivedCommand, copy: number) => BencodeInput | undefined;

export class FakeNgServer {
  readonly received: ReceivedCommand[] = [];
  handler: FakeHandler;
  readonly #copies = new Map<string, number>();

  private constructor(
    readonly socket: Socket,
    handler: FakeHandler,
  ) {
    this.handler = handler;
    socket.on('message', (raw, from) => {
      const space = raw.indexOf(0x20);
      const cookie = raw.toString('latin1', 0, space);
      const command = bdecode(raw.subarray(space + 1)) as BencodeDict;
      const rc: ReceivedCommand = { cookie, raw, command, name: bstr(command['command']) ?? '', from };
      this.received.push(rc);
      const copy = (this.#copies.get(cookie) ?? 0) + 1;
      this.#copies.set(cookie, copy);
      const reply = this.handler(rc, copy);
      if (reply !== undefined) socket.send(Buffer.concat([Buffer.from(cookie + ' '), bencode(reply)]), from.port, from.address);
    });
  }

  static async start(handler: FakeHandler = fakeRtpengine()): Promise<FakeNgServer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new FakeNgServer(socket, handler);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get target(): { address: string; port: number } {
    return { address: '127.0.0.1', port: this.port };
  }

  /** Commands other than ping. */
  commands(): ReceivedCommand[] {
    return this.received.filter((r) => r.name !== 'ping');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A well-behaved fake: pong to ping, the SDP back with a marker line for offer/answer, ok otherwise. */
export function fakeRtpengine(marker = 'fake'): FakeHandler {
  return (cmd) => {
    if (cmd.name === 'ping') return { result: 'pong' };
    if (cmd.name === 'offer' || cmd.name === 'answer') {
      const sdp = cmd.command['sdp'] as Buffer;
      return { result: 'ok', sdp: Buffer.concat([sdp, Buffer.from(`a=${marker}:${cmd.name}\r\n`)]) };
    }
    return { result: 'ok' };
  };
}
