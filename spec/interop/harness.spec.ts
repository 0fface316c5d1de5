/**
 * Self-test of the interop harness: sipp against sipp over loopback for every scenario in
 * spec/interop/scenarios, and a real NAT made of network namespaces. natter itself is not
 * involved here; the natter interop specs build on these helpers.
 */
import { expect } from 'chai';
import {
  describeSipp,
  freeUdpPort,
  killAllSipp,
  pcapDir,
  runPair,
  sippAvailable,
  startSipp,
  type SippOptions,
  type SippResult,
} from '../support/sipp.js';
import {
  buildNatTopology,
  canMakeNamespaces,
  startUdpCapture,
  tsharkAvailable,
  type CapturedUdp,
  type NatTopology,
} from '../support/netns.js';

const LO = '127.0.0.1';

function expectAllOk(r: SippResult, calls: number, who: string): void {
  const info = `${who}\n${describeSipp(r)}`;
  expect(r.statsFound, info).to.equal(true);
  expect(r.exitCode, info).to.equal(0);
  expect(r.successfulCalls, info).to.equal(calls);
  expect(r.failedCalls, info).to.equal(0);
}

/** UAS options + UAC options for one scenario pair on loopback, both with short deadlines. */
async function pair(
  uas: Partial<SippOptions> & Pick<SippOptions, 'scenario'>,
  uac: Partial<SippOptions> & Pick<SippOptions, 'scenario'>,
  calls: number,
): Promise<{ uas: SippResult; uac: SippResult }> {
  return runPair(
    { localIp: LO, calls, timeoutSec: 10, ...uas },
    { localIp: LO, calls, rate: 20, timeoutSec: 10, ...uac },
  );
}

describe('interop harness: sipp over loopback', function () {
  this.timeout(15_000);

  before(async function () {
    if (!(await sippAvailable())) {
      console.log('    sipp not installed (run .ci/install-deps.sh): skipping');
      this.skip();
    }
  });

  afterEach(() => killAllSipp());

  it('runs the built-in uac against the built-in uas: 10 calls', async () => {
    const { uas, uac } = await pair({ scenario: 'uas' }, { scenario: 'uac', rate: 50 }, 10);
    expectAllOk(uac, 10, 'uac');
    expectAllOk(uas, 10, 'uas');
    expect(uac.counters.OutgoingCall).to.equal(10);
    expect(uas.counters.IncomingCall).to.equal(10);
  });

  it('(1) uac-basic-rport and uac-basic complete calls against uas-basic', async () => {
    const a = await pair({ scenario: 'uas-basic' }, { scenario: 'uac-basic-rport' }, 3);
    expectAllOk(a.uac, 3, 'uac-basic-rport');
    expectAllOk(a.uas, 3, 'uas-basic');
    const b = await pair({ scenario: 'uas-basic', traceMessages: true }, { scenario: 'uac-basic' }, 1);
    expectAllOk(b.uac, 1, 'uac-basic');
    expect(b.uas.messages).to.match(/^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK[^;\s]+\s*$/m);
  });

  it('(2) uas-drop-first-invite answers only the retransmitted INVITE (-nr)', async () => {
    const { uas, uac } = await pair(
      { scenario: 'uas-drop-first-invite', noRetrans: true },
      { scenario: 'uac-basic-rport' },
      2,
    );
    expectAllOk(uas, 2, 'uas-drop-first-invite');
    expectAllOk(uac, 2, 'uac');
    expect(uac.retransmissions, describeSipp(uac)).to.be.at.least(2); // one INVITE retransmission per call
  });

  it('(3) uac-cancel: CANCEL after 180, 200/487, ACK on the INVITE branch (checked by uas-cancel)', async () => {
    const { uas, uac } = await pair({ scenario: 'uas-cancel' }, { scenario: 'uac-cancel' }, 2);
    expectAllOk(uac, 2, 'uac-cancel');
    expectAllOk(uas, 2, 'uas-cancel');
  });

  it('(4) uas-busy: 486 then an ACK on the INVITE branch', async () => {
    const { uas, uac } = await pair({ scenario: 'uas-busy' }, { scenario: 'uac-busy' }, 2);
    expectAllOk(uac, 2, 'uac-busy');
    expectAllOk(uas, 2, 'uas-busy');
  });

  it('(5) uac-ignore-first-200 ACKs only the retransmitted 200 (-nr)', async () => {
    const { uas, uac } = await pair(
      { scenario: 'uas-basic' },
      { scenario: 'uac-ignore-first-200', noRetrans: true },
      2,
    );
    expectAllOk(uac, 2, 'uac-ignore-first-200');
    expectAllOk(uas, 2, 'uas-basic');
    expect(uas.retransmissions, describeSipp(uas)).to.be.at.least(2); // one 200 retransmission per call
  });

  it('(6) uas-no-retrans sends its 200 once and still gets the ACK', async () => {
    const { uas, uac } = await pair({ scenario: 'uas-no-retrans' }, { scenario: 'uac-basic' }, 2);
    expectAllOk(uac, 2, 'uac-basic');
    expectAllOk(uas, 2, 'uas-no-retrans');
    expect(uas.retransmissions).to.equal(0);
  });

  it('reports a failed call: uac-basic gets 486 from uas-busy', async () => {
    const { uac } = await pair({ scenario: 'uas-busy' }, { scenario: 'uac-basic' }, 1);
    expect(uac.statsFound, describeSipp(uac)).to.equal(true);
    expect(uac.exitCode, describeSipp(uac)).to.equal(1);
    expect(uac.successfulCalls).to.equal(0);
    expect(uac.failedCalls).to.equal(1);
    expect(uac.counters.FailedUnexpectedMessage).to.equal(1);
  });

  it('uac-rr turns Record-Route into a reversed Route set (checked by peer-uas-rr-check)', async () => {
    const { uas, uac } = await pair({ scenario: 'peer-uas-rr-check' }, { scenario: 'uac-rr' }, 2);
    expectAllOk(uac, 2, 'uac-rr');
    expectAllOk(uas, 2, 'peer-uas-rr-check');
  });

  it('uas-rr echoes Record-Route and routes its BYE in order (checked by peer-uac-rr-check)', async () => {
    const { uas, uac } = await pair({ scenario: 'uas-rr' }, { scenario: 'peer-uac-rr-check' }, 2);
    expectAllOk(uac, 2, 'peer-uac-rr-check');
    expectAllOk(uas, 2, 'uas-rr');
  });

  it('uac-rtp plays g711a.pcap to an -rtp_echo UAS, which echoes it back', async function () {
    if (!pcapDir() || !(await tsharkAvailable())) {
      console.log('      g711a.pcap or tshark missing (run .ci/install-deps.sh): skipping');
      this.skip();
    }
    // -rtp_echo listens on -mp (and -mp+2 for video); the UAC's [auto_media_port] starts at its -mp
    const echoPort = await freeUdpPort(LO);
    const uacMediaPort = await freeUdpPort(LO);
    const capture = await startUdpCapture(null, { iface: 'lo', filter: `udp port ${echoPort}`, maxMs: 10_000 });
    let packets: CapturedUdp[] = [];
    try {
      const { uas, uac } = await pair(
        { scenario: 'uas-basic', mediaIp: LO, mediaPort: echoPort, rtpEcho: true },
        { scenario: 'uac-rtp', mediaIp: LO, mediaPort: uacMediaPort, pauseMs: 1000 },
        1,
      );
      expectAllOk(uac, 1, 'uac-rtp');
      expectAllOk(uas, 1, 'uas -rtp_echo');
    } finally {
      packets = await capture.stop();
    }
    const sent = packets.filter((p) => p.dstPort === echoPort);
    const echoed = packets.filter((p) => p.srcPort === echoPort);
    // g711a.pcap holds 30 ms PCMA packets: about 33 per second each way
    expect(sent.length, JSON.stringify(packets.slice(0, 3))).to.be.within(20, 60);
    expect(echoed.length).to.be.within(20, 60);
    expect(sent.every((p) => p.length === 8 + 12 + 240)).to.equal(true); // UDP + RTP header + 30 ms PCMA
  });
});

describe('interop harness: NAT built from network namespaces', function () {
  this.timeout(20_000);
  let topo: NatTopology | undefined;

  before(async function () {
    const can = await canMakeNamespaces();
    if (!can.ok) {
      console.log(`    cannot build network namespaces: ${can.reason}; skipping`);
      this.skip();
    }
    if (!(await sippAvailable()) || !(await tsharkAvailable())) {
      console.log('    sipp or tshark not installed (run .ci/install-deps.sh): skipping');
      this.skip();
    }
    topo = await buildNatTopology();
  });

  after(async () => {
    killAllSipp();
    await topo?.teardown();
  });

  it('has no route out of the test network', async () => {
    const t = topo!;
    for (const ns of ['core', 'nat1', 'nat2', 'pub2'] as const) {
      // route lookups only: nothing is sent
      const r = await t.run(ns, 'ip', ['route', 'get', '198.51.100.7']).then(
        () => 'routed',
        (e: Error) => e.message,
      );
      expect(r, ns).to.match(/unreachable/i);
    }
    const viaNat = await t.run('lan1', 'ip', ['route', 'get', '198.51.100.7']);
    expect(viaNat.stdout).to.contain(`via ${t.addr.nat1Lan}`); // ...and nat1 has no route further
  });

  it('a sipp UAC in lan1 calls a sipp UAS in pub2 through nat1: the UAS sees 203.0.113.10', async () => {
    const t = topo!;
    const capture = await startUdpCapture(t.ns.pub2, { iface: 'wan', filter: 'udp port 5060', maxMs: 15_000 });
    let uas: SippResult;
    let uac: SippResult;
    let packets: CapturedUdp[] = [];
    try {
      const server = await startSipp({
        scenario: 'uas-basic',
        netns: t.ns.pub2,
        localIp: t.addr.pub2,
        localPort: 5060,
        calls: 3,
        timeoutSec: 10,
        traceMessages: true,
      });
      await server.ready();
      const client = await startSipp({
        scenario: 'uac-basic-rport',
        netns: t.ns.lan1,
        remote: `${t.addr.pub2}:5060`,
        localIp: t.addr.lan1,
        localPort: 5060,
        calls: 3,
        rate: 20,
        timeoutSec: 10,
      });
      uac = await client.done;
      uas = await server.done;
    } finally {
      packets = await capture.stop();
    }
    expectAllOk(uac, 3, 'uac in lan1');
    expectAllOk(uas, 3, 'uas in pub2');

    const inbound = packets.filter((p) => p.dst === t.addr.pub2 && p.dstPort === 5060);
    const outbound = packets.filter((p) => p.src === t.addr.pub2 && p.srcPort === 5060);
    expect(inbound.length, JSON.stringify(packets)).to.be.at.least(9); // INVITE, ACK, BYE x 3
    expect(new Set(inbound.map((p) => p.src))).to.deep.equal(new Set([t.addr.nat1Public]));
    expect(outbound.every((p) => p.dst === t.addr.nat1Public)).to.equal(true);
    expect(packets.some((p) => p.src.startsWith('192.168.') || p.dst.startsWith('192.168.'))).to.equal(false);
    // ...while the SIP inside still names the private address: what natter's NAT detector compares
    expect(uas.messages).to.match(/^Via: SIP\/2\.0\/UDP 192\.168\.50\.2:5060;branch=\S+;rport/m);
    expect(uas.messages).to.match(/^c=IN IP4 192\.168\.50\.2/m);
  });

  it('execIn runs node in core; a datagram from lan2 arrives from nat2 (203.0.113.11)', async () => {
    const t = topo!;
    const listener = t.execIn('core', process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       const stop = setTimeout(() => process.exit(2), 5000);
       s.on('message', (m, r) => { console.log(JSON.stringify({ from: r.address, port: r.port, text: String(m) })); clearTimeout(stop); s.close(); });
       s.bind(5070, '${t.addr.core}', () => console.log('ready'));`,
    ]);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      listener.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('ready')) resolve();
      });
      listener.once('exit', (c) => reject(new Error(`listener exited ${c}`)));
    });
    const sender = t.execIn('lan2', process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       s.send('hello from lan2', 5070, '${t.addr.core}', () => s.close());`,
    ]);
    const [sent] = await Promise.all([
      new Promise<number | null>((r) => sender.once('exit', r)),
      new Promise<void>((r) => listener.once('exit', () => r())),
    ]);
    expect(sent).to.equal(0);
    const line = out.split('\n').find((l) => l.startsWith('{'));
    expect(line, out).to.be.a('string');
    const got = JSON.parse(line!) as { from: string; text: string };
    expect(got).to.include({ from: t.addr.nat2Public, text: 'hello from lan2' });
  });
});
