/**
 * A user agent server: answers every INVITE with 180 Ringing and, after a ring time, 200 OK with
 * an SDP answer; answers BYE and OPTIONS with 200; CANCEL is handled by the UserAgent (200 to the
 * CANCEL, 487 to the INVITE). Runs until SIGINT or SIGTERM. Signaling only: no media is sent.
 *
 *   npx tsx examples/uas.ts --listen 127.0.0.1:5060 [--ring 100]
 */
import { parseArgs } from 'node:util';
import { UserAgent } from '../lib/index.js';
import type { IncomingRequest } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:5060' },
    ring: { type: 'string', default: '100' },
  },
});
const { host, port } = splitHostPort(values.listen);
const ringMs = Number(values.ring);
const RTP_PORT = 49170; // advertised in the SDP; this example sends no media

const ua = await UserAgent.listen({ address: host, port }, { user: 'uas', userAgent: 'natter-example-uas' });
const address = ua.transport.sentBy.host;
const stats = { answered: 0, cancelled: 0, rejected: 0, byes: 0 };
const ringing = new Set<NodeJS.Timeout>();

ua.onRequest((req: IncomingRequest) => {
  switch (req.method) {
    case 'INVITE':
      return invite(req);
    case 'BYE':
      stats.byes++;
      req.respond(200);
      return;
    case 'OPTIONS':
      req.respond(200, 'OK', { headers: { Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS', Accept: 'application/sdp' } });
      return;
    default:
      req.respond(501); // CANCEL and ACK never get here: the UserAgent handles them
  }
});

function invite(req: IncomingRequest): void {
  const offer = req.request.body.toString('latin1');
  const sdp = offer === '' ? describeSession(address, ['0', '8']) : answerTo(offer, address);
  if (sdp === undefined) {
    stats.rejected++;
    req.respond(488); // nothing in the offer we can take (RFC 3264 §6)
    return;
  }
  const reInvite = req.dialog !== undefined;
  if (!reInvite) req.respond(180);
  const timer = setTimeout(
    () => {
      ringing.delete(timer);
      if (req.respond(200, 'OK', { body: sdp }) !== undefined && !reInvite) stats.answered++;
    },
    reInvite ? 0 : ringMs,
  );
  ringing.add(timer);
  req.oncancel = () => {
    clearTimeout(timer);
    ringing.delete(timer);
    stats.cancelled++;
  };
}

/** RFC 3264 §6: one m= line per offered one; audio with PCMU (0) or PCMA (8) accepted, the rest refused (port 0). */
function answerTo(offer: string, addr: string): string | undefined {
  const media = offer.split(/\r?\n/).filter((l) => l.startsWith('m='));
  const lines: string[] = [];
  let accepted = false;
  for (const m of media) {
    const [kind = '', , proto = 'RTP/AVP', ...formats] = m.slice(2).trim().split(/\s+/);
    const codec = kind === 'audio' && !accepted ? formats.find((f) => f === '0' || f === '8') : undefined;
    if (codec === undefined) lines.push(`m=${kind} 0 ${proto} ${formats.join(' ')}`);
    else {
      accepted = true;
      lines.push(`m=audio ${RTP_PORT} ${proto} ${codec}`, `a=rtpmap:${codec} ${codec === '0' ? 'PCMU' : 'PCMA'}/8000`, 'a=sendrecv');
    }
  }
  return accepted ? session(addr, lines) : undefined;
}

function describeSession(addr: string, codecs: string[]): string {
  return session(addr, [`m=audio ${RTP_PORT} RTP/AVP ${codecs.join(' ')}`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=sendrecv']);
}

function session(addr: string, media: string[]): string {
  const ip = addr.includes(':') ? 'IP6' : 'IP4';
  const id = Date.now();
  return [`v=0`, `o=natter ${id} ${id} IN ${ip} ${addr}`, 's=natter', `c=IN ${ip} ${addr}`, 't=0 0', ...media, ''].join('\r\n');
}

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (m === null) throw new Error(`--listen wants IP:PORT (or [IPv6]:PORT), got ${s}`);
  return { host: m[1]!, port: Number(m[2]) };
}

async function stop(signal: string): Promise<void> {
  for (const t of ringing) clearTimeout(t);
  await ua.close();
  console.log(`uas: ${signal}: ${stats.answered} answered, ${stats.cancelled} cancelled, ${stats.rejected} rejected, ${stats.byes} BYEs`);
}
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));

console.log(`uas: listening on ${ua.transport.localAddress}:${ua.transport.localPort} (ring ${ringMs} ms)`);
