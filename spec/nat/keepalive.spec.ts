import { expect } from 'chai';
import { InvalidArgumentError, MemoryLocationStore, NatKeepalive } from '../../lib/index.js';
import type { Binding } from '../../lib/index.js';
import { FakeTimerClock } from './fake-timer-clock.js';

function binding(clock: FakeTimerClock, n: number, extra: Partial<Binding> = {}): Binding {
  return {
    aor: `sip:user${n}@example.com`,
    contact: `sip:user${n}@192.168.1.${n}:5060`,
    expiresAt: clock.now() + 3600000,
    callId: `call-${n}`,
    cseq: 1,
    source: { address: '203.0.113.7', port: 40000 + n, transport: 'udp' },
    natted: true,
    received: `sip:203.0.113.7:${40000 + n}`,
    keepalive: 'options',
    ...extra,
  };
}

describe('nat/keepalive (Kamailio nathelper natping / sipping)', () => {
  let clock: FakeTimerClock;
  let store: MemoryLocationStore;
  let alive: Set<string>;
  let pinged: string[];
  const send = async (b: Binding): Promise<boolean> => {
    pinged.push(b.contact);
    return alive.has(b.contact);
  };

  beforeEach(() => {
    clock = new FakeTimerClock();
    store = new MemoryLocationStore({ clock, sweepInterval: 3600000 });
    alive = new Set();
    pinged = [];
  });
  afterEach(() => store.close());

  it('pings NATed bindings every interval and removes one after maxFailures consecutive unanswered pings', async () => {
    await store.save(binding(clock, 1));
    await store.save(binding(clock, 2));
    alive.add('sip:user1@192.168.1.1:5060');
    const removed: string[] = [];
    const ka = new NatKeepalive({ store, send, clock, interval: 20000, maxFailures: 3, onRemove: (b) => removed.push(b.contact) });
    ka.start();
    await clock.advance(20000);
    expect(pinged.sort()).to.deep.equal(['sip:user1@192.168.1.1:5060', 'sip:user2@192.168.1.2:5060']);
    expect(ka.failures({ aor: 'sip:user2@example.com', contact: 'sip:user2@192.168.1.2:5060' })).to.equal(1);
    await clock.advance(20000);
    expect(await store.lookup('sip:user2@example.com')).to.have.length(1);
    await clock.advance(20000);
    expect(await store.lookup('sip:user2@example.com')).to.deep.equal([]);
    expect(await store.lookup('sip:user1@example.com')).to.have.length(1);
    expect(removed).to.deep.equal(['sip:user2@192.168.1.2:5060']);
    ka.stop();
  });

  it('an answer resets the count: only consecutive failures remove a binding', async () => {
    await store.save(binding(clock, 1));
    const ka = new NatKeepalive({ store, send, clock, interval: 1000, maxFailures: 2 });
    await ka.ping();
    alive.add('sip:user1@192.168.1.1:5060');
    await ka.ping();
    alive.clear();
    await ka.ping();
    expect(await store.lookup('sip:user1@example.com')).to.have.length(1);
    await ka.ping();
    expect(await store.lookup('sip:user1@example.com')).to.deep.equal([]);
  });

  it('a ping that neither answers nor rejects within the timeout counts as unanswered; a rejection too', async () => {
    await store.save(binding(clock, 1));
    await store.save(binding(clock, 2));
    const ka = new NatKeepalive({
      store,
      clock,
      interval: 10000,
      timeout: 2000,
      maxFailures: 1,
      send: (b) => (b.contact.includes('user1') ? new Promise<boolean>(() => {}) : Promise.reject(new Error('ICMP unreachable'))),
    });
    const round = ka.ping();
    await clock.advance(2000);
    await round;
    expect(await store.all()).to.deep.equal([]);
  });

  it('does not ping bindings that are not NATed, unless pingAll is set', async () => {
    await store.save(binding(clock, 1, { natted: false, keepalive: undefined }));
    await store.save(binding(clock, 2));
    alive.add('sip:user1@192.168.1.1:5060');
    alive.add('sip:user2@192.168.1.2:5060');
    await new NatKeepalive({ store, send, clock }).ping();
    expect(pinged).to.deep.equal(['sip:user2@192.168.1.2:5060']);
    pinged = [];
    await new NatKeepalive({ store, send, clock, pingAll: true }).ping();
    expect(pinged.sort()).to.deep.equal(['sip:user1@192.168.1.1:5060', 'sip:user2@192.168.1.2:5060']);
  });

  it('a binding refreshed by a new REGISTER starts its count again and is not removed for older failures', async () => {
    await store.save(binding(clock, 1));
    const ka = new NatKeepalive({ store, send, clock, maxFailures: 2 });
    await ka.ping();
    await store.save(binding(clock, 1, { cseq: 2 }));
    await ka.ping();
    expect(await store.lookup('sip:user1@example.com')).to.have.length(1);
    await ka.ping();
    expect(await store.lookup('sip:user1@example.com')).to.deep.equal([]);
  });

  it('stop() clears its timer; nothing is pinged afterwards', async () => {
    await store.save(binding(clock, 1));
    const ka = new NatKeepalive({ store, send, clock, interval: 1000 });
    const before = clock.pending;
    ka.start();
    expect(ka.running).to.equal(true);
    expect(clock.pending).to.equal(before + 1);
    ka.stop();
    expect(clock.pending).to.equal(before);
    await clock.advance(5000);
    expect(pinged).to.deep.equal([]);
  });

  it('rejects a non-positive interval or threshold', () => {
    expect(() => new NatKeepalive({ store, send, interval: 0 })).to.throw(InvalidArgumentError);
    expect(() => new NatKeepalive({ store, send, maxFailures: -1 })).to.throw(InvalidArgumentError);
  });
});
