import { expect } from 'chai';
import { SipResponse } from '../../lib/index.js';
import { bestResponse, tryNextTarget } from '../../lib/proxy/best-response.js';

const r = (status: number): SipResponse => new SipResponse({ status });

describe('proxy/best-response (RFC 3261 §16.7 step 6)', () => {
  it('the proxy MUST choose from the 6xx class responses if any exist', () => {
    expect(bestResponse([r(404), r(603), r(486)])!.status).to.equal(603);
  });
  it('otherwise it chooses from the lowest response class stored', () => {
    expect(bestResponse([r(503), r(486), r(302)])!.status).to.equal(302);
    expect(bestResponse([r(503), r(480), r(486)])!.status).to.equal(480);
  });
  it('has no answer when nothing final was stored', () => {
    expect(bestResponse([])).to.equal(undefined);
  });
  it('sequential forking moves on after 4xx/5xx but not after 6xx or 487', () => {
    expect(tryNextTarget(480)).to.equal(true);
    expect(tryNextTarget(503)).to.equal(true);
    expect(tryNextTarget(603)).to.equal(false);
    expect(tryNextTarget(487)).to.equal(false);
  });
});
