/**
 * A real NAT built from Linux network namespaces, for interop tests.
 *
 *                        core  (203.0.113.1/24 on bridge br0: the "Internet", where the proxy runs)
 *             ┌────────────┼──────────────────┬─────────────────┐
 *   nat1 wan 203.0.113.10       nat2 wan 203.0.113.11      pub2 wan 203.0.113.20 (public client)
 *   nat1 lan 192.168.50.1/24    nat2 lan 192.168.60.1/24
 *        │ MASQUERADE                │ MASQUERADE
 *   lan1 eth0 192.168.50.2      lan2 eth0 192.168.60.2
 *   (default via .50.1)         (default via .60.1)
 *
 * With `relay: true`, one more namespace, `relay`, sits on the bridge at 203.0.113.2: a host for a
 * relay server (natter relay) apart from the proxy's.
 *
 * 203.0.113.0/24 is TEST-NET-3 (RFC 5737, never routed). Nothing here is connected to the root
 * namespace or to a real interface: the veth pairs are created directly inside the namespaces,
 * and the only default routes are lan1/lan2 -> their NAT router, whose own tables only know the
 * two on-link subnets. Every namespace name starts with `nt<runId>-` so concurrent runs do not
 * clash; `teardown()` kills the processes started in them (by PID) and deletes them.
 *
 * Requires root (CAP_NET_ADMIN), iproute2 and iptables (nft or legacy backend both work).
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const NAT_ADDR = {
  core: '203.0.113.1',
  nat1Public: '203.0.113.10',
  nat1Lan: '192.168.50.1',
  lan1: '192.168.50.2',
  nat2Public: '203.0.113.11',
  nat2Lan: '192.168.60.1',
  lan2: '192.168.60.2',
  pub2: '203.0.113.20',
  /** The optional `relay` namespace (NatTopologyOptions.relay). */
  relay: '203.0.113.2',
} as const;

export type NsRole = 'core' | 'nat1' | 'lan1' | 'nat2' | 'lan2' | 'pub2';

export interface NatTopologyOptions {
  /**
   * Short id used in every name. Default: this process's PID in base 36, 'x', 4 random hex
   * digits, so that removeStaleNamespaces() can tell a dead run's namespaces from a live one's.
   */
  runId?: string;
  /** Add `--random-fully` to MASQUERADE so the NAT also rewrites source ports (symmetric-like). */
  randomizePorts?: boolean;
  /** Also build a `relay` namespace on the public bridge at 203.0.113.2 (for a relay server). */
  relay?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface NatTopology {
  readonly runId: string;
  /** Namespace names by role. */
  readonly ns: Readonly<Record<NsRole, string>> & { readonly relay?: string };
  readonly addr: typeof NAT_ADDR;
  /** Spawn `cmd args` inside namespace `ns` (a role or a name); the child is tracked by PID. */
  execIn(ns: NsRole | string, cmd: string, args?: string[], opts?: SpawnOptions): ChildProcess;
  /** Run a command inside `ns` to completion (throws on non-zero exit), bounded by timeoutMs. */
  run(ns: NsRole | string, cmd: string, args?: string[], timeoutMs?: number): Promise<RunResult>;
  /** Kill everything started in the namespaces (by PID) and delete them. Idempotent. */
  teardown(): Promise<void>;
}

/** argv to run `cmd args` in a namespace: ['ip', ['netns', 'exec', ns, cmd, ...args]]. */
export function netnsCommand(ns: string, cmd: string, args: string[] = []): [string, string[]] {
  return ['ip', ['netns', 'exec', ns, cmd, ...args]];
}

async function ip(args: string[]): Promise<void> {
  try {
    await execFileP('ip', args, { timeout: 10_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

async function inNs(ns: string, cmd: string, args: string[], timeoutMs = 10_000): Promise<RunResult> {
  const [c, a] = netnsCommand(ns, cmd, args);
  try {
    const { stdout, stderr } = await execFileP(c, a, { timeout: timeoutMs });
    return { stdout, stderr };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`[${ns}] ${cmd} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

let capability: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;

/**
 * Whether this process can build the topology: root, `ip`, `iptables`, and a namespace that can
 * really be created (containers often forbid it). Cached. `reason` says what is missing.
 */
export function canMakeNamespaces(): Promise<{ ok: true } | { ok: false; reason: string }> {
  capability ??= (async () => {
    if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux' };
    if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root (CAP_NET_ADMIN)' };
    for (const [bin, arg] of [
      ['ip', '-V'],
      ['iptables', '-V'],
    ] as const) {
      try {
        await execFileP(bin, [arg], { timeout: 5000 });
      } catch {
        return { ok: false, reason: `${bin} not found (run .ci/install-deps.sh)` };
      }
    }
    const probe = `nt${randomBytes(3).toString('hex')}-probe`;
    try {
      await ip(['netns', 'add', probe]);
    } catch (e) {
      return { ok: false, reason: `cannot create a network namespace: ${(e as Error).message}` };
    }
    try {
      await inNs(probe, 'iptables', ['-t', 'nat', '-L', '-n']);
    } catch (e) {
      return { ok: false, reason: `iptables nat table unusable in a namespace: ${(e as Error).message}` };
    } finally {
      await ip(['netns', 'del', probe]).catch(() => undefined);
    }
    return { ok: true };
  })();
  return capability;
}

/** PIDs of every process living in namespace `ns` (`ip netns pids`). */
export async function pidsInNamespace(ns: string): Promise<number[]> {
  try {
    const { stdout } = await execFileP('ip', ['netns', 'pids', ns], { timeout: 5000 });
    return stdout
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function killPids(pids: number[]): Promise<void> {
  const targets = pids.filter(alive);
  for (const pid of targets) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + 1500;
  while (targets.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of targets.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Synchronous cleanup for process 'exit' (no async work can run there). */
const exitCleanups = new Map<string, () => void>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const f of exitCleanups.values()) f();
  });
}

const ROLES = 'core|nat1|lan1|nat2|lan2|pub2|relay';
const DEFAULT_NAME = new RegExp(`^nt([0-9a-z]+)x[0-9a-f]{4}-(?:${ROLES})$`);

/**
 * Delete namespaces left by earlier runs of this module whose owning process is gone (a run
 * killed before its teardown). Only names of the default form are considered; processes still
 * inside them are left alone (their sipp/tshark are bounded by their own timeouts).
 * Returns the names deleted.
 */
export async function removeStaleNamespaces(): Promise<string[]> {
  let list = '';
  try {
    ({ stdout: list } = await execFileP('ip', ['netns', 'list'], { timeout: 5000 }));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const line of list.split('\n')) {
    const name = line.trim().split(/\s+/)[0] ?? '';
    const m = DEFAULT_NAME.exec(name);
    if (!m) continue;
    const owner = parseInt(m[1]!, 36);
    if (owner === process.pid || alive(owner)) continue;
    await ip(['netns', 'del', name]).then(
      () => removed.push(name),
      () => undefined,
    );
  }
  return removed;
}

/** Build the topology drawn at the top of this file. Cleans up after itself if a step fails. */
export async function buildNatTopology(opts: NatTopologyOptions = {}): Promise<NatTopology> {
  const runId = opts.runId ?? `${process.pid.toString(36)}x${randomBytes(2).toString('hex')}`;
  if (!/^[a-z0-9]{1,12}$/.test(runId)) throw new Error(`runId must be 1-12 lowercase alphanumerics: ${runId}`);
  await removeStaleNamespaces();
  const roles: (NsRole | 'relay')[] = ['core', 'nat1', 'lan1', 'nat2', 'lan2', 'pub2', ...(opts.relay ? (['relay'] as const) : [])];
  const ns = Object.fromEntries(roles.map((r) => [r, `nt${runId}-${r}`])) as Record<NsRole, string> & { relay?: string };
  const created: string[] = [];
  const children = new Map<number, ChildProcess>();
  let tornDown = false;

  const resolveNs = (n: NsRole | string): string => (n in ns ? ns[n as NsRole] : n);

  const topo: NatTopology = {
    runId,
    ns,
    addr: NAT_ADDR,
    execIn(where, cmd, args = [], spawnOpts = {}) {
      if (tornDown) throw new Error('topology already torn down');
      const [c, a] = netnsCommand(resolveNs(where), cmd, args);
      const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
      if (child.pid !== undefined) {
        children.set(child.pid, child);
        child.once('exit', () => children.delete(child.pid!));
      }
      return child;
    },
    run(where, cmd, args = [], timeoutMs = 10_000) {
      return inNs(resolveNs(where), cmd, args, timeoutMs);
    },
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      exitCleanups.delete(runId);
      const pids = new Set<number>(children.keys());
      for (const n of created) for (const p of await pidsInNamespace(n)) pids.add(p);
      await killPids([...pids]);
      for (const n of [...created].reverse()) await ip(['netns', 'del', n]).catch(() => undefined);
    },
  };

  // last resort if the test process exits without teardown(): kill our children, drop our namespaces
  installExitHook();
  exitCleanups.set(runId, () => {
    if (tornDown) return;
    tornDown = true;
    const pids = new Set<number>(children.keys());
    for (const n of created) {
      try {
        const out = execFileSync('ip', ['netns', 'pids', n], { timeout: 3000, encoding: 'utf8' });
        for (const p of out.split(/\s+/).filter(Boolean).map(Number)) if (p > 0 && p !== process.pid) pids.add(p);
      } catch {
        /* namespace gone */
      }
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const n of [...created].reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', n], { timeout: 3000, stdio: 'ignore' });
      } catch {
        /* gone */
      }
    }
  });

  try {
    for (const r of roles) {
      const name = ns[r]!;
      await ip(['netns', 'add', name]);
      created.push(name);
      await ip(['-n', name, 'link', 'set', 'lo', 'up']);
    }

    // the public segment: a bridge in core
    await ip(['-n', ns.core, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', ns.core, 'addr', 'add', `${NAT_ADDR.core}/24`, 'dev', 'br0']);
    await ip(['-n', ns.core, 'link', 'set', 'br0', 'up']);

    const publicMembers: [NsRole | 'relay', string][] = [
      ['nat1', NAT_ADDR.nat1Public],
      ['nat2', NAT_ADDR.nat2Public],
      ['pub2', NAT_ADDR.pub2],
      ...(opts.relay ? [['relay', NAT_ADDR.relay] as ['relay', string]] : []),
    ];
    for (const [role, addr] of publicMembers) {
      const port = `p-${role}`;
      const name = ns[role]!;
      // created directly inside the namespaces: no interface ever exists in the root namespace
      await ip(['link', 'add', 'wan', 'netns', name, 'type', 'veth', 'peer', 'name', port, 'netns', ns.core]);
      await ip(['-n', ns.core, 'link', 'set', port, 'master', 'br0']);
      await ip(['-n', ns.core, 'link', 'set', port, 'up']);
      await ip(['-n', name, 'addr', 'add', `${addr}/24`, 'dev', 'wan']);
      await ip(['-n', name, 'link', 'set', 'wan', 'up']);
    }

    const lans: [NsRole, NsRole, string, string, string][] = [
      ['nat1', 'lan1', NAT_ADDR.nat1Lan, NAT_ADDR.lan1, '192.168.50.0/24'],
      ['nat2', 'lan2', NAT_ADDR.nat2Lan, NAT_ADDR.lan2, '192.168.60.0/24'],
    ];
    for (const [router, host, routerAddr, hostAddr, subnet] of lans) {
      await ip(['link', 'add', 'lan', 'netns', ns[router], 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns[host]]);
      await ip(['-n', ns[router], 'addr', 'add', `${routerAddr}/24`, 'dev', 'lan']);
      await ip(['-n', ns[router], 'link', 'set', 'lan', 'up']);
      await ip(['-n', ns[host], 'addr', 'add', `${hostAddr}/24`, 'dev', 'eth0']);
      await ip(['-n', ns[host], 'link', 'set', 'eth0', 'up']);
      await ip(['-n', ns[host], 'route', 'add', 'default', 'via', routerAddr]);
      await inNs(ns[router], 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      const masq = ['-t', 'nat', '-A', 'POSTROUTING', '-s', subnet, '-o', 'wan', '-j', 'MASQUERADE'];
      if (opts.randomizePorts) masq.push('--random-fully');
      await inNs(ns[router], 'iptables', masq);
    }
  } catch (e) {
    await topo.teardown();
    throw e;
  }
  return topo;
}

/** Set a sysctl inside a namespace, e.g. ('net.netfilter.nf_conntrack_udp_timeout', '5') on a NAT. */
export async function sysctlIn(ns: string, key: string, value: string): Promise<void> {
  await inNs(ns, 'sysctl', ['-qw', `${key}=${value}`]);
}

let tshark: Promise<boolean> | undefined;

/** Whether tshark (Debian package `tshark`) can be started (cached). */
export function tsharkAvailable(): Promise<boolean> {
  tshark ??= execFileP('tshark', ['-v'], { timeout: 10_000 }).then(
    () => true,
    () => false,
  );
  return tshark;
}

/** One UDP packet seen by a capture. */
export interface CapturedUdp {
  time: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  length: number;
}

export interface Capture {
  readonly pid: number;
  /** Stop (SIGINT, then SIGKILL) and return the packets seen so far. */
  stop(): Promise<CapturedUdp[]>;
}

/**
 * Capture UDP with tshark (Debian package `tshark`), in namespace `ns` (or the root namespace
 * when null), on `iface` (default 'any'), with a BPF `filter` such as 'udp port 5060'.
 * Bounded: it stops by itself after maxMs (default 15 s) or maxPackets (default 10000).
 * Resolves once tshark reports it is capturing.
 */
export async function startUdpCapture(
  ns: string | null,
  opts: { filter: string; iface?: string; maxMs?: number; maxPackets?: number },
): Promise<Capture> {
  const tsharkArgs = [
    '-i', opts.iface ?? 'any',
    '-n', '-l',
    '-f', opts.filter,
    '-a', `duration:${Math.max(1, Math.ceil((opts.maxMs ?? 15_000) / 1000))}`,
    '-c', String(opts.maxPackets ?? 10_000),
    '-T', 'fields', '-E', 'separator=,',
    '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport', '-e', 'udp.length',
  ];
  const [cmd, args] = ns ? netnsCommand(ns, 'tshark', tsharkArgs) : ['tshark', tsharkArgs];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tshark did not start capturing: ${err}`)), 10_000);
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (/Capturing on/.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start tshark: ${e.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`tshark exited (${code}) before capturing: ${err}`));
    });
  });
  // "Capturing on" is printed just before the capture really starts
  await new Promise((r) => setTimeout(r, 200));
  const pid = child.pid!;
  return {
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(pid, 'SIGINT');
        } catch {
          /* gone */
        }
        const t = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 3000);
        await exited;
        clearTimeout(t);
      }
      return out
        .split('\n')
        .map((l) => l.trim().split(','))
        .filter((f) => f.length >= 6 && f[1] !== '')
        .map(([time, src, sp, dst, dp, len]) => ({
          time: Number(time),
          src: src!,
          srcPort: Number(sp),
          dst: dst!,
          dstPort: Number(dp),
          length: Number(len),
        }));
    },
  };
}

/** One SIP message seen by a capture (startSipCapture). */
export interface CapturedSip {
  time: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** `INVITE sip:relay@203.0.113.2:5070 SIP/2.0`, or undefined for a response. */
  requestLine: string | undefined;
  /** `SIP/2.0 302 Moved Temporarily`, or undefined for a request. */
  statusLine: string | undefined;
  cseq: string;
  contentType: string;
  contact: string;
}

/**
 * Capture SIP over UDP with tshark in namespace `ns` on `iface`, decoding the given UDP ports as
 * SIP (`-d udp.port==P,sip`), and return one record per message with its start line, CSeq,
 * Content-Type and Contact. Bounded like startUdpCapture (maxMs, default 15 s; 2000 packets).
 */
export async function startSipCapture(
  ns: string,
  opts: { iface?: string; ports: number[]; maxMs?: number },
): Promise<{ readonly pid: number; waitFor(match: (m: CapturedSip) => boolean, timeoutMs: number): Promise<boolean>; stop(): Promise<CapturedSip[]> }> {
  const decode = opts.ports.flatMap((p) => ['-d', `udp.port==${p},sip`]);
  const tsharkArgs = [
    '-i', opts.iface ?? 'any',
    '-n', '-l',
    '-f', opts.ports.map((p) => `udp port ${p}`).join(' or '),
    ...decode,
    '-a', `duration:${Math.max(1, Math.ceil((opts.maxMs ?? 15_000) / 1000))}`,
    '-c', '2000',
    '-Y', 'sip',
    '-T', 'fields', '-E', 'separator=/t', '-E', 'quote=n', '-E', 'occurrence=f',
    '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport',
    '-e', 'sip.Request-Line', '-e', 'sip.Status-Line', '-e', 'sip.CSeq', '-e', 'sip.Content-Type', '-e', 'sip.Contact',
  ];
  const [cmd, args] = netnsCommand(ns, 'tshark', tsharkArgs);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tshark did not start capturing: ${err}`)), 10_000);
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (/Capturing on/.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start tshark: ${e.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`tshark exited (${code}) before capturing: ${err}`));
    });
  });
  await new Promise((r) => setTimeout(r, 200));
  const pid = child.pid!;
  const parsed = (): CapturedSip[] =>
    out
      .split('\n')
      .map((l) => l.replace(/\r$/, '').split('\t'))
      .filter((f) => f.length >= 10 && f[1] !== '')
      .map(([time, src, sp, dst, dp, requestLine, statusLine, cseq, contentType, contact]) => ({
        time: Number(time),
        src: src!,
        srcPort: Number(sp),
        dst: dst!,
        dstPort: Number(dp),
        requestLine: requestLine || undefined,
        statusLine: statusLine || undefined,
        cseq: cseq ?? '',
        contentType: contentType ?? '',
        contact: contact ?? '',
      }));
  return {
    pid,
    /** Waits (bounded) until the capture has shown a message `match` accepts; false on timeout. */
    async waitFor(match, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (parsed().some(match)) return true;
        if (child.exitCode !== null || child.signalCode !== null) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(pid, 'SIGINT');
        } catch {
          /* gone */
        }
        const t = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 3000);
        await exited;
        clearTimeout(t);
      }
      return parsed();
    },
  };
}
