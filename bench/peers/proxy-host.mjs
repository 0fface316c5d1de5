// natter's SipProxy in a process of its own, for bench/memory.ts: started with --expose-gc, it
// answers { id, op: 'memory' } over IPC with process.memoryUsage() after two full GCs, plus the
// proxy's own counts.
//   node --expose-gc bench/peers/proxy-host.mjs DIST_DIR PORT RTP_MIN RTP_MAX T1_MS
// env: NATTER_RELAY_ALWAYS=0 (relay only NATed calls), NATTER_MAX_TX=N (maxTransactions),
// NATTER_MONITOR=1 (every 2 s on stderr: event-loop delay, memory, transactions; see BENCH_VERBOSE)
const [dist, port, min, max, t1] = process.argv.slice(2);
const { SipProxy } = await import(`${dist}/index.js`);
const proxy = await SipProxy.start({
  listen: { address: '127.0.0.1', port: Number(port) },
  rtpPorts: { min: Number(min), max: Number(max) },
  relayAlways: process.env.NATTER_RELAY_ALWAYS !== '0',
  keepalive: false,
  mediaTimeoutMs: 0,
  timers: { T1: Number(t1) },
  // what-if runs of bench/proxy-cps.ts (BENCH_NATTER_MAX_TX): the transaction limit raised
  ...(process.env.NATTER_MAX_TX ? { maxTransactions: Number(process.env.NATTER_MAX_TX) } : {}),
});

if (process.env.NATTER_MONITOR === '1') {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  setInterval(() => {
    const m = process.memoryUsage();
    const l = proxy.layer;
    process.stderr.write(
      `monitor: loop p50 ${(h.percentile(50) / 1e6).toFixed(1)} ms max ${(h.max / 1e6).toFixed(0)} ms; rss ${(m.rss / 2 ** 20).toFixed(0)} MB heap ${(m.heapUsed / 2 ** 20).toFixed(0)} MB; ` +
        `working ${l.workingCount} lingering ${l.lingeringCount} evicted ${l.counters.evicted} refused ${l.counters.refused} retrans ${l.counters.retransmissions}; calls ${proxy.calls.size}\n`,
    );
    h.reset();
  }, 2000).unref();
}

process.on('message', async (m) => {
  try {
    if (m.op !== 'memory') throw new Error(`unknown op ${m.op}`);
    for (let i = 0; i < 3; i++) {
      global.gc?.();
      await new Promise((r) => setTimeout(r, 50));
    }
    const stats = await proxy.stats();
    const relay = typeof proxy.relay.stats === 'function' ? proxy.relay.stats() : undefined;
    process.send({ id: m.id, result: { memory: process.memoryUsage(), stats, relayPorts: relay?.portsInUse } });
  } catch (e) {
    process.send({ id: m.id, error: String(e?.stack ?? e) });
  }
});
const stop = () => proxy.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('disconnect', stop);
process.send({ ready: true });
