import { expect } from 'chai';
import { type Socket, createSocket } from 'node:dgram';
import { type BoundPort, PortPool } from '../../lib/relay/local/index.js';
import { randomPortRange } from './helpers.js';

function bindForeign(port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve(socket));
  });
}

describe('relay/local/port-pool', () => {
  let pool: PortPool;
  const held: BoundPort[] = [];
  const foreign: Socket[] = [];

  afterEach(() => {
    for (const bound of held.splice(0)) pool.release(bound);
    for (const socket of foreign.splice(0)) socket.close();
  });

  it('binds an even RTP port and RTP + 1 for RTCP (RFC 3550 §11)', async () => {
    const { portMin, portMax } = randomPortRange(8);
    pool = new PortPool({ address: '127.0.0.1', min: portMin, max: portMax });
    const [rtp, rtcp] = await pool.allocatePair();
    held.push(rtp, rtcp);
    expect(rtp.port % 2).to.equal(0);
    expect(rtcp.port).to.equal(rtp.port + 1);
    expect(rtp.socket.address()).to.include({ address: '127.0.0.1', port: rtp.port });
    expect(pool.inUse).to.equal(2);
  });

  it('skips ports another program holds (EADDRINUSE)', async () => {
    const { portMin, portMax } = randomPortRange(6);
    pool = new PortPool({ address: '127.0.0.1', min: portMin, max: portMax });
    foreign.push(await bindForeign(portMin + 1), await bindForeign(portMin + 2));
    const [rtp, rtcp] = await pool.allocatePair();
    held.push(rtp, rtcp);
    expect(rtp.port).to.equal(portMin + 4);
    expect(pool.inUse).to.equal(2);
  });

  it('reports exhaustion as ERR_RELAY_NO_PORTS (503) and serves again after a release', async () => {
    const { portMin, portMax } = randomPortRange(4);
    pool = new PortPool({ address: '127.0.0.1', min: portMin, max: portMax });
    held.push(...(await pool.allocatePair()), ...(await pool.allocatePair()));
    const error = await pool.allocatePair().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.include({ code: 'ERR_RELAY_NO_PORTS', status: 503 });
    expect(pool.inUse).to.equal(4);
    const [rtp, rtcp] = held.splice(0, 2);
    pool.release(rtp!);
    pool.release(rtcp!);
    pool.release(rtcp!);
    expect(pool.inUse).to.equal(2);
    held.push(...(await pool.allocatePair()));
    expect(pool.inUse).to.equal(4);
  });

  it('never hands the same port to concurrent allocations', async () => {
    const { portMin, portMax } = randomPortRange(10);
    pool = new PortPool({ address: '127.0.0.1', min: portMin, max: portMax });
    const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map(() => pool.allocatePair()));
    const pairs = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const pair of pairs) held.push(...pair);
    const ports = pairs.flat().map((b) => b.port);
    expect(pairs).to.have.length(5);
    expect(new Set(ports).size).to.equal(10);
    expect(results.filter((r) => r.status === 'rejected')).to.have.length(1);
  });

  it('binds a single port, the preferred one when free', async () => {
    const { portMin, portMax } = randomPortRange(6);
    pool = new PortPool({ address: '127.0.0.1', min: portMin, max: portMax });
    const single = await pool.allocateSingle(portMin + 3);
    held.push(single);
    expect(single.port).to.equal(portMin + 3);
    const other = await pool.allocateSingle(portMin + 3);
    held.push(other);
    expect(other.port).not.to.equal(portMin + 3);
  });

  it('releases a port so that its socket is closed and the port can be bound by anyone', async () => {
    const { portMin, portMax } = randomPortRange(2);
    pool = new PortPool({ address: '127.0.0.1', min: portMin, max: portMax });
    const [rtp, rtcp] = await pool.allocatePair();
    pool.release(rtp);
    pool.release(rtcp);
    expect(pool.inUse).to.equal(0);
    foreign.push(await bindForeign(rtp.port));
  });

  it('rejects a bad range or address with ERR_SIP_INVALID_ARG', () => {
    expect(() => new PortPool({ address: '127.0.0.1', min: 5000, max: 4000 })).to.throw().with.property('code', 'ERR_SIP_INVALID_ARG');
    expect(() => new PortPool({ address: 'localhost', min: 4000, max: 5000 })).to.throw().with.property('code', 'ERR_SIP_INVALID_ARG');
  });

  it('reports an address that is not local as ERR_RELAY_BIND', async () => {
    const { portMin, portMax } = randomPortRange(2);
    pool = new PortPool({ address: '192.0.2.77', min: portMin, max: portMax });
    const error = await pool.allocatePair().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.include({ code: 'ERR_RELAY_BIND', status: 503 });
    expect(pool.inUse).to.equal(0);
  });
});
