import { expect } from 'chai';
import { ClosedError, LocationFullError, MemoryLocationStore, canonicalAor, receivedUri, sameBinding } from '../../lib/index.js';
import type { Binding } from '../../lib/index.js';
import { FakeTimerClock } from '../nat/fake-timer-clock.js';

function binding(clock: FakeTimerClock, contact: string, seconds: number, extra: Partial<Binding> = {}): Binding {
  return {
    aor: 'sip:alice@example.com',
    contact,
    expiresAt: clock.now() + seconds * 1000,
    callId: 'c1',
    cseq: 1,
    source: { address: '203.0.113.7', port: 40123, transport: 'udp' },
    natted: false,
    ...extra,
  };
}

describe('proxy/location-store', () => {
  let clock: FakeTimerClock;
  let store: MemoryLocationStore;
  beforeEach(() => {
    clock = new FakeTimerClock();
    store = new MemoryLocationStore({ clock, sweepInterval: 10000, maxPerAor: 3, maxTotal: 5 });
  });
  afterEach(() => store.close());

  it('saves and looks up bindings of an AOR, highest q first', async () => {
    await store.save(binding(clock, 'sip:alice@192.0.2.1', 60, { q: 0.5 }));
    await store.save(binding(clock, 'sip:alice@192.0.2.2', 60, { q: 1 }));
    expect((await store.lookup('sip:alice@example.com')).map((b) => b.contact)).to.deep.equal(['sip:alice@192.0.2.2', 'sip:alice@192.0.2.1']);
    expect(await store.lookup('sip:bob@example.com')).to.deep.equal([]);
  });
  it('replaces the binding of the same contact, compared by the RFC 3261 §19.1.4 URI rules', async () => {
    await store.save(binding(clock, 'sip:alice@192.0.2.1:5060;transport=udp', 60));
    await store.save(binding(clock, 'sip:alice@192.0.2.1:5060;transport=UDP', 120, { cseq: 2 }));
    const list = await store.lookup('sip:alice@example.com');
    expect(list).to.have.length(1);
    expect(list[0]!.cseq).to.equal(2);
    expect(store.size).to.equal(1);
  });
  it('matches RFC 5626 bindings by +sip.instance and reg-id when both carry them', () => {
    const a = { contact: 'sip:alice@192.0.2.1', instance: '<urn:uuid:1>', regId: 1 };
    expect(sameBinding(a, { contact: 'sip:alice@192.0.2.9', instance: '<urn:uuid:1>', regId: 1 })).to.equal(true);
    expect(sameBinding(a, { contact: 'sip:alice@192.0.2.1', instance: '<urn:uuid:1>', regId: 2 })).to.equal(false);
    expect(sameBinding(a, { contact: 'sip:alice@192.0.2.1' })).to.equal(true);
  });
  it('never returns an expired binding, and the sweep deletes it', async () => {
    const expired: Binding[] = [];
    await store.close();
    store = new MemoryLocationStore({ clock, sweepInterval: 10000, onExpire: (b) => expired.push(b) });
    await store.save(binding(clock, 'sip:alice@192.0.2.1', 5));
    await store.save(binding(clock, 'sip:alice@192.0.2.2', 60));
    await clock.advance(5000);
    expect((await store.lookup('sip:alice@example.com')).map((b) => b.contact)).to.deep.equal(['sip:alice@192.0.2.2']);
    expect((await store.all()).map((b) => b.contact)).to.deep.equal(['sip:alice@192.0.2.2']);
    expect(store.size).to.equal(2);
    await clock.advance(5000);
    expect(store.size).to.equal(1);
    expect(expired.map((b) => b.contact)).to.deep.equal(['sip:alice@192.0.2.1']);
    await clock.advance(60000);
    expect(store.size).to.equal(0);
  });
  it('removes one binding or all of an AOR', async () => {
    await store.save(binding(clock, 'sip:alice@192.0.2.1', 60));
    await store.save(binding(clock, 'sip:alice@192.0.2.2', 60));
    expect(await store.remove('sip:alice@example.com', 'sip:alice@192.0.2.1')).to.equal(true);
    expect(await store.remove('sip:alice@example.com', 'sip:alice@192.0.2.1')).to.equal(false);
    expect(await store.removeAll('sip:alice@example.com')).to.equal(1);
    expect(store.size).to.equal(0);
  });
  it('caps bindings per AOR and in total with LocationFullError', async () => {
    for (let i = 1; i <= 3; i++) await store.save(binding(clock, `sip:alice@192.0.2.${i}`, 60));
    const full = await store.save(binding(clock, 'sip:alice@192.0.2.4', 60)).catch((e: unknown) => e);
    expect(full).to.be.instanceOf(LocationFullError).and.include({ code: 'ERR_SIP_LOCATION_FULL', limit: 'per-aor' });
    await store.save(binding(clock, 'sip:bob@192.0.2.5', 60, { aor: 'sip:bob@example.com' }));
    await store.save(binding(clock, 'sip:bob@192.0.2.6', 60, { aor: 'sip:bob@example.com' }));
    const total = await store.save(binding(clock, 'sip:carol@192.0.2.7', 60, { aor: 'sip:carol@example.com' })).catch((e: unknown) => e);
    expect(total).to.be.instanceOf(LocationFullError).and.include({ limit: 'total' });
  });
  it('hands out copies: changing a returned binding changes nothing stored', async () => {
    await store.save(binding(clock, 'sip:alice@192.0.2.1', 60));
    const [b] = await store.lookup('sip:alice@example.com');
    b!.source.port = 1;
    expect((await store.lookup('sip:alice@example.com'))[0]!.source.port).to.equal(40123);
  });
  it('close() clears the sweep timer and later calls reject with ClosedError', async () => {
    expect(clock.pending).to.equal(1);
    await store.close();
    expect(clock.pending).to.equal(0);
    const e = await store.lookup('sip:alice@example.com').catch((err: unknown) => err);
    expect(e).to.be.instanceOf(ClosedError);
  });
  it('canonicalAor drops URI parameters, password and port and unescapes (RFC 3261 §10.3 step 5)', () => {
    expect(canonicalAor('sip:%61lice:pw@Example.COM:5060;user=phone;transport=udp')).to.equal('sip:alice@example.com');
    expect(canonicalAor('sips:bob@example.com')).to.equal('sips:bob@example.com');
    expect(canonicalAor('sip:example.com')).to.equal('sip:example.com');
    expect(receivedUri({ address: '2001:db8::1', port: 5070, transport: 'tcp' })).to.equal('sip:[2001:db8::1]:5070;transport=tcp');
    expect(receivedUri({ address: '203.0.113.7', port: 40123, transport: 'udp' })).to.equal('sip:203.0.113.7:40123');
  });
});
