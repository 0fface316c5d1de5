import { expect } from 'chai';
import { ClosedError, LocationFullError, RedisClient, RedisError, RedisLocationStore } from '../../lib/index.js';
import type { Binding } from '../../lib/index.js';
import { RespParser, encodeCommand } from '../../lib/proxy/redis/resp.js';
import { createRedisLocationStore, redisStoreOptions } from '../../lib/bin/location-redis.js';
import { RedisServer, freeTcpPort, redisServerBinary } from '../support/redis-server.js';

const AOR = 'sip:alice@example.com';

function binding(contact: string, seconds: number, extra: Partial<Binding> = {}): Binding {
  return {
    aor: AOR,
    contact,
    expiresAt: Date.now() + seconds * 1000,
    callId: 'c1',
    cseq: 1,
    source: { address: '203.0.113.7', port: 40123, transport: 'udp' },
    natted: false,
    ...extra,
  };
}

describe('proxy/redis RESP codec', () => {
  it('encodes commands as arrays of bulk strings, counting UTF-8 bytes', () => {
    expect(encodeCommand(['SET', 'k', 'é', 5]).toString()).to.equal('*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n$1\r\n5\r\n');
  });
  it('parses every RESP2 reply type, split across chunks at any byte', () => {
    const wire = Buffer.from('+OK\r\n-ERR bad\r\n:42\r\n$5\r\nhe\r\nl\r\n$-1\r\n*3\r\n:1\r\n*1\r\n$0\r\n\r\n*-1\r\n*0\r\n');
    for (let cut = 1; cut < wire.length; cut++) {
      const parser = new RespParser();
      const out = [...parser.push(wire.subarray(0, cut)), ...parser.push(wire.subarray(cut))];
      expect(out.length, `cut at ${cut}`).to.equal(7);
      expect(out[0]).to.equal('OK');
      expect(out[1]).to.be.instanceOf(RedisError).and.include({ code: 'ERR_REDIS_REPLY', message: 'ERR bad' });
      expect(out.slice(2)).to.deep.equal([42, 'he\r\nl', null, [1, [''], null], []]);
    }
    expect(() => new RespParser().push(Buffer.from('?x\r\n'))).to.throw(RedisError, /unexpected RESP type/);
  });
});

describe('proxy/redis `--location redis://...`', () => {
  it('reads host, port, password, database and store parameters from the URL', () => {
    expect(redisStoreOptions('redis://:s3cret@10.0.0.5:6380/2?prefix=a:&owner=p1&own-bindings-only=1&max-per-aor=5&max-total=99')).to.deep.equal({
      redis: { host: '10.0.0.5', port: 6380, password: 's3cret', db: 2 },
      prefix: 'a:',
      owner: 'p1',
      ownBindingsOnly: true,
      maxPerAor: 5,
      maxTotal: 99,
    });
    expect(redisStoreOptions('redis://[::1]')).to.deep.equal({ redis: { host: '::1', port: 6379 } });
    for (const bad of ['redis://h/x', 'rediss://h', 'redis://h?nope=1', 'redis://h?max-total=0']) expect(() => redisStoreOptions(bad), bad).to.throw(/--location|Redis/);
  });
  it('refuses to start when Redis does not answer (ERR_REDIS_CONNECTION)', async function () {
    this.timeout(5000);
    const err = await createRedisLocationStore(`redis://127.0.0.1:${await freeTcpPort()}`).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RedisError).and.include({ code: 'ERR_REDIS_CONNECTION' });
  });
});

describe('proxy/redis-location-store against a real redis-server', function () {
  this.timeout(20000);
  let server: RedisServer;
  let store: RedisLocationStore;
  let prefix: string;

  before(async function () {
    const binary = redisServerBinary();
    if (binary === undefined) {
      console.log('    redis-server not installed (run .ci/install-deps.sh): skipping');
      this.skip();
    }
    server = await RedisServer.start(binary);
  });
  after(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    prefix = `t${Math.random().toString(36).slice(2, 8)}:`;
    store = await RedisLocationStore.connect({ url: server.url, prefix, maxPerAor: 3, maxTotal: 5 });
  });
  afterEach(async () => {
    await store?.close();
  });

  describe('client', () => {
    it('pipelines: many commands in flight at once get their own replies, in order', async () => {
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => store.client.call('ECHO', `m${i}`)));
      expect(replies).to.deep.equal(Array.from({ length: 200 }, (_, i) => `m${i}`));
      const err = await store.client.call('NOSUCHCOMMAND').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RedisError).and.include({ code: 'ERR_REDIS_REPLY' });
    });

    it('fails with ERR_REDIS_CONNECTION when nothing listens, within its timeout', async () => {
      const client = new RedisClient({ port: await freeTcpPort(), commandTimeout: 300 });
      const started = Date.now();
      const err = await client.call('PING').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RedisError).and.include({ code: 'ERR_REDIS_CONNECTION' });
      expect(Date.now() - started).to.be.below(1500);
      await client.close();
      expect(await client.call('PING').catch((e: unknown) => e)).to.be.instanceOf(ClosedError);
    });

    it('reconnects after Redis restarts; commands in flight at the crash fail cleanly', async () => {
      const own = await RedisServer.start(redisServerBinary()!);
      const client = new RedisClient({ port: own.port, commandTimeout: 3000 });
      try {
        expect(await client.call('SET', 'k', 'v')).to.equal('OK');
        const blocked = client.call('BLPOP', 'nothing', '10').catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 50));
        await own.kill();
        expect(await blocked).to.be.instanceOf(RedisError).and.include({ code: 'ERR_REDIS_CONNECTION' });
        const again = await RedisServer.start(redisServerBinary()!, own.port);
        try {
          expect(await client.call('PING')).to.equal('PONG');
          expect(client.connected).to.equal(true);
        } finally {
          await again.stop();
        }
      } finally {
        await client.close();
        await own.stop();
      }
    });
  });

  describe('store', () => {
    it('saves and looks up bindings of an AOR, highest q first, as plain copies', async () => {
      await store.save(binding('sip:alice@192.0.2.1', 60, { q: 0.5, params: { 'reg-id': '1' }, natted: true, received: 'sip:203.0.113.7:40123' }));
      await store.save(binding('sip:alice@192.0.2.2', 60, { q: 1 }));
      const list = await store.lookup(AOR);
      expect(list.map((b) => b.contact)).to.deep.equal(['sip:alice@192.0.2.2', 'sip:alice@192.0.2.1']);
      expect(list[1]).to.deep.include({ natted: true, received: 'sip:203.0.113.7:40123', params: { 'reg-id': '1' }, source: { address: '203.0.113.7', port: 40123, transport: 'udp' } });
      expect(await store.lookup('sip:bob@example.com')).to.deep.equal([]);
    });

    it('replaces the binding of the same contact, compared by the RFC 3261 §19.1.4 URI rules', async () => {
      await store.save(binding('sip:alice@192.0.2.1:5060;transport=udp', 60));
      await store.save(binding('sip:alice@192.0.2.1:5060;transport=UDP', 120, { cseq: 2 }));
      const list = await store.lookup(AOR);
      expect(list).to.have.length(1);
      expect(list[0]!.cseq).to.equal(2);
      expect(await store.client.call('ZCARD', `${prefix}bindings`)).to.equal(1);
    });

    it('gives each binding key a TTL equal to its expiry, and Redis forgets it on time', async () => {
      await store.save(binding('sip:alice@192.0.2.1', 0.4));
      await store.save(binding('sip:alice@192.0.2.2', 60));
      const keys = (await store.client.call('KEYS', `${prefix}binding:*`)) as string[];
      const ttls = (await Promise.all(keys.map((k) => store.client.call('PTTL', k)))) as number[];
      expect(ttls.sort((a, b) => a - b)[0]).to.be.within(200, 400);
      expect(ttls[1]).to.be.within(59000, 60000);
      expect(await store.client.call('PTTL', `${prefix}aor:${AOR}`)).to.be.within(59000, 60000);
      await new Promise((r) => setTimeout(r, 500));
      expect((await store.lookup(AOR)).map((b) => b.contact)).to.deep.equal(['sip:alice@192.0.2.2']);
      expect((await store.all()).map((b) => b.contact)).to.deep.equal(['sip:alice@192.0.2.2']);
      expect(await store.client.call('KEYS', `${prefix}binding:*`)).to.have.length(1);
    });

    it('an AOR whose last binding expires leaves nothing behind', async () => {
      await store.save(binding('sip:alice@192.0.2.1', 0.3));
      await new Promise((r) => setTimeout(r, 400));
      expect(await store.client.call('EXISTS', `${prefix}aor:${AOR}`, `${prefix}aorver:${AOR}`)).to.equal(0);
      expect(await store.lookup(AOR)).to.deep.equal([]);
    });

    it('removes one binding or all of an AOR', async () => {
      await store.save(binding('sip:alice@192.0.2.1', 60));
      await store.save(binding('sip:alice@192.0.2.2', 60));
      expect(await store.remove(AOR, 'sip:alice@192.0.2.1')).to.equal(true);
      expect(await store.remove(AOR, 'sip:alice@192.0.2.1')).to.equal(false);
      expect(await store.removeAll(AOR)).to.equal(1);
      expect(await store.all()).to.deep.equal([]);
      expect(await store.client.call('KEYS', `${prefix}*`)).to.satisfy((k: string[]) => k.every((x) => x === `${prefix}seq`));
    });

    it('caps bindings per AOR and in total with LocationFullError', async () => {
      for (let i = 1; i <= 3; i++) await store.save(binding(`sip:alice@192.0.2.${i}`, 60));
      const full = await store.save(binding('sip:alice@192.0.2.4', 60)).catch((e: unknown) => e);
      expect(full).to.be.instanceOf(LocationFullError).and.include({ code: 'ERR_SIP_LOCATION_FULL', limit: 'per-aor' });
      // refreshing a binding it holds is not a new one
      await store.save(binding('sip:alice@192.0.2.3', 90, { cseq: 2 }));
      await store.save(binding('sip:bob@192.0.2.5', 60, { aor: 'sip:bob@example.com' }));
      await store.save(binding('sip:bob@192.0.2.6', 60, { aor: 'sip:bob@example.com' }));
      const total = await store.save(binding('sip:carol@192.0.2.7', 60, { aor: 'sip:carol@example.com' })).catch((e: unknown) => e);
      expect(total).to.be.instanceOf(LocationFullError).and.include({ limit: 'total' });
    });

    it('updates an AOR atomically: two stores (two proxies) racing for its last places never exceed the cap', async () => {
      const other = await RedisLocationStore.connect({ url: server.url, prefix, maxPerAor: 3, maxTotal: 100 });
      try {
        const attempts = [store, other].flatMap((s, n) => [1, 2, 3, 4].map((i) => s.save(binding(`sip:alice@192.0.2.${n * 10 + i}`, 60)).then(() => 'saved', (e: unknown) => e)));
        const results = await Promise.all(attempts);
        expect(results.filter((r) => r === 'saved')).to.have.length(3);
        expect(results.filter((r) => r instanceof LocationFullError)).to.have.length(5);
        expect(await store.lookup(AOR)).to.have.length(3);
        // the same contact saved concurrently from both is one binding
        await store.removeAll(AOR);
        await Promise.all([store.save(binding('sip:alice@192.0.2.1', 60, { cseq: 5 })), other.save(binding('sip:alice@192.0.2.1', 60, { cseq: 6 }))]);
        const list = await other.lookup(AOR);
        expect(list).to.have.length(1);
      } finally {
        await other.close();
      }
    });

    it('all() can be limited to the bindings this owner saved (for the NAT keepalive of each proxy)', async () => {
      const other = await RedisLocationStore.connect({ url: server.url, prefix, owner: 'proxy-2', ownBindingsOnly: true });
      try {
        await store.save(binding('sip:alice@192.0.2.1', 60));
        await other.save(binding('sip:bob@192.0.2.2', 60, { aor: 'sip:bob@example.com' }));
        expect((await store.all()).map((b) => b.aor).sort()).to.deep.equal([AOR, 'sip:bob@example.com']);
        expect((await other.all()).map((b) => b.aor)).to.deep.equal(['sip:bob@example.com']);
        expect((await other.lookup(AOR)).length).to.equal(1);
      } finally {
        await other.close();
      }
    });

    it('rejects calls after close() with ClosedError', async () => {
      await store.close();
      expect(await store.lookup(AOR).catch((e: unknown) => e)).to.be.instanceOf(ClosedError);
    });
  });
});
