/**
 * User-Agent values of well-known SIP scanners and war-dialers (SIPVicious and its
 * "friendly-scanner" disguise, sipcli, VaxSIPUserAgent, sundayddr, iWar, sip-scan, SIPScan,
 * smap, PortSIP-based dialers, ...). Matched case-insensitively as substrings.
 */
export const SCANNER_USER_AGENTS: readonly string[] = Object.freeze([
  'friendly-scanner',
  'sipvicious',
  'sipcli',
  'vaxsipuseragent',
  'sundayddr',
  'iwar',
  'sip-scan',
  'sipscan',
  'smap',
  'pplsip',
  'voip scanner',
  'fs-scanner',
]);

/** A matcher for the given User-Agent substrings (default SCANNER_USER_AGENTS). */
export function scannerMatcher(patterns: readonly string[] = SCANNER_USER_AGENTS): (userAgent: string | undefined) => boolean {
  const lower = patterns.map((p) => p.toLowerCase()).filter((p) => p.length > 0);
  return (userAgent) => {
    if (userAgent === undefined || userAgent.length === 0) return false;
    const ua = userAgent.toLowerCase();
    return lower.some((p) => ua.includes(p));
  };
}
