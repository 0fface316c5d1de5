import { expect } from 'chai';
import {
  DigestAuthenticator,
  NonceCountTracker,
  NonceIssuer,
  StaticCredentialSource,
  computeDigestResponse,
  computeHa1,
  parseAuth,
  parseUsers,
  InvalidArgumentError,
  LocalRelayAllocator,
} from '../../lib/index.js';
import type { IncomingRequest, SipProxy, SipRequest } from '../../lib/index.js';
import { startTestProxy, startPhone, eventually } from '../support/proxy-world.js';
import type { Phone } from '../support/proxy-world.js';
import { challengesOf, digestCredentials, inviteWithAuth, requestWithAuth, withCredentials } from '../support/digest-client.js';

describe('digest authentication: algorithms, nonces, credentials (RFC 7616, RFC 8760)', () => {
  // RFC 7616 §3.9.1: the MD5 and SHA-256 examples
  const vector = {
    username: 'Mufasa',
    realm: 'http-auth@example.org',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    nc: '00000001',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  };
  it('computes the RFC 7616 §3.9.1 MD5 and SHA-256 responses', () => {
    const md5 = computeDigestResponse({ ...vector, algorithm: 'MD5', qop: 'auth', ha1: computeHa1('MD5', vector.username, vector.realm, vector.password) });
    expect(md5).to.equal('8ca523f5e9506fed4657c9700eebdbec');
    const sha = computeDigestResponse({ ...vector, algorithm: 'SHA-256', qop: 'auth', ha1: computeHa1('SHA-256', vector.username, vector.realm, vector.password) });
    expect(sha).to.equal('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });
  it('computes SHA-512/256 (the FIPS 180-4 truncated hash, not a truncated SHA-512)', () => {
    const ha1 = computeHa1('SHA-512-256', 'a', 'b', 'c');
    expect(ha1).to.have.length(64);
    expect(computeHa1('SHA-512-256', '', '', '')).to.not.equal(computeHa1('SHA-256', '', '', ''));
  });

  it('nonces are stateless, expire, and cannot be forged', () => {
    let now = 1_700_000_000_000;
    const issuer = new NonceIssuer({ realm: 'r', ttlMs: 1000, now: () => now });
    const nonce = issuer.issue();
    expect(issuer.check(nonce)).to.include({ valid: true });
    // another issuer (another secret) does not accept it
    expect(new NonceIssuer({ realm: 'r', ttlMs: 1000, now: () => now }).check(nonce)).to.deep.equal({ valid: false, stale: false });
    // one flipped character is a forgery
    const forged = (nonce[0] === 'A' ? 'B' : 'A') + nonce.slice(1);
    expect(issuer.check(forged)).to.deep.equal({ valid: false, stale: false });
    expect(issuer.check('garbage')).to.deep.equal({ valid: false, stale: false });
    now += 1001;
    expect(issuer.check(nonce)).to.deep.equal({ valid: false, stale: true });
  });

  it('nonce-count: a repeat is a replay; memory stays bounded and forgetting never lets a replay through', () => {
    const now = 1000;
    const t = new NonceCountTracker({ maxEntries: 3, ttlMs: 60_000, now: () => now });
    expect(t.use('n1', 10, 1)).to.equal('ok');
    expect(t.use('n1', 10, 1)).to.equal('replay');
    expect(t.use('n1', 10, 2)).to.equal('ok');
    expect(t.use('n2', 20, 1)).to.equal('ok');
    expect(t.use('n3', 30, 1)).to.equal('ok');
    expect(t.use('n4', 40, 1)).to.equal('ok'); // n1 forgotten
    expect(t.size).to.equal(3);
    // n1 (issued at 10) is no longer known: refused as stale, never accepted again
    expect(t.use('n1', 10, 3)).to.equal('stale');
    expect(t.use('n0', 5, 1)).to.equal('stale');
    expect(t.use('n5', 50, 1)).to.equal('ok');
    expect(t.size).to.equal(3);
  });

  it('reads users: passwords, precomputed HA1 per algorithm, and refuses bad entries', () => {
    const users = parseUsers({ alice: 'pw', bob: { ha1: 'a'.repeat(32), 'ha1-sha256': 'b'.repeat(64), 'ha1-sha512-256': 'c'.repeat(64) } });
    expect(users.get('alice')).to.deep.equal({ password: 'pw' });
    expect(users.get('bob')!.ha1).to.deep.equal({ MD5: 'a'.repeat(32), 'SHA-256': 'b'.repeat(64), 'SHA-512-256': 'c'.repeat(64) });
    for (const bad of [[], 'x', { a: 1 }, { a: {} }, { a: { ha1: 'xyz' } }, { a: { nope: 'x' } }]) {
      expect(() => parseUsers(bad), JSON.stringify(bad)).to.throw(InvalidArgumentError);
    }
  });

  it('challenges offer SHA-256 first, then MD5, with qop="auth" and one nonce', () => {
    const auth = new DigestAuthenticator({ realm: 'example.test', credentials: new StaticCredentialSource({}) });
    const [first, second] = auth.challenges().map((c) => parseAuth(c));
    expect(first!.params).to.include({ realm: 'example.test', algorithm: 'SHA-256', qop: 'auth' });
    expect(second!.params).to.include({ algorithm: 'MD5', qop: 'auth' });
    expect(first!.params['nonce']).to.equal(second!.params['nonce']);
    expect(auth.challenges()[0]).to.match(/^Digest realm="example.test", nonce="[^"]+", algorithm=SHA-256, qop="auth"$/);
  });
});

describe('digest authentication at the proxy (REGISTER 401, out-of-dialog requests 407)', function () {
  this.timeout(20000);
  const md5Ha1 = (user: string, pw: string): string => computeHa1('MD5', user, '127.0.0.1', pw);
  let proxy: SipProxy;
  let alice: Phone;
  let bob: Phone;
  const users = () =>
    new StaticCredentialSource({
      alice: 'alice-secret',
      bob: 'bob-secret',
      // an old phone's account: only the MD5 HA1 is known
      olga: { ha1: { MD5: md5Ha1('olga', 'olga-secret') } },
    });

  async function setup(nonceTtlMs?: number): Promise<void> {
    ({ proxy } = await startTestProxy({ auth: { credentials: users(), ...(nonceTtlMs !== undefined ? { nonceTtlMs } : {}) } }));
    alice = await startPhone(proxy, 'alice', '127.0.0.99');
    bob = await startPhone(proxy, 'bob');
  }
  afterEach(async () => {
    await alice?.close();
    await bob?.close();
    await proxy?.close();
  });

  function register(phone: Phone, user = phone.user, to = `sip:${user}@127.0.0.1`): SipRequest {
    const { address, port } = proxy.address;
    return phone.ua.createRequest({ method: 'REGISTER', uri: `sip:${address}:${port}`, from: to, to, contact: phone.ua.contact, headers: { Expires: '300' } });
  }

  it('answers an unauthenticated REGISTER with 401 offering SHA-256 then MD5, and registers with either', async () => {
    await setup();
    const first = await alice.ua.request(register(alice));
    expect(first.status).to.equal(401);
    const offered = challengesOf(first).map((c) => parseAuth(c).params);
    expect(offered.map((p) => p['algorithm'])).to.deep.equal(['SHA-256', 'MD5']);
    expect(offered[0]).to.include({ realm: '127.0.0.1', qop: 'auth' });

    const sha = await alice.ua.request(withCredentials(alice.ua, register(alice), first, { username: 'alice', password: 'alice-secret' }));
    expect(sha.status).to.equal(200);
    const md5 = await requestWithAuth(bob.ua, register(bob), { username: 'bob', password: 'bob-secret', algorithms: ['MD5'] });
    expect(md5.status).to.equal(200);
    const stats = await proxy.stats();
    expect(stats.bindings).to.equal(2);
    expect(stats.security).to.include({ authSuccesses: 2, authFailures: 0 });
  });

  it('refuses a wrong password with a new challenge, and binds nothing', async () => {
    await setup();
    const r = await requestWithAuth(alice.ua, register(alice), { username: 'alice', password: 'wrong' });
    expect(r.status).to.equal(401);
    const unknown = await requestWithAuth(alice.ua, register(alice, 'mallory'), { username: 'mallory', password: 'x' });
    expect(unknown.status).to.equal(401);
    const stats = await proxy.stats();
    expect(stats.bindings).to.equal(0);
    expect(stats.security.authFailures).to.equal(2);
  });

  it('accepts a precomputed MD5 HA1: a SHA-256 attempt gets a challenge offering MD5 only', async () => {
    await setup();
    const olga = await startPhone(proxy, 'olga');
    try {
      const first = await olga.ua.request(register(olga));
      const second = await olga.ua.request(withCredentials(olga.ua, register(olga), first, { username: 'olga', password: 'olga-secret' }));
      expect(second.status).to.equal(401);
      expect(challengesOf(second).map((c) => parseAuth(c).params['algorithm'])).to.deep.equal(['MD5']);
      const third = await olga.ua.request(withCredentials(olga.ua, register(olga), second, { username: 'olga', password: 'olga-secret' }));
      expect(third.status).to.equal(200);
    } finally {
      await olga.close();
    }
  });

  it('refuses a replayed REGISTER (same nonce and nonce-count) and counts it', async () => {
    await setup();
    const first = await alice.ua.request(register(alice));
    const signed = withCredentials(alice.ua, register(alice), first, { username: 'alice', password: 'alice-secret' });
    expect((await alice.ua.request(signed)).status).to.equal(200);
    // the attacker replays the captured request (a new branch so it is a new transaction, a higher CSeq)
    const replay = signed.clone();
    replay.set('Via', `SIP/2.0/UDP 127.0.0.1:${alice.ua.transport.localPort};branch=z9hG4bKreplay${Date.now()};rport`);
    replay.set('CSeq', `${signed.cseq.seq + 1} REGISTER`);
    expect((await alice.ua.request(replay)).status).to.equal(401);
    // the same nonce with the next nonce-count is fine (a client reusing its nonce)
    const challenge = parseAuth(challengesOf(first)[0]!).params;
    const next = register(alice);
    next.set('CSeq', `${signed.cseq.seq + 2} REGISTER`);
    next.append('Authorization', digestCredentials([formatChallenge(challenge)], { username: 'alice', password: 'alice-secret' }, 'REGISTER', next.uri.toString(), 2));
    expect((await alice.ua.request(next)).status).to.equal(200);
    expect((await proxy.stats()).security.authReplays).to.equal(1);
  });

  it('answers credentials with an expired nonce by a new challenge with stale=true', async () => {
    await setup(300);
    const first = await alice.ua.request(register(alice));
    await new Promise((r) => setTimeout(r, 400));
    const late = await alice.ua.request(withCredentials(alice.ua, register(alice), first, { username: 'alice', password: 'alice-secret' }));
    expect(late.status).to.equal(401);
    expect(parseAuth(challengesOf(late)[0]!).params['stale']).to.equal('true');
    expect((await alice.ua.request(withCredentials(alice.ua, register(alice), late, { username: 'alice', password: 'alice-secret' }))).status).to.equal(200);
  });

  it('forbids registering an address-of-record that is not the authenticated user (403)', async () => {
    await setup();
    const r = await requestWithAuth(alice.ua, register(alice, 'bob'), { username: 'alice', password: 'alice-secret' });
    expect(r.status).to.equal(403);
    expect((await proxy.stats()).bindings).to.equal(0);
  });

  describe('calls', () => {
    let inviteAtBob: SipRequest | undefined;
    beforeEach(async () => {
      await setup();
      inviteAtBob = undefined;
      bob.ua.onRequest((req: IncomingRequest) => {
        if (req.method !== 'INVITE') return void req.respond(200);
        if (req.request.to.tag === undefined) inviteAtBob = req.request;
        req.respond(200, 'OK', { body: bob.sdp(), contentType: 'application/sdp' });
      });
      expect((await requestWithAuth(alice.ua, register(alice), { username: 'alice', password: 'alice-secret' })).status).to.equal(200);
      expect((await requestWithAuth(bob.ua, register(bob), { username: 'bob', password: 'bob-secret' })).status).to.equal(200);
    });
    function invite(from: string): SipRequest {
      const { address, port } = proxy.address;
      return alice.ua.createRequest({ method: 'INVITE', uri: `sip:bob@${address}:${port}`, from, to: bob.aor, body: alice.sdp() });
    }

    it('challenges an INVITE from a local user with 407, allocates no relay for it, and forwards it once authenticated without our Proxy-Authorization', async () => {
      const first = await alice.ua.request(invite(alice.aor));
      expect(first.status).to.equal(407);
      expect(challengesOf(first).map((c) => parseAuth(c).params['algorithm'])).to.deep.equal(['SHA-256', 'MD5']);
      expect((proxy.relay as LocalRelayAllocator).stats().portsInUse).to.equal(0);
      expect(proxy.calls.size).to.equal(0);

      const retry = withCredentials(alice.ua, invite(alice.aor), first, { username: 'alice', password: 'alice-secret' });
      retry.append('Proxy-Authorization', 'Digest username="alice", realm="other.example", nonce="x", uri="sip:bob@x", response="00"');
      const { response, dialog } = await alice.ua.invite(retry);
      expect(response.status).to.equal(200);
      expect(inviteAtBob!.getAll('proxy-authorization')).to.have.length(1);
      expect(inviteAtBob!.get('proxy-authorization')).to.include('other.example');
      // in-dialog requests are not challenged
      expect((await dialog!.bye()).status).to.equal(200);
      await eventually(() => proxy.calls.size === 0, 2000, 'call ended');
    });

    it('does not challenge CANCEL (RFC 3261 §22.1) and ends the authenticated call with 487', async () => {
      bob.ua.onRequest((req: IncomingRequest) => void req.respond(180));
      const first = await alice.ua.request(invite(alice.aor));
      const retry = withCredentials(alice.ua, invite(alice.aor), first, { username: 'alice', password: 'alice-secret' });
      const res = await alice.ua.request(retry, { onProvisional: (r) => void (r.status === 180 && alice.ua.cancel(retry)) });
      expect(res.status).to.equal(487);
    });

    it('forbids a From that is not the authenticated user (403)', async () => {
      const r = await inviteWithAuth(alice.ua, invite('sip:bob@127.0.0.1'), { username: 'alice', password: 'alice-secret' });
      expect(r.response.status).to.equal(403);
      expect(inviteAtBob).to.equal(undefined);
    });

    it('lets a call from another domain reach a local user without a challenge', async () => {
      const { response, dialog } = await alice.ua.invite(invite('sip:carol@elsewhere.example'));
      expect(response.status).to.equal(200);
      await dialog!.bye();
    });

    it('challenges MESSAGE and OPTIONS to a user, but not OPTIONS to the proxy itself', async () => {
      const { address, port } = proxy.address;
      const msg = (): SipRequest => alice.ua.createRequest({ method: 'MESSAGE', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor, body: 'hi', contentType: 'text/plain' });
      expect((await alice.ua.request(msg())).status).to.equal(407);
      expect((await requestWithAuth(alice.ua, msg(), { username: 'alice', password: 'alice-secret' })).status).to.equal(200);
      const opt = alice.ua.createRequest({ method: 'OPTIONS', uri: `sip:bob@${address}:${port}`, from: alice.aor, to: bob.aor });
      expect((await alice.ua.request(opt)).status).to.equal(407);
      const ping = alice.ua.createRequest({ method: 'OPTIONS', uri: `sip:${address}:${port}`, from: alice.aor, to: `sip:${address}` });
      expect((await alice.ua.request(ping)).status).to.equal(200);
    });
  });
});

function formatChallenge(params: Record<string, string>): string {
  return `Digest ${Object.entries(params).map(([k, v]) => `${k}="${v}"`).join(', ')}`;
}

