import { randomBytes } from 'node:crypto';
import { computeDigestResponse, computeHa1, formatAuth, generateBranch, parseAlgorithm, parseAuth } from '../../lib/index.js';
import type { DigestAlgorithm, Dialog, RequestOptions, SipRequest, SipResponse, UserAgent } from '../../lib/index.js';

/** A test client's digest credentials. */
export interface DigestUser {
  username: string;
  password: string;
  /** Only answer challenges of these algorithms (default: the first challenge we understand). */
  algorithms?: DigestAlgorithm[];
}

/** The challenge header values of a 401/407. */
export function challengesOf(response: SipResponse): string[] {
  return response.getAll(response.status === 407 ? 'proxy-authenticate' : 'www-authenticate');
}

/**
 * The Authorization / Proxy-Authorization value answering the first challenge (of `challenges`,
 * in the server's order) whose algorithm the user accepts: qop=auth, nc, a new cnonce.
 */
export function digestCredentials(challenges: readonly string[], user: DigestUser, method: string, uri: string, nc = 1): string {
  for (const text of challenges) {
    const c = parseAuth(text);
    const algorithm = parseAlgorithm(c.params['algorithm']);
    if (algorithm === undefined || (user.algorithms !== undefined && !user.algorithms.includes(algorithm))) continue;
    const realm = c.params['realm'] ?? '';
    const nonce = c.params['nonce'] ?? '';
    const cnonce = randomBytes(8).toString('hex');
    const ncText = nc.toString(16).padStart(8, '0');
    const ha1 = computeHa1(algorithm, user.username, realm, user.password);
    const response = computeDigestResponse({ algorithm, ha1, method, uri, nonce, qop: 'auth', nc: ncText, cnonce });
    return formatAuth(
      { scheme: 'Digest', params: { username: user.username, realm, nonce, uri, response, algorithm, cnonce, qop: 'auth', nc: ncText } },
      'credentials',
    );
  }
  throw new Error(`no challenge the client accepts among ${JSON.stringify(challenges)}`);
}

/**
 * The request again with credentials for `challenge` (a 401 or 407 to it): same Call-ID and From
 * tag, CSeq one higher, a new branch (RFC 3261 §22.2: "the retried request ... MUST have a
 * CSeq ... incremented").
 */
export function withCredentials(ua: UserAgent, request: SipRequest, challenge: SipResponse, user: DigestUser): SipRequest {
  const retry = request.clone();
  const s = ua.transport.sentBy;
  retry.set('Via', `SIP/2.0/UDP ${s.host}:${s.port};branch=${generateBranch()};rport`);
  retry.set('CSeq', `${request.cseq.seq + 1} ${request.method}`);
  const header = challenge.status === 407 ? 'Proxy-Authorization' : 'Authorization';
  retry.append(header, digestCredentials(challengesOf(challenge), user, request.method, request.uri.toString()));
  return retry;
}

/** Sends a request; on 401/407 retries once with credentials. Resolves with the last final response. */
export async function requestWithAuth(ua: UserAgent, request: SipRequest, user: DigestUser, options: RequestOptions = {}): Promise<SipResponse> {
  const first = await ua.request(request, options);
  if (first.status !== 401 && first.status !== 407) return first;
  return ua.request(withCredentials(ua, request, first, user), options);
}

/** Like requestWithAuth for an INVITE, also giving the dialog a 2xx created. */
export async function inviteWithAuth(ua: UserAgent, request: SipRequest, user: DigestUser, options: RequestOptions = {}): Promise<{ response: SipResponse; dialog: Dialog | undefined }> {
  const first = await ua.request(request, options);
  if (first.status !== 401 && first.status !== 407) return { response: first, dialog: first.status < 300 ? ua.dialogFor(first) : undefined };
  return ua.invite(withCredentials(ua, request, first, user), options);
}
