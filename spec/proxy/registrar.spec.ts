import { expect } from 'chai';
import { MemoryLocationStore, Registrar, SipRequest, makeResponse, parse } from '../../lib/index.js';
import type { NatVerdict, RegistrarOptions } from '../../lib/index.js';
import { FakeTimerClock } from '../nat/fake-timer-clock.js';

const NAT_SOURCE = { address: '203.0.113.7', port: 40123, transport: 'udp' };
const LAN_SOURCE = { address: '192.168.1.10', port: 5060, transport: 'udp' };

interface RegisterParts {
  uri?: string;
  to?: string;
  contact?: string | string[] | null;
  expires?: string | null;
  callId?: string;
  cseq?: number;
  extra?: string[];
}

function register(p: RegisterParts = {}): SipRequest {
  const contacts = p.contact === null ? [] : Array.isArray(p.contact) ? p.contact : [p.contact ?? '<sip:alice@192.168.1.10:5060>'];
  const lines = [
    `REGISTER ${p.uri ?? 'sip:example.com'} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKnashds7;rport',
    'Max-Forwards: 70',
    `To: Alice <${p.to ?? 'sip:alice@example.com'}>`,
    'From: Alice <sip:alice@example.com>;tag=456248',
    `Call-ID: ${p.callId ?? '843817637684230@998sdasdh09'}`,
    `CSeq: ${p.cseq ?? 1826} REGISTER`,
    ...contacts.map((c) => `Contact: ${c}`),
    ...(p.expires === null ? [] : [`Expires: ${p.expires ?? '3600'}`]),
    ...(p.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
  const m = parse(lines.join('\r\n'));
  if (!(m instanceof SipRequest)) throw new Error('not a request');
  return m;
}

describe('proxy/registrar (RFC 3261 §10.3)', () => {
  let clock: FakeTimerClock;
  let store: MemoryLocationStore;
  let registrar: Registrar;
  const AOR = 'sip:alice@example.com';

  function setup(options: Partial<RegistrarOptions> = {}, maxPerAor = 10): void {
    store = new MemoryLocationStore({ clock, maxPerAor });
    registrar = new Registrar({ store, clock, domains: ['example.com'], ...options });
  }
  beforeEach(() => {
    clock = new FakeTimerClock();
    setup();
  });
  afterEach(() => store.close());

  describe('step 8: the 200 OK', () => {
    it('adds a binding and answers 200 whose Contact lists it with an expires parameter, plus a Date header', async () => {
      const res = await registrar.handle(register(), LAN_SOURCE);
      expect(res.status).to.equal(200);
      expect(res.getAll('contact')).to.deep.equal(['<sip:alice@192.168.1.10:5060>;expires=3600']);
      expect(res.get('date')).to.equal('Wed, 01 Jan 2025 00:00:00 GMT');
      expect(res.to.tag).to.be.a('string');
      const [b] = await store.lookup(AOR);
      expect(b).to.deep.include({ aor: AOR, contact: 'sip:alice@192.168.1.10:5060', callId: '843817637684230@998sdasdh09', cseq: 1826, natted: false });
      expect(b!.expiresAt).to.equal(clock.now() + 3600 * 1000);
    });
    it('enumerates all current bindings of the AOR, each with the time it has left', async () => {
      await registrar.handle(register({ contact: '<sip:alice@198.51.100.1>', expires: '600', callId: 'phone-a' }), LAN_SOURCE);
      await clock.advance(100000);
      const res = await registrar.handle(register({ contact: '<sip:alice@198.51.100.2>;q=0.7', callId: 'phone-b' }), LAN_SOURCE);
      // highest q first; a contact without q counts as 1.0
      expect(res.getAll('contact')).to.deep.equal(['<sip:alice@198.51.100.1>;expires=500', '<sip:alice@198.51.100.2>;expires=3600;q=0.7']);
    });
    it('a REGISTER without Contact is a query: it lists the bindings and changes nothing', async () => {
      await registrar.handle(register(), LAN_SOURCE);
      const res = await registrar.handle(register({ contact: null, cseq: 1827 }), LAN_SOURCE);
      expect(res.status).to.equal(200);
      expect(res.getAll('contact')).to.have.length(1);
      expect((await store.lookup(AOR))[0]!.cseq).to.equal(1826);
    });
    it('echoes Contact parameters such as +sip.instance and reg-id, and stores them (RFC 5626)', async () => {
      const res = await registrar.handle(register({ contact: '<sip:alice@198.51.100.1>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";reg-id=1' }), LAN_SOURCE);
      expect(res.get('contact')).to.equal('<sip:alice@198.51.100.1>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";reg-id=1;expires=3600');
      const [b] = await store.lookup(AOR);
      expect(b).to.deep.include({ instance: '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>', regId: 1 });
    });
  });

  describe('step 7: expiration interval', () => {
    it('takes the Contact expires parameter over the Expires header', async () => {
      const res = await registrar.handle(register({ contact: '<sip:alice@198.51.100.1>;expires=120', expires: '3000' }), LAN_SOURCE);
      expect(res.get('contact')).to.equal('<sip:alice@198.51.100.1>;expires=120');
    });
    it('takes the Expires header when the contact has no parameter, and the default (3600) without either', async () => {
      expect((await registrar.handle(register({ expires: '1800' }), LAN_SOURCE)).get('contact')).to.match(/;expires=1800$/);
      expect((await registrar.handle(register({ expires: null, cseq: 1900 }), LAN_SOURCE)).get('contact')).to.match(/;expires=3600$/);
    });
    it('treats a malformed value as 3600 (§20.10, §20.19)', async () => {
      const m = register({ expires: '60' });
      m.set('Expires', 'soon');
      expect((await registrar.handle(m, LAN_SOURCE)).get('contact')).to.match(/;expires=3600$/);
      const p = register({ expires: '60', cseq: 1900 });
      p.set('Contact', '<sip:alice@192.168.1.10:5060>;expires=later');
      expect((await registrar.handle(p, LAN_SOURCE)).get('contact')).to.match(/;expires=3600$/);
    });
    it('may shorten the interval: grants at most maxExpires', async () => {
      setup({ maxExpires: 7200 });
      expect((await registrar.handle(register({ expires: '99999' }), LAN_SOURCE)).get('contact')).to.match(/;expires=7200$/);
    });
    it('answers 423 Interval Too Brief with Min-Expires when 0 < expires < 1 hour and below the minimum, changing nothing', async () => {
      const res = await registrar.handle(register({ contact: ['<sip:alice@198.51.100.1>', '<sip:alice@198.51.100.2>;expires=30'] }), LAN_SOURCE);
      expect(res.status).to.equal(423);
      expect(res.reason).to.equal('Interval Too Brief');
      expect(res.get('min-expires')).to.equal('60');
      expect(await store.lookup(AOR)).to.deep.equal([]);
    });
    it('"if and only if ... smaller than one hour": with a minimum above 3600, 3600 is accepted', async () => {
      setup({ minExpires: 7200 });
      expect((await registrar.handle(register({ expires: '3600' }), LAN_SOURCE)).status).to.equal(200);
      expect((await registrar.handle(register({ expires: '1800', cseq: 1900 }), LAN_SOURCE)).status).to.equal(423);
    });
  });

  describe('step 7: refresh and removal', () => {
    it('a refresh with the same Call-ID and a higher CSeq updates the binding', async () => {
      await registrar.handle(register({ expires: '600' }), LAN_SOURCE);
      await clock.advance(300000);
      const res = await registrar.handle(register({ expires: '600', cseq: 1827 }), LAN_SOURCE);
      expect(res.getAll('contact')).to.deep.equal(['<sip:alice@192.168.1.10:5060>;expires=600']);
      const list = await store.lookup(AOR);
      expect(list).to.have.length(1);
      expect(list[0]!.cseq).to.equal(1827);
    });
    it('a binding that is not refreshed expires', async () => {
      await registrar.handle(register({ expires: '60' }), LAN_SOURCE);
      await clock.advance(61000);
      expect(await store.lookup(AOR)).to.deep.equal([]);
      expect((await registrar.handle(register({ contact: null, cseq: 1827 }), LAN_SOURCE)).has('contact')).to.equal(false);
    });
    it('Expires: 0 removes the binding ("the binding MUST be removed if the expiration time is zero")', async () => {
      await registrar.handle(register({ contact: ['<sip:alice@198.51.100.1>', '<sip:alice@198.51.100.2>'] }), LAN_SOURCE);
      const res = await registrar.handle(register({ contact: '<sip:alice@198.51.100.1>', expires: '0', cseq: 1827 }), LAN_SOURCE);
      expect(res.getAll('contact')).to.deep.equal(['<sip:alice@198.51.100.2>;expires=3600']);
    });
    it('a Contact expires=0 parameter removes that binding only', async () => {
      await registrar.handle(register({ contact: ['<sip:alice@198.51.100.1>', '<sip:alice@198.51.100.2>'] }), LAN_SOURCE);
      const res = await registrar.handle(register({ contact: ['<sip:alice@198.51.100.1>;expires=0', '<sip:alice@198.51.100.2>'], cseq: 1827 }), LAN_SOURCE);
      expect(res.getAll('contact')).to.deep.equal(['<sip:alice@198.51.100.2>;expires=3600']);
    });
    it('finds the binding to update with the URI comparison rules (§19.1.4)', async () => {
      await registrar.handle(register({ contact: '<sip:alice@198.51.100.1;transport=udp>' }), LAN_SOURCE);
      await registrar.handle(register({ contact: '<sip:alice@198.51.100.1;transport=UDP>;expires=0', cseq: 1827 }), LAN_SOURCE);
      expect(await store.lookup(AOR)).to.deep.equal([]);
    });
    it('keeps several contacts per AOR, from one REGISTER or from several devices (different Call-IDs)', async () => {
      await registrar.handle(register({ contact: '<sip:alice@198.51.100.1>, <sip:alice@198.51.100.2>' }), LAN_SOURCE);
      await registrar.handle(register({ contact: '<sip:alice@198.51.100.3>', callId: 'other-device', cseq: 1 }), LAN_SOURCE);
      expect((await store.lookup(AOR)).map((b) => b.contact).sort()).to.deep.equal(['sip:alice@198.51.100.1', 'sip:alice@198.51.100.2', 'sip:alice@198.51.100.3']);
    });
    it('a different Call-ID updates the binding whatever its CSeq (a rebooted phone)', async () => {
      await registrar.handle(register({ cseq: 50 }), LAN_SOURCE);
      const res = await registrar.handle(register({ cseq: 1, callId: 'after-reboot' }), LAN_SOURCE);
      expect(res.status).to.equal(200);
      expect((await store.lookup(AOR))[0]).to.deep.include({ callId: 'after-reboot', cseq: 1 });
    });
    it('same Call-ID with a CSeq not higher than the binding\'s: "the update MUST be aborted and the request fails"', async () => {
      await registrar.handle(register({ contact: '<sip:alice@198.51.100.1>', cseq: 10 }), LAN_SOURCE);
      for (const cseq of [10, 9]) {
        const res = await registrar.handle(register({ contact: ['<sip:alice@198.51.100.2>', '<sip:alice@198.51.100.1>;expires=0'], cseq }), LAN_SOURCE);
        expect(res.status).to.equal(400);
        expect(res.reason).to.match(/CSeq/);
      }
      expect((await store.lookup(AOR)).map((b) => b.contact)).to.deep.equal(['sip:alice@198.51.100.1']);
    });
    it('one request listing the same contact twice is not an out-of-order update', async () => {
      const res = await registrar.handle(register({ contact: ['<sip:alice@198.51.100.1>;expires=100', '<sip:alice@198.51.100.1>;expires=200'] }), LAN_SOURCE);
      expect(res.getAll('contact')).to.deep.equal(['<sip:alice@198.51.100.1>;expires=200']);
    });
    it('REGISTERs for one AOR arriving together are processed one after the other', async () => {
      const [a, b] = await Promise.all([
        registrar.handle(register({ contact: '<sip:alice@198.51.100.1>', callId: 'x' }), LAN_SOURCE),
        registrar.handle(register({ contact: '<sip:alice@198.51.100.2>', callId: 'y' }), LAN_SOURCE),
      ]);
      expect(a.getAll('contact')).to.have.length(1);
      expect(b.getAll('contact')).to.have.length(2);
    });
    it('answers 503 past the per-AOR binding cap, changing nothing', async () => {
      setup({}, 2);
      await registrar.handle(register({ contact: '<sip:alice@198.51.100.1>, <sip:alice@198.51.100.2>' }), LAN_SOURCE);
      const res = await registrar.handle(register({ contact: '<sip:alice@198.51.100.3>', callId: 'z' }), LAN_SOURCE);
      expect(res.status).to.equal(503);
      expect(await store.lookup(AOR)).to.have.length(2);
    });
  });

  describe('step 6: Contact "*"', () => {
    it('Contact: * with Expires: 0 removes every binding of the AOR', async () => {
      await registrar.handle(register({ contact: '<sip:alice@198.51.100.1>, <sip:alice@198.51.100.2>' }), LAN_SOURCE);
      await registrar.handle(register({ contact: '<sip:alice@198.51.100.3>', callId: 'other' }), LAN_SOURCE);
      const res = await registrar.handle(register({ contact: '*', expires: '0', cseq: 1827 }), LAN_SOURCE);
      expect(res.status).to.equal(200);
      expect(res.has('contact')).to.equal(false);
      expect(await store.lookup(AOR)).to.deep.equal([]);
    });
    it('"*" with an expiration other than zero, without Expires, or with other Contacts is 400 (Invalid Request)', async () => {
      await registrar.handle(register(), LAN_SOURCE);
      for (const p of [{ expires: '3600' }, { expires: null }]) {
        const res = await registrar.handle(register({ contact: '*', cseq: 1827, ...p }), LAN_SOURCE);
        expect(res.status, JSON.stringify(p)).to.equal(400);
      }
      // the parser already refuses "*" beside other contacts; a message built in code can still carry it
      const mixed = register({ contact: '*', expires: '0', cseq: 1828 });
      mixed.append('Contact', '<sip:alice@198.51.100.1>');
      expect((await registrar.handle(mixed, LAN_SOURCE)).status).to.equal(400);
      expect(await store.lookup(AOR)).to.have.length(1);
    });
    it('"*" fails when a binding has the same Call-ID and a CSeq not lower than the request\'s', async () => {
      await registrar.handle(register({ cseq: 5 }), LAN_SOURCE);
      expect((await registrar.handle(register({ contact: '*', expires: '0', cseq: 5 }), LAN_SOURCE)).status).to.equal(400);
      expect(await store.lookup(AOR)).to.have.length(1);
    });
  });

  describe('steps 1, 2 and 5: Request-URI, Require, address-of-record', () => {
    it('answers 404 for a Request-URI or To domain this registrar does not serve', async () => {
      expect((await registrar.handle(register({ uri: 'sip:other.example.net' }), LAN_SOURCE)).status).to.equal(404);
      expect((await registrar.handle(register({ to: 'sip:alice@other.example.net' }), LAN_SOURCE)).status).to.equal(404);
    });
    it('answers 404 for an address-of-record that is not a SIP or SIPS URI', async () => {
      const res = await registrar.handle(register({ to: 'tel:+15551234567' }), LAN_SOURCE);
      expect(res.status).to.equal(404);
    });
    it('answers 404 for an AOR the operator does not know, and accepts any domain without a domain list', async () => {
      setup({ domains: [], isValidAor: (aor) => aor === 'sip:bob@anywhere.example' });
      expect((await registrar.handle(register(), LAN_SOURCE)).status).to.equal(404);
      expect((await registrar.handle(register({ uri: 'sip:anywhere.example', to: 'sip:bob@anywhere.example' }), LAN_SOURCE)).status).to.equal(200);
    });
    it('canonicalizes the AOR: To URI parameters and escapes do not make a different AOR', async () => {
      await registrar.handle(register({ to: 'sip:%61lice@EXAMPLE.com;user=ip' }), LAN_SOURCE);
      expect(await store.lookup(AOR)).to.have.length(1);
    });
    it('answers 420 with Unsupported for a Require option tag it does not support (§8.2.2.3)', async () => {
      const res = await registrar.handle(register({ extra: ['Require: gruu, path'] }), LAN_SOURCE);
      expect(res.status).to.equal(420);
      expect(res.get('unsupported')).to.equal('gruu');
      setup({ supported: ['gruu', 'path'] });
      expect((await registrar.handle(register({ extra: ['Require: gruu, path'] }), LAN_SOURCE)).status).to.equal(200);
    });
    it('steps 3-4: an authorize hook can refuse the request', async () => {
      setup({ authorize: (req, aor) => (aor === AOR ? makeResponse(req, 401, { headers: { 'WWW-Authenticate': 'Digest realm="example.com", nonce="x"' } }) : undefined) });
      const res = await registrar.handle(register(), LAN_SOURCE);
      expect(res.status).to.equal(401);
      expect(await store.lookup(AOR)).to.deep.equal([]);
    });
    it('answers 405 to a method other than REGISTER', async () => {
      const m = parse('OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: o\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n') as SipRequest;
      const res = await registrar.handle(m, LAN_SOURCE);
      expect(res.status).to.equal(405);
      expect(res.get('allow')).to.equal('REGISTER');
    });
  });

  describe('NAT: a binding of a client behind NAT records where its packets came from', () => {
    it('marks the binding NATed and keeps the source as received (Kamailio fix_nated_register)', async () => {
      const res = await registrar.handle(register(), NAT_SOURCE);
      expect(res.getAll('contact')).to.deep.equal(['<sip:alice@192.168.1.10:5060>;expires=3600']);
      const [b] = await store.lookup(AOR);
      expect(b).to.deep.include({
        contact: 'sip:alice@192.168.1.10:5060',
        natted: true,
        received: 'sip:203.0.113.7:40123',
        keepalive: 'options',
        source: { address: '203.0.113.7', port: 40123, transport: 'udp' },
      });
    });
    it('a client on the registrar\'s own LAN (Contact private but equal to the source) is not NATed', async () => {
      await registrar.handle(register(), LAN_SOURCE);
      const [b] = await store.lookup(AOR);
      expect(b!.natted).to.equal(false);
      expect(b).to.not.have.property('received');
      expect(b).to.not.have.property('keepalive');
    });
    it('uses the verdict it is given instead of running its own detector', async () => {
      const verdict: NatVerdict = { natted: true, fired: [], results: [], publicAddress: { address: '192.168.1.10', port: 5060, transport: 'udp' } };
      await registrar.handle(register(), LAN_SOURCE, verdict);
      expect((await store.lookup(AOR))[0]).to.deep.include({ natted: true, received: 'sip:192.168.1.10:5060' });
    });
    it('a NATed client registering with RFC 5626 outbound (+sip.instance and reg-id) is kept alive by CRLF, others by OPTIONS', async () => {
      await registrar.handle(register({ contact: '<sip:alice@192.168.1.10:5060;ob>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1' }), NAT_SOURCE);
      expect((await store.lookup(AOR))[0]).to.deep.include({ natted: true, keepalive: 'crlf', regId: 1 });
    });
    it('with detector: false and natKeepalive: crlf, NAT comes only from a verdict, kept alive by CRLF', async () => {
      setup({ detector: false, natKeepalive: 'crlf' });
      await registrar.handle(register(), NAT_SOURCE);
      expect((await store.lookup(AOR))[0]!.natted).to.equal(false);
      const verdict: NatVerdict = { natted: true, fired: [], results: [], publicAddress: { address: '203.0.113.7', port: 40123, transport: 'udp' } };
      await registrar.handle(register({ cseq: 1827 }), NAT_SOURCE, verdict);
      expect((await store.lookup(AOR))[0]).to.deep.include({ natted: true, keepalive: 'crlf' });
    });
  });
});
