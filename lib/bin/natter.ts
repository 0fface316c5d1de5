#!/usr/bin/env -S node --max-semi-space-size=64
/**
 * The `natter` command.
 *
 * The shebang gives V8 a 64 MiB young generation (--max-semi-space-size): a proxy allocates a
 * few KiB per call that dies within a second, and with Node's default 16 MiB much of it was
 * promoted and collected by full GCs, whose pauses set off retransmission storms above ~3 000
 * calls/s (docs/performance.md). Embedders of the library can pass the same flag to node.
 *   natter proxy [--listen IP:PORT] [--domain NAME] [--relay local] [--media-address IP]
 *                [--rtp-ports MIN-MAX] [--relay-always] [--log-level LEVEL] [--config FILE]
 *   natter relay [--listen IP:PORT] [--media-address IP] [--rtp-ports MIN-MAX] ...
 *                         a relay server speaking the relay-by-redirect protocol (docs/relay-protocol.md)
 *   natter parse [FILE]   parse a SIP message from FILE (or stdin) and print what was read
 */
import { readFileSync } from 'node:fs';
import { parse } from '../message/parse.js';
import { SipError, SipParseError } from '../errors.js';
import { describeMessage } from './describe.js';
import { runProxy } from './run-proxy.js';
import { runRelay } from './run-relay.js';

const USAGE = `usage:
  natter proxy [--listen IP:PORT] [--domain NAME] [--relay local] [--media-address IP]
               [--rtp-ports MIN-MAX] [--relay-always] [--log-level error|warn|info|debug]
               [--nat-ping-interval SECONDS] [--config FILE]
               [--relay sip:relay@HOST:PORT[;weight=N],...]   relay servers instead of local
  natter relay [--listen IP:PORT] [--advertise HOST] [--media-address IP[,IP6]]
               [--advertised-media-address IP[,IP6]] [--rtp-ports MIN-MAX]
               [--media-timeout SECONDS] [--offer-timeout SECONDS] [--allow ADDR|PREFIX]
               [--secret-file FILE] [--log-level error|warn|info|debug]
  natter parse [FILE]
`;

function runParse(args: string[]): number {
  const file = args[0];
  const bytes = file === undefined || file === '-' ? readFileSync(0) : readFileSync(file);
  try {
    const msg = parse(bytes);
    process.stdout.write(JSON.stringify(describeMessage(msg), null, 2) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof SipParseError) {
      process.stdout.write(`${e.status} ${e.reason}\n`);
      return 1;
    }
    throw e;
  }
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'parse':
    process.exitCode = runParse(rest);
    break;
  case 'proxy':
    runProxy(rest).catch((err: unknown) => {
      process.stderr.write(`natter proxy: ${err instanceof SipError ? `${err.message} (${err.code})` : String((err as Error).stack ?? err)}\n`);
      process.exit(2);
    });
    break;
  case 'relay':
    runRelay(rest).catch((err: unknown) => {
      process.stderr.write(`natter relay: ${err instanceof SipError ? `${err.message} (${err.code})` : String((err as Error).stack ?? err)}\n`);
      process.exit(2);
    });
    break;
  case '--help':
  case '-h':
    process.stdout.write(USAGE);
    break;
  default:
    process.stderr.write(USAGE);
    process.exitCode = 2;
}
