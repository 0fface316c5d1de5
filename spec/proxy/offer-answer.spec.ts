import { expect } from 'chai';
import { classifySdp, isSdpBody } from '../../lib/proxy/offer-answer.js';

describe('proxy/offer-answer', () => {
  it('an INVITE with SDP is an offer, initial or re-INVITE, from either party', () => {
    expect(classifySdp({ method: 'INVITE', isRequest: true, from: 'caller', pendingOfferFrom: undefined, hasSdp: true })).to.equal('offer');
    expect(classifySdp({ method: 'INVITE', isRequest: true, from: 'callee', pendingOfferFrom: undefined, hasSdp: true })).to.equal('offer');
    expect(classifySdp({ method: 'UPDATE', isRequest: true, from: 'callee', pendingOfferFrom: undefined, hasSdp: true })).to.equal('offer');
  });
  it('a 183 and then a 200 with SDP answer the pending offer (early media)', () => {
    expect(classifySdp({ method: 'INVITE', isRequest: false, status: 183, from: 'callee', pendingOfferFrom: 'caller', hasSdp: true })).to.equal('answer');
    expect(classifySdp({ method: 'INVITE', isRequest: false, status: 200, from: 'callee', pendingOfferFrom: 'caller', hasSdp: true })).to.equal('answer');
  });
  it('late offer: the 200 to an INVITE without SDP is the offer, and the ACK with SDP the answer', () => {
    expect(classifySdp({ method: 'INVITE', isRequest: false, status: 200, from: 'callee', pendingOfferFrom: undefined, hasSdp: true })).to.equal('offer');
    expect(classifySdp({ method: 'ACK', isRequest: true, from: 'caller', pendingOfferFrom: 'callee', hasSdp: true })).to.equal('answer');
  });
  it('failure responses, 100 Trying and bodies without SDP carry no offer or answer', () => {
    expect(classifySdp({ method: 'INVITE', isRequest: false, status: 488, from: 'callee', pendingOfferFrom: 'caller', hasSdp: true })).to.equal('none');
    expect(classifySdp({ method: 'INVITE', isRequest: false, status: 100, from: 'callee', pendingOfferFrom: 'caller', hasSdp: true })).to.equal('none');
    expect(classifySdp({ method: 'INVITE', isRequest: true, from: 'caller', pendingOfferFrom: undefined, hasSdp: false })).to.equal('none');
    expect(classifySdp({ method: 'BYE', isRequest: true, from: 'caller', pendingOfferFrom: undefined, hasSdp: true })).to.equal('none');
  });
  it('recognises SDP bodies by Content-Type', () => {
    expect(isSdpBody('application/sdp', Buffer.from('v=0'))).to.equal(true);
    expect(isSdpBody('Application/SDP; charset=utf-8', Buffer.from('v=0'))).to.equal(true);
    expect(isSdpBody('text/plain', Buffer.from('v=0'))).to.equal(false);
    expect(isSdpBody('application/sdp', Buffer.alloc(0))).to.equal(false);
  });
});
