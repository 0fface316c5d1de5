import { expect } from 'chai';
import { addressTypeOf, isPrivateAddress, isUnspecifiedAddress, sameAddress } from '../../lib/sdp/index.js';

describe('sdp/address', () => {
  it('classifies private, shared, loopback, link-local and ULA addresses as private', () => {
    for (const a of ['10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.0.1', '100.64.0.1', '127.0.0.1', '169.254.1.1', 'fd00::1', 'fe80::1', '::1', '::ffff:192.168.1.1', 'abc123.local']) {
      expect(isPrivateAddress(a), a).to.equal(true);
    }
  });

  it('classifies public addresses as not private', () => {
    for (const a of ['8.8.8.8', '172.32.0.1', '198.51.100.1', '2001:db8::1', '::ffff:8.8.8.8', 'sip.example.com']) {
      expect(isPrivateAddress(a), a).to.equal(false);
    }
  });

  it('knows the unspecified addresses', () => {
    expect(['0.0.0.0', '::', '0:0::0', '10.0.0.1'].map(isUnspecifiedAddress)).to.deep.equal([true, true, true, false]);
  });

  it('compares IPv6 spellings', () => {
    expect(sameAddress('2001:db8:0:0::1', '2001:DB8::1')).to.equal(true);
    expect(sameAddress('2001:db8::1', '2001:db8::2')).to.equal(false);
  });

  it('types IP literals', () => {
    expect([addressTypeOf('1.2.3.4'), addressTypeOf('::1'), addressTypeOf('host')]).to.deep.equal(['IP4', 'IP6', undefined]);
  });
});
