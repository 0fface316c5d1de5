/**
 * The torture-test fixtures (spec/fixtures/rfc4475/, spec/fixtures/rfc5118/): each directory holds
 * one `.dat` file per RFC message and a MANIFEST.json describing them.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse, SipRequest, SipResponse } from '../../lib/index.js';

export interface TortureFixtures<E> {
  readonly manifest: { messages: E[] };
  /** The bytes of one message, by its manifest name. */
  load(name: string): Buffer;
  /** The message parsed, asserted to be a request. */
  request(name: string): SipRequest;
  /** The message parsed, asserted to be a response. */
  response(name: string): SipResponse;
}

export function tortureFixtures<E>(dir: 'rfc4475' | 'rfc5118'): TortureFixtures<E> {
  const base = new URL(`../fixtures/${dir}/`, import.meta.url);
  const load = (name: string): Buffer => readFileSync(new URL(`${name}.dat`, base));
  return {
    manifest: JSON.parse(readFileSync(new URL('MANIFEST.json', base), 'utf8')) as { messages: E[] },
    load,
    request(name) {
      const m = parse(load(name));
      expect(m, `${name} parses as a request`).to.be.instanceOf(SipRequest);
      return m as SipRequest;
    },
    response(name) {
      const m = parse(load(name));
      expect(m, `${name} parses as a response`).to.be.instanceOf(SipResponse);
      return m as SipResponse;
    },
  };
}
