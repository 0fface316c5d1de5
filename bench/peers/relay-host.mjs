// natter's local relay (LocalRelayAllocator) in a process of its own, for bench/media-pps.ts and
// bench/memory.ts: the parent sends { id, op, ... } over IPC and gets { id, result | error }.
//   node bench/peers/relay-host.mjs DIST_DIR PORT_MIN PORT_MAX
//   ops: allocate { streams: [{ callId, offer, answer }] } -> [{ forCaller, forCallee }] (SDPs, latin1)
//        release { callIds }, memory (gc first when --expose-gc), stats
const [dist, min, max] = process.argv.slice(2);
const { LocalRelayAllocator } = await import(`${dist}/index.js`);
const relay = new LocalRelayAllocator({ mediaAddress: '127.0.0.1', portMin: Number(min), portMax: Number(max), mediaTimeoutMs: 0, offerTimeoutMs: 0 });

const ops = {
  async allocate({ streams }) {
    const out = [];
    for (const s of streams) {
      const key = { callId: s.callId, fromTag: 'a' };
      const forCallee = await relay.offer(key, Buffer.from(s.offer, 'latin1'), { from: 'caller', natted: false });
      const forCaller = await relay.answer({ ...key, toTag: 'b' }, Buffer.from(s.answer, 'latin1'), { from: 'callee', natted: false });
      out.push({ forCaller: forCaller.toString('latin1'), forCallee: forCallee.toString('latin1') });
    }
    return out;
  },
  async release({ callIds }) {
    for (const callId of callIds) await relay.release({ callId, fromTag: 'a' });
    return callIds.length;
  },
  async memory() {
    if (global.gc) {
      global.gc();
      global.gc();
    }
    return process.memoryUsage();
  },
  async stats() {
    const s = relay.stats();
    return { sessionCount: s.sessionCount, portsInUse: s.portsInUse };
  },
};

process.on('message', async (m) => {
  try {
    process.send({ id: m.id, result: await ops[m.op](m) });
  } catch (e) {
    process.send({ id: m.id, error: String(e?.stack ?? e) });
  }
});
process.on('disconnect', () => relay.close().then(() => process.exit(0)));
process.on('SIGTERM', () => relay.close().then(() => process.exit(0)));
process.send({ ready: true });
