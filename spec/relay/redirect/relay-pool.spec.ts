import { expect } from 'chai';
import { RelayError, RelayPool } from '../../../lib/index.js';
import type { RelaySessionEnded, RelaySessionKey } from '../../../lib/index.js';
import { UdpPeer, eventually, makeSdp } from '../helpers.js';
import { FAST_TIMERS, type TestRelay, startRelay } from './world.js';

const SDP = makeSdp('127.0.0.1', [{ port: 50000 }]);
const ANSWER = makeSdp('127.0.0.1', [{ port: 50002 }]);

function key(n: number): RelaySessionKey {
  return { callId: `pool-call-${n}@test`, fromTag: `tag-${n}` };
}

/** Random numbers from a list, in order, then 0 forever. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++] ?? 0;
}

function member(relay: TestRelay | string, weight: number, extra: Record<string, unknown> = {}) {
  return {
    relay: typeof relay === 'string' ? relay : relay.server.uri,
    weight,
    localAddress: '127.0.0.1',
    requestTimeoutMs: 250,
    checkIntervalMs: 0,
    maxFailures: 2,
    timers: FAST_TIMERS,
    ...extra,
  };
}

/** Resolves with the settled value or error of a promise, failing the test if it takes longer than `ms`. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} hung for more than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

describe('relay-by-redirect: a pool of relay servers (RelayPool)', function () {
  this.timeout(15000);
  let a: TestRelay;
  let b: TestRelay;
  let pool: RelayPool | undefined;

  beforeEach(async () => {
    a = await startRelay({}, 60);
    b = await startRelay({}, 60);
    pool = undefined;
  });

  afterEach(async () => {
    await pool?.close();
    await a.server.close();
    await b.server.close();
  });

  it('spreads new calls by weight and keeps every exchange of a call on the relay that holds it', async () => {
    // weights 3:1; draws of 0.1 and 0.5 land on a (below 3/4), 0.9 and 0.8 on b
    pool = await RelayPool.start({ relays: [member(a, 3), member(b, 1)], random: sequence(0.1, 0, 0.9, 0, 0.5, 0, 0.8, 0) });
    for (let n = 1; n <= 4; n++) await pool.offer(key(n), SDP, { natted: false });
    expect(a.server.resources().map((r) => r.callId).sort()).to.deep.equal([key(1).callId, key(3).callId]);
    expect(b.server.resources().map((r) => r.callId).sort()).to.deep.equal([key(2).callId, key(4).callId]);
    for (let n = 1; n <= 4; n++) await pool.answer({ ...key(n), toTag: 'callee' }, ANSWER, { natted: false });
    // a re-offer from the callee side of call 2 goes to b, where call 2 lives
    await pool.offer({ callId: key(2).callId, fromTag: 'callee', toTag: key(2).fromTag }, ANSWER, { natted: false });
    expect(a.server.resources().every((r) => r.state === 'answered')).to.equal(true);
    expect(b.server.resources()).to.have.length(2);
    expect(pool.memberOf(key(2))!.allocator.relayUri).to.equal(b.server.uri);
    expect(pool.status().map((s) => [s.weight, s.sessions, s.state])).to.deep.equal([
      [3, 2, 'up'],
      [1, 2, 'up'],
    ]);
    for (let n = 1; n <= 4; n++) expect(await pool.release(key(n))).to.equal(true);
    expect(a.server.resources().length + b.server.resources().length).to.equal(0);
  });

  it('one relay killed mid-test: new calls go to the other, its calls end with relay-down, nothing hangs', async () => {
    pool = await RelayPool.start({ relays: [member(a, 1), member(b, 1)], random: sequence(0.1, 0, 0.9, 0, 0.1, 0, 0.9, 0) });
    const ended: RelaySessionEnded[] = [];
    pool.onSessionEnded((e) => ended.push(e));
    for (let n = 1; n <= 4; n++) await pool.offer(key(n), SDP, { natted: false });
    expect(a.server.resources()).to.have.length(2);

    await a.server.close(); // the relay dies: its socket is gone, nobody answers there any more

    // six new calls at once: every one is allocated (on b) and none takes longer than two request timeouts
    const started = Date.now();
    const results = await within(
      2000,
      Promise.allSettled([5, 6, 7, 8, 9, 10].map((n) => pool!.offer(key(n), SDP, { natted: false }))),
      'allocations after the kill',
    );
    expect(results.map((r) => r.status)).to.deep.equal(Array(6).fill('fulfilled'));
    expect(Date.now() - started).to.be.below(1000);
    expect(b.server.resources()).to.have.length(2 + 6);
    expect(pool.status()[0]!.state).to.equal('down');

    // the calls on the dead relay end once it is gone (its failures reach maxFailures)
    await within(3000, pool.check(), 'a health check');
    await eventually(() => ended.length === 2, 3000, 'relay-down for the calls on the dead relay');
    expect(ended.map((e) => e.reason)).to.deep.equal(['relay-down', 'relay-down']);
    expect(ended.map((e) => e.key.callId).sort()).to.deep.equal([key(1).callId, key(3).callId]);

    // the calls on b carry on; the dead relay's calls are unknown now, and every call settles
    const answers = await within(
      2000,
      Promise.allSettled([1, 2].map((n) => pool!.answer({ ...key(n), toTag: 'x' }, ANSWER, { natted: false }))),
      'answers',
    );
    expect(answers[0]!.status).to.equal('rejected');
    expect(((answers[0] as PromiseRejectedResult).reason as RelayError).status).to.equal(481);
    expect(answers[1]!.status).to.equal('fulfilled');
    for (let n = 1; n <= 10; n++) await within(1000, pool.release(key(n)), 'release');
    expect(b.server.resources()).to.deep.equal([]);

    // a new call after the relay is known dead goes straight to b
    const t0 = Date.now();
    await pool.offer(key(11), SDP, { natted: false });
    expect(Date.now() - t0).to.be.below(200);
    expect(pool.memberOf(key(11))!.allocator.relayUri).to.equal(b.server.uri);
  });

  it('a backup (weight 0) takes new calls only when no weighted relay answers', async () => {
    pool = await RelayPool.start({ relays: [member(b, 0), member(a, 1)] });
    await pool.offer(key(1), SDP, { natted: false });
    expect(a.server.resources()).to.have.length(1);
    expect(b.server.resources()).to.have.length(0);
    await a.server.close();
    await within(1500, pool.offer(key(2), SDP, { natted: false }), 'failover to the backup');
    expect(b.server.resources()).to.have.length(1);
  });

  it('a relay out of ports (503) hands the call to the next; an SDP it cannot relay (488) is final', async () => {
    const small = await startRelay({}, 4);
    try {
      pool = await RelayPool.start({ relays: [member(small, 1), member(b, 1)], random: sequence(0.1, 0, 0.1, 0, 0.1, 0) });
      await pool.offer(key(1), SDP, { natted: false });
      await pool.offer(key(2), SDP, { natted: false });
      expect(small.server.resources()).to.have.length(1);
      expect(b.server.resources()).to.have.length(1);
      try {
        await pool.offer(key(3), Buffer.from('garbage'), { natted: false });
        expect.fail('expected a 488');
      } catch (err) {
        expect((err as RelayError).status).to.equal(488);
      }
      // b never saw the bad SDP
      expect(b.events.filter((e) => e.type === 'refused')).to.deep.equal([]);
    } finally {
      await pool?.close();
      pool = undefined;
      await small.server.close();
    }
  });

  it('no relay answers: the allocation fails with 503 within the allocation timeout', async () => {
    const silent1 = await UdpPeer.bind('127.0.0.1');
    const silent2 = await UdpPeer.bind('127.0.0.1');
    try {
      pool = await RelayPool.start({
        relays: [member(`sip:relay@127.0.0.1:${silent1.port}`, 1), member(`sip:relay@127.0.0.1:${silent2.port}`, 1)],
        allocationTimeoutMs: 400,
      });
      const started = Date.now();
      try {
        await within(1500, pool.offer(key(1), SDP, { natted: false }), 'allocation with dead relays');
        expect.fail('expected a RelayError');
      } catch (err) {
        expect(err).to.be.instanceOf(RelayError);
        expect((err as RelayError).status).to.equal(503);
        expect((err as RelayError).code).to.equal('ERR_RELAY_TIMEOUT');
      }
      expect(Date.now() - started).to.be.below(700);
      expect(pool.status().map((s) => s.state)).to.deep.equal(['down', 'down']);
    } finally {
      await pool?.close();
      pool = undefined;
      silent1.close();
      silent2.close();
    }
  });
});
