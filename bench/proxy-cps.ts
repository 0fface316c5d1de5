/**
 * Calls per second through the proxy: sipp UAC (INVITE with SDP, Record-Route followed) ->
 * proxy -> sipp UAS on loopback, the rate stepped up until calls fail; the figure is the highest
 * rate held for 20 s with no failed call and retransmissions under 1% of the calls.
 * The same run drives sipp straight to sipp, Kamailio (+ rtpengine) and the npm `sip` package's
 * proxy example, and prints the ratios.
 *
 *   npm run bench:proxy                 # every target
 *   BENCH_TARGETS=natter,kamailio npm run bench:proxy
 *   BENCH_QUICK=1 npm run bench:proxy   # short steps
 *   BENCH_PROFILE=.tmp/prof npm run bench:proxy   # natter runs with --cpu-prof
 *
 * See docs/performance.md.
 */
import { fileURLToPath } from 'node:url';
import { QUICK, type SearchResult, fmt, log, ratio, searchOptions, searchRate, table } from './support/harness.js';
import { type RunningTarget, TARGET_LABEL, type TargetKind, loadStep, startTarget, unavailable } from './support/targets.js';

export interface RateFigure {
  kind: TargetKind;
  label: string;
  rate: number | undefined;
  /** why there is no figure */
  skipped?: string;
  cpu?: number;
  search?: SearchResult;
}

/** Starting rates of the search (near what each does on a 2-core machine, to save steps). */
const CALL_START: Record<TargetKind, number> = {
  direct: 8000,
  natter: 1200,
  'natter-norelay': 2500,
  kamailio: 1000,
  'kamailio-norelay': 1600,
  'sip-npm': 700,
};

export const CPS_TARGETS: TargetKind[] = ['direct', 'natter', 'natter-norelay', 'kamailio', 'kamailio-norelay', 'sip-npm'];

export function selectedTargets(all: TargetKind[]): TargetKind[] {
  const want = process.env.BENCH_TARGETS?.split(',').map((s) => s.trim());
  return want ? all.filter((t) => want.includes(t)) : all;
}

/** Runs the rate search for each target; every target is started before and stopped after its own search. */
export async function measureRates(
  scenario: 'call' | 'register',
  targets: TargetKind[],
  start: Record<TargetKind, number>,
  uacPortFor?: () => Promise<number>,
): Promise<RateFigure[]> {
  const out: RateFigure[] = [];
  for (const kind of targets) {
    const why = unavailable(kind);
    if (why) {
      out.push({ kind, label: TARGET_LABEL[kind], rate: undefined, skipped: why });
      continue;
    }
    let target: RunningTarget | undefined;
    try {
      target = await startTarget(kind);
    } catch (e) {
      out.push({ kind, label: TARGET_LABEL[kind], rate: undefined, skipped: `could not start: ${(e as Error).message.split('\n')[0]}` });
      log(`${kind}: ${(e as Error).message}`);
      continue;
    }
    try {
      const uacPort = uacPortFor ? await uacPortFor() : undefined;
      // warm-up, not counted: JIT for natter, caches for everyone (a proxy in service is warm)
      const warmUp = async (): Promise<void> => {
        const warm = await loadStep({ scenario, target: target!, rate: Math.round(start[kind] / 2), seconds: QUICK ? 2 : 4, ...(uacPort !== undefined ? { uacPort } : {}) });
        log(`${scenario} ${kind}: warm-up at ${warm.rate}/s: ${warm.note}`);
      };
      await warmUp();
      let failedBefore = false;
      const search = await searchRate(`${scenario} ${kind}`, searchOptions(start[kind]), async (rate, seconds) => {
        if (failedBefore) {
          // a failed step leaves retransmitting transactions behind for up to 64*T1: every step
          // starts from a fresh (warmed) system, so that steps are independent
          await target!.stop();
          target = await startTarget(kind);
          await warmUp();
        }
        const res = await loadStep({ scenario, target: target!, rate, seconds, ...(uacPort !== undefined ? { uacPort } : {}) });
        failedBefore = !res.pass;
        return res;
      });
      out.push({ kind, label: TARGET_LABEL[kind], rate: search.rate, ...(search.hold?.cpu !== undefined ? { cpu: search.hold.cpu } : {}), search });
    } finally {
      await target?.stop();
    }
  }
  return out;
}

export async function proxyCps(): Promise<RateFigure[]> {
  return measureRates('call', selectedTargets(CPS_TARGETS), CALL_START);
}

/** The table: figure, CPU, and ratios against Kamailio doing the same work and against the npm sip proxy. */
export function rateTable(figures: RateFigure[], unit: string): string {
  const by = (k: TargetKind): number | undefined => figures.find((f) => f.kind === k)?.rate;
  const rows = figures.map((f) => {
    const sameWork = f.kind === 'natter' ? by('kamailio') : f.kind === 'natter-norelay' ? by('kamailio-norelay') : undefined;
    return [
      f.label,
      f.rate === undefined ? `skipped: ${f.skipped}` : fmt(f.rate),
      f.cpu === undefined ? '' : `${(f.cpu * 100).toFixed(0)}%`,
      ratio(f.rate, by('direct')),
      sameWork === undefined ? '' : ratio(f.rate, sameWork),
      f.kind.startsWith('natter') ? ratio(f.rate, by('sip-npm')) : '',
    ];
  });
  return table([`system`, `${unit}`, 'CPU at that rate', 'vs sipp->sipp', 'vs Kamailio (same work)', 'vs npm sip'], rows);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const figures = await proxyCps();
  process.stdout.write(`\nCalls per second (sipp uac -> proxy -> sipp uas, loopback, INVITE+SDP, Record-Route)\n\n${rateTable(figures, 'calls/s')}\n`);
}
