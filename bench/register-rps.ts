/**
 * Registrations per second: sipp sends REGISTERs (a new address-of-record per call, Expires 3600)
 * to the registrar, rate stepped up as for calls; the same run drives sipp straight to a sipp
 * that answers 200, Kamailio (registrar + usrloc in memory, nathelper) and the npm `sip`
 * package's proxy example (its registrar is a plain object).
 *
 * The UAC keeps its port for the whole search, so each step registers the same Contacts again
 * (b1..bN): a step inserts the bindings no earlier step made and refreshes the others.
 *
 *   npm run bench -- register   (or: tsx bench/register-rps.ts)
 */
import { fileURLToPath } from 'node:url';
import { freeUdpPort } from '../spec/support/sipp.js';
import type { TargetKind } from './support/targets.js';
import { type RateFigure, measureRates, rateTable, selectedTargets } from './proxy-cps.js';

const REGISTER_START: Record<TargetKind, number> = {
  direct: 30000,
  natter: 3000,
  'natter-norelay': 6000,
  kamailio: 12000,
  'kamailio-norelay': 12000,
  'sip-npm': 2000,
};

export const REGISTER_TARGETS: TargetKind[] = ['direct', 'natter-norelay', 'kamailio-norelay', 'sip-npm'];

export async function registerRps(): Promise<RateFigure[]> {
  const figures = await measureRates('register', selectedTargets(REGISTER_TARGETS), REGISTER_START, () => freeUdpPort('127.0.0.1'));
  // a registrar does not relay: name the rows for what they are
  for (const f of figures) f.label = f.label.replace(', relay off', '').replace(', no rtpengine', '');
  return figures;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const figures = await registerRps();
  process.stdout.write(`\nRegistrations per second (sipp REGISTER -> registrar, loopback)\n\n${rateTable(figures, 'registrations/s')}\n`);
}
