export { FloodGuard, countsAsRequest } from './flood-guard.js';
export type { FloodGuardOptions, FloodGuardCounters } from './flood-guard.js';
export { SCANNER_USER_AGENTS, scannerMatcher } from './scanners.js';
export { RecentDialogs } from './recent-dialogs.js';
