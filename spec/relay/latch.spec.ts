import { expect } from 'chai';
import { checkSource } from '../../lib/relay/local/index.js';

describe('relay/local/latch', () => {
  const alice = { address: '198.51.100.7', port: 30000 };
  const mallory = { address: '203.0.113.66', port: 30000 };

  it('a latching leg latches the first source', () => {
    expect(checkSource({ latching: true, latched: undefined, expected: undefined }, mallory)).to.equal('latch');
  });

  it('once latched, only the latched source is accepted (no RTP bleed)', () => {
    const state = { latching: true, latched: alice, expected: undefined };
    expect(checkSource(state, alice)).to.equal('accept');
    expect(checkSource(state, mallory)).to.equal('drop');
    expect(checkSource(state, { ...alice, port: 30002 })).to.equal('drop');
  });

  it('without latching, only the SDP address and port are accepted (symmetric RTP, RFC 4961)', () => {
    const state = { latching: false, latched: undefined, expected: alice };
    expect(checkSource(state, alice)).to.equal('accept');
    expect(checkSource(state, mallory)).to.equal('drop');
    expect(checkSource({ ...state, expected: undefined }, alice)).to.equal('drop');
  });

  it('compares IPv6 sources whatever their spelling', () => {
    const state = { latching: false, latched: undefined, expected: { address: '2001:db8:0::7', port: 4000 } };
    expect(checkSource(state, { address: '2001:db8::7', port: 4000 })).to.equal('accept');
  });
});
