import { expect } from 'chai';
import { addressScope, canonicalIp, isIpLiteral, isPrivateNetworkAddress, sameIp } from '../../lib/index.js';

describe('nat/private-address', () => {
  it('classes RFC 1918 networks as private, and only them (10/8, 172.16/12, 192.168/16)', () => {
    for (const a of ['10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.254', '192.168.0.1', '192.168.255.255']) {
      expect(addressScope(a), a).to.equal('private');
    }
    for (const a of ['9.255.255.255', '11.0.0.0', '172.15.255.255', '172.32.0.0', '192.167.255.255', '192.169.0.0']) {
      expect(addressScope(a), a).to.equal('public');
    }
  });
  it('classes RFC 6598 shared address space 100.64/10 (carrier-grade NAT) as shared', () => {
    expect(addressScope('100.64.0.1')).to.equal('shared');
    expect(addressScope('100.127.255.254')).to.equal('shared');
    expect(addressScope('100.63.255.255')).to.equal('public');
    expect(addressScope('100.128.0.0')).to.equal('public');
  });
  it('classes loopback (RFC 1122 127/8, ::1) and link-local (RFC 3927 169.254/16, RFC 4291 fe80::/10)', () => {
    expect(addressScope('127.0.0.1')).to.equal('loopback');
    expect(addressScope('127.255.0.9')).to.equal('loopback');
    expect(addressScope('::1')).to.equal('loopback');
    expect(addressScope('169.254.10.20')).to.equal('link-local');
    expect(addressScope('fe80::1')).to.equal('link-local');
    expect(addressScope('fe80::1%eth0')).to.equal('link-local');
    expect(addressScope('febf::1')).to.equal('link-local');
    expect(addressScope('fec0::1')).to.equal('public');
  });
  it('classes IPv6 unique local addresses fc00::/7 (RFC 4193) as unique-local', () => {
    expect(addressScope('fd12:3456:789a::1')).to.equal('unique-local');
    expect(addressScope('fc00::1')).to.equal('unique-local');
    expect(addressScope('2001:db8::1')).to.equal('public');
  });
  it('classes an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2) by the IPv4 address inside it', () => {
    expect(addressScope('::ffff:10.0.0.1')).to.equal('private');
    expect(addressScope('::ffff:c0a8:101')).to.equal('private');
    expect(addressScope('::ffff:100.64.1.1')).to.equal('shared');
    expect(addressScope('::ffff:203.0.113.1')).to.equal('public');
  });
  it('does not count the unspecified address or a host name as private', () => {
    expect(addressScope('0.0.0.0')).to.equal('unspecified');
    expect(addressScope('::')).to.equal('unspecified');
    expect(isPrivateNetworkAddress('0.0.0.0')).to.equal(false);
    expect(addressScope('pc33.atlanta.example.com')).to.equal('name');
    expect(isPrivateNetworkAddress('pc33.atlanta.example.com')).to.equal(false);
    expect(isPrivateNetworkAddress('[fd00::5]')).to.equal(true);
  });
  it('spells IPv6 addresses in one canonical form (RFC 5952) so 2001:db8::1 equals 2001:0db8:0:0::1', () => {
    expect(canonicalIp('2001:0db8:0:0::1')).to.equal('2001:db8::1');
    expect(canonicalIp('[2001:DB8::1]')).to.equal('2001:db8::1');
    expect(canonicalIp('fe80::1%eth0')).to.equal('fe80::1');
    expect(canonicalIp('::ffff:192.0.2.1')).to.equal('192.0.2.1');
    expect(canonicalIp('Host.Example.COM')).to.equal('host.example.com');
    expect(sameIp('2001:db8:0:0:0:0:0:1', '2001:db8::1')).to.equal(true);
    expect(sameIp('::ffff:c000:201', '192.0.2.1')).to.equal(true);
    expect(sameIp('192.0.2.1', '192.0.2.10')).to.equal(false);
  });
  it('tells IP literals from names', () => {
    expect(isIpLiteral('192.0.2.1')).to.equal(true);
    expect(isIpLiteral('[2001:db8::1]')).to.equal(true);
    expect(isIpLiteral('example.com')).to.equal(false);
    expect(isIpLiteral('1.2.3')).to.equal(false);
  });
});
