/**
 * Loopback helpers for the relay-by-redirect specs: relay servers on random ports and port
 * ranges, a raw protocol client (a UserAgent that sends hand-made requests), and short timers.
 */
import { RelayServer, RedirectRelayAllocator, UserAgent, signRequest } from '../../../lib/index.js';
import type { RedirectRelayAllocatorOptions, RelayServerEvent, RelayServerOptions, SipResponse } from '../../../lib/index.js';

/**
 * A media port range of `size` ports at a random even base in 20000-29999: below the kernel's
 * ephemeral ports (32768-60999), which every socket bound to port 0 may take, and away from the
 * 40000-59999 ranges of the other relay specs.
 */
export function relayPortRange(size: number): { min: number; max: number } {
  const slots = Math.floor((10000 - size) / 2);
  const min = 20000 + 2 * Math.floor(Math.random() * slots);
  return { min, max: min + size - 1 };
}

/** Fast retransmissions: a lost datagram on loopback is resent after 50 ms. */
export const FAST_TIMERS = { T1: 50, T2: 400, T4: 500 };

export interface TestRelay {
  server: RelayServer;
  events: RelayServerEvent[];
  ports: { min: number; max: number };
}

/** A relay server on 127.0.0.1, a random SIP port and a random media range of `size` ports. */
export async function startRelay(options: Partial<RelayServerOptions> = {}, size = 40): Promise<TestRelay> {
  const events: RelayServerEvent[] = [];
  const ports = options.rtpPorts ?? relayPortRange(size);
  const server = await RelayServer.start({
    listen: { address: '127.0.0.1', port: 0 },
    mediaAddress: '127.0.0.1',
    rtpPorts: ports,
    timers: FAST_TIMERS,
    ...options,
    onEvent: (e) => {
      events.push(e);
      options.onEvent?.(e);
    },
  });
  return { server, events, ports };
}

/** A client of one relay with short timeouts and no periodic checks unless asked. */
export function startClient(relay: RelayServer | string, options: Partial<RedirectRelayAllocatorOptions> = {}): Promise<RedirectRelayAllocator> {
  return RedirectRelayAllocator.start({
    relay: typeof relay === 'string' ? relay : relay.uri,
    localAddress: '127.0.0.1',
    requestTimeoutMs: 600,
    checkIntervalMs: 0,
    timers: FAST_TIMERS,
    ...options,
  });
}

/** A raw protocol client: hand-made requests to a relay, answered with the final response. */
export class RawClient {
  #cseq = 0;
  private constructor(readonly ua: UserAgent) {}

  static async start(): Promise<RawClient> {
    return new RawClient(await UserAgent.listen({ address: '127.0.0.1', port: 0 }, { timers: FAST_TIMERS }));
  }

  /** Sends `method` to `uri` with extra headers and an optional body (application/sdp unless told). */
  async send(
    method: string,
    uri: string,
    headers: Record<string, string> = {},
    body?: Buffer | string,
    options: { contentType?: string; secret?: string; callId?: string } = {},
  ): Promise<SipResponse> {
    const request = this.ua.createRequest({
      method,
      uri,
      from: 'sip:proxy@127.0.0.1',
      to: uri,
      cseq: ++this.#cseq,
      contact: false,
      headers,
      ...(options.callId !== undefined ? { callId: options.callId } : {}),
      ...(body !== undefined ? { body, contentType: options.contentType ?? 'application/sdp' } : {}),
    });
    if (options.secret !== undefined) signRequest(request, Buffer.from(options.secret));
    return this.ua.request(request);
  }

  close(): Promise<void> {
    return this.ua.close();
  }
}

/** The quoted text of a response's Warning header. */
export function warningOf(response: SipResponse): string {
  return /"([^"]*)"/.exec(response.get('Warning') ?? '')?.[1] ?? '';
}
