#!/usr/bin/env node
/**
 * The `natter` command. Subcommands:
 *   natter parse [FILE]   parse a SIP message from FILE (or stdin) and print what was read
 */
import { readFileSync } from 'node:fs';
import { parse } from '../message/parse.js';
import { SipParseError } from '../errors.js';
import { describeMessage } from './describe.js';

function usage(): never {
  process.stderr.write('usage: natter parse [FILE]\n');
  process.exit(2);
}

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
  default:
    usage();
}
