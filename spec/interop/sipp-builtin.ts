/**
 * sipp's built-in `uas` scenario with a longer final timewait, for runs with `-lost`.
 *
 * The built-in uas keeps a call 4 s after answering its BYE, to answer BYE retransmissions; after
 * that the call is gone and a retransmitted BYE goes unanswered. RFC 3261 has a UAS absorb them
 * for 64*T1 (Timer J, 32 s). With 10 % loss each way, a natter UAC whose first BYE exchanges are
 * all lost (about 1 call in 1 400 with 4 s; 1 in 7 000 with 8 s) retransmits into the void until its Timer F. The
 * scenario below is `sipp -sd uas` as installed, with that timewait raised to 8 s, which covers one
 * more BYE retransmission (T1, 2*T1, 4*T1, T2: at 0.5, 1.5, 3.5 and 7.5 s).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let file: string | undefined;

/** Absolute path of the patched built-in uas scenario (written once per process). */
export function builtinUasLongTimewait(timewaitMs = 8000): string {
  if (file !== undefined) return file;
  // `sipp -sd` prints the scenario and exits 99 ("normal exit without calls")
  const xml = spawnSync(process.env.SIPP ?? 'sipp', ['-sd', 'uas'], { encoding: 'latin1', timeout: 10_000 }).stdout ?? '';
  const patched = xml.replace(/<timewait milliseconds="\d+"\s*\/>/, `<timewait milliseconds="${timewaitMs}"/>`);
  if (patched === xml) throw new Error('sipp -sd uas: no <timewait> to raise');
  file = join(mkdtempSync(join(tmpdir(), 'natter-sipp-uas-')), 'uas-builtin-long-timewait.xml');
  writeFileSync(file, patched, 'latin1');
  return file;
}

/**
 * sipp (3.6) recognises a retransmitted INVITE only until it has sent a second message: once the
 * uas has sent 180 and 200 and both were lost, the UAC's Timer A retransmission is an "unexpected
 * message", which by default aborts the call. With abortunexp off sipp ignores it and keeps
 * retransmitting its 200, as RFC 3261 expects of a UAS.
 */
export const IGNORE_UNEXPECTED = ['-default_behaviors', 'all,-abortunexp'];
