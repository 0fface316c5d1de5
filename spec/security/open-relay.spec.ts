import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import { StaticCredentialSource, UserAgent, LocalRelayAllocator } from '../../lib/index.js';
import type { IncomingRequest, ProxyOptions, SipProxy, SipRequest } from '../../lib/index.js';
import { startTestProxy, startPhone, eventually } from '../support/proxy-world.js';
import type { Phone } from '../support/proxy-world.js';
import { inviteWithAuth, requestWithAuth } from '../support/digest-client.js';

/**
 * No open relay (docs/security.md): with `auth` or `domains` configured, a request for a domain
 * the proxy does not serve is refused with 403 unless it comes from an authenticated local user.
 * "Foreign" here is dave, a user agent on 127.0.0.2 (loopback, but not one of the proxy's
 * addresses), so a forwarded request really arrives somewhere and a refused one does not.
 */
describe('no open relay', function () {
  this.timeout(20000);
  let proxy: SipProxy;
  let alice: Phone;
  let dave: UserAgent;
  let atDave: SipRequest[];

  async function setup(options: ProxyOptions): Promise<void> {
    ({ proxy } = await startTestProxy({ relayAlways: true, ...options }));
    alice = await startPhone(proxy, 'alice');
    dave = await UserAgent.listen({ address: '127.0.0.2', port: 0 }, { user: 'dave', timers: { T1: 50, T2: 400, T4: 500 } });
    atDave = [];
    dave.onRequest((req: IncomingRequest) => {
      atDave.push(req.request);
      req.respond(200, 'OK', req.method === 'INVITE' ? { body: alice.sdp(), contentType: 'application/sdp' } : {});
    });
  }
  afterEach(async () => {
    await alice?.close();
    await dave?.close();
    await proxy?.close();
  });

  const daveUri = (): string => `sip:dave@127.0.0.2:${dave.transport.localPort}`;
  function req(method: string, from: string, uri = daveUri(), extra: Record<string, string> = {}): SipRequest {
    return alice.ua.createRequest({ method, uri, from, to: uri, ...(method === 'INVITE' ? { body: alice.sdp() } : {}), headers: extra });
  }
  const relayPorts = (): number => (proxy.relay as LocalRelayAllocator).stats().portsInUse;

  describe('with --users (no domains: the proxy\'s own addresses are its domain)', () => {
    beforeEach(() => setup({ auth: { credentials: new StaticCredentialSource({ alice: 'pw', bob: 'pw2' }) } }));

    it('refuses INVITE, MESSAGE and OPTIONS from a foreign user to a foreign domain with 403, and allocates no relay', async () => {
      for (const method of ['INVITE', 'MESSAGE', 'OPTIONS']) {
        const r = await alice.ua.request(req(method, 'sip:mallory@evil.example'));
        expect(r.status, method).to.equal(403);
      }
      expect(atDave).to.have.length(0);
      expect(relayPorts()).to.equal(0);
      expect((await proxy.stats()).security.forbidden).to.equal(3);
    });

    it('forwards a call to a foreign domain from an authenticated local user (407, then 200 from the far end)', async () => {
      const { response, dialog } = await inviteWithAuth(alice.ua, req('INVITE', alice.aor), { username: 'alice', password: 'pw' });
      expect(response.status).to.equal(200);
      expect(atDave).to.have.length(1);
      expect(atDave[0]!.has('proxy-authorization')).to.equal(false);
      // the dialog it created may go on: BYE through the proxy's Record-Route
      expect((await dialog!.bye()).status).to.equal(200);
      await eventually(() => relayPorts() === 0, 2000, 'relay released');
    });

    it('refuses a request with a To tag for a dialog it never saw (even with its own Route on top), and drops such an ACK', async () => {
      const { address, port } = proxy.address;
      const bye = req('BYE', 'sip:mallory@evil.example', daveUri(), { Route: `<sip:${address}:${port};lr>` });
      bye.set('To', `<${daveUri()}>;tag=forged`);
      expect((await alice.ua.request(bye)).status).to.equal(403);
      const ack = `ACK ${daveUri()} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKack1\r\nMax-Forwards: 70\r\nFrom: <sip:m@evil.example>;tag=1\r\nTo: <${daveUri()}>;tag=2\r\nCall-ID: ack-relay\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`;
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
      s.send(ack, port, address);
      await new Promise((r) => setTimeout(r, 300));
      s.close();
      expect(atDave).to.have.length(0);
    });

    it('still lets a foreign user reach a local user without a challenge', async () => {
      const bob = await startPhone(proxy, 'bob');
      try {
        bob.ua.onRequest((r: IncomingRequest) => void r.respond(200));
        const { address, port } = proxy.address;
        const reg = bob.ua.createRequest({ method: 'REGISTER', uri: `sip:${address}:${port}`, from: bob.aor, to: bob.aor, contact: bob.ua.contact });
        expect((await requestWithAuth(bob.ua, reg, { username: 'bob', password: 'pw2' })).status).to.equal(200);
        const msg = alice.ua.createRequest({ method: 'MESSAGE', uri: `sip:bob@${address}:${port}`, from: 'sip:carol@elsewhere.example', to: bob.aor, body: 'hi', contentType: 'text/plain' });
        expect((await alice.ua.request(msg)).status).to.equal(200);
        expect((await proxy.stats()).security.authChallenges).to.equal(1);
      } finally {
        await bob.close();
      }
    });
  });

  describe('with domains and no authentication', () => {
    beforeEach(() => setup({ domains: ['example.test'] }));

    it('serves its domain and refuses every other one with 403', async () => {
      const bob = await startPhone(proxy, 'bob');
      try {
        bob.ua.onRequest((r: IncomingRequest) => void r.respond(200));
        const { address, port } = proxy.address;
        const reg = bob.ua.createRequest({ method: 'REGISTER', uri: `sip:example.test`, from: 'sip:bob@example.test', to: 'sip:bob@example.test', contact: bob.ua.contact });
        expect((await bob.ua.request(reg, { destination: { address, port } })).status).to.equal(200);
        const toBob = alice.ua.createRequest({ method: 'MESSAGE', uri: 'sip:bob@example.test', from: 'sip:carol@anywhere.example', to: 'sip:bob@example.test', body: 'hi', contentType: 'text/plain' });
        expect((await alice.ua.request(toBob)).status).to.equal(200);
        expect((await alice.ua.request(req('MESSAGE', 'sip:alice@example.test'))).status).to.equal(403);
        expect(atDave).to.have.length(0);
      } finally {
        await bob.close();
      }
    });
  });

  describe('with neither (a lab proxy)', () => {
    beforeEach(() => setup({}));
    it('is an open proxy, as documented: it forwards to any domain', async () => {
      const r = await alice.ua.request(req('MESSAGE', 'sip:mallory@evil.example'));
      expect(r.status).to.equal(200);
      expect(atDave).to.have.length(1);
    });
  });
});
