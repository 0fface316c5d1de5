import { expect } from 'chai';
import { RelayError } from '../../../lib/index.js';
import { NgClient, ngError } from '../../../lib/relay/rtpengine/index.js';
import { bstr } from '../../../lib/relay/rtpengine/index.js';
import { FakeNgServer } from './fake-ng-server.js';

async function rejection(p: Promise<unknown>): Promise<RelayError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(RelayError);
    return e as RelayError;
  }
  throw new Error('expected a rejection');
}

describe('relay/rtpengine/ng-client', () => {
  let server: FakeNgServer;
  let client: NgClient;
  afterEach(async () => {
    await client?.close();
    await server?.close();
  });

  it('sends "<cookie> <bencoded dict>" and resolves with the reply that carries the same cookie', async () => {
    server = await FakeNgServer.start();
    client = new NgClient();
    const reply = await client.request(server.target, { command: 'ping' });
    expect(bstr(reply['result'])).to.equal('pong');
    const sent = server.received[0]!;
    expect(sent.raw.toString()).to.equal(`${sent.cookie} d7:command4:pinge`);
    expect(sent.cookie).to.match(/^\S+$/);
    await client.request(server.target, { command: 'ping' });
    expect(server.received[1]!.cookie).to.not.equal(sent.cookie);
    expect(client.pending).to.equal(0);
  });

  it('retransmits an unanswered request with the same cookie and bytes until a reply comes', async () => {
    server = await FakeNgServer.start((cmd, copy) => (copy < 3 ? undefined : { result: 'ok', copy }));
    client = new NgClient({ retransmitInterval: 40, timeout: 2000 });
    const reply = await client.request(server.target, { command: 'query', 'call-id': 'c1' });
    expect(reply['copy']).to.equal(3);
    expect(server.received).to.have.length(3);
    expect(new Set(server.received.map((r) => r.cookie)).size).to.equal(1);
    expect(server.received.every((r) => r.raw.equals(server.received[0]!.raw))).to.equal(true);
  });

  it('fails cleanly with ERR_RELAY_TIMEOUT (503) when nothing answers, and forgets the request', async () => {
    server = await FakeNgServer.start(() => undefined);
    client = new NgClient({ retransmitInterval: 50, timeout: 300 });
    const started = Date.now();
    const err = await rejection(client.request(server.target, { command: 'offer', 'call-id': 'c1' }));
    const took = Date.now() - started;
    expect(err.code).to.equal('ERR_RELAY_TIMEOUT');
    expect(err.status).to.equal(503);
    expect(took).to.be.within(280, 1500);
    expect(server.received.length).to.be.within(4, 8);
    expect(client.pending).to.equal(0);
  });

  it('ignores replies with an unknown cookie (late replies to requests that timed out)', async () => {
    server = await FakeNgServer.start((cmd) => {
      server.socket.send(Buffer.from('nosuchcookie d6:result4:ponge'), cmd.from.port, cmd.from.address);
      return { result: 'pong', n: 1 };
    });
    client = new NgClient();
    expect((await client.request(server.target, { command: 'ping' }))['n']).to.equal(1);
  });

  it('maps error replies to RelayError codes and SIP statuses', async () => {
    const reasons: Record<string, [string, number]> = {
      'Unknown call-id': ['ERR_RELAY_UNKNOWN_SESSION', 481],
      'Failed to parse SDP': ['ERR_RELAY_BAD_SDP', 488],
      'Ran out of ports': ['ERR_RELAY_NO_PORTS', 503],
      'Something else': ['ERR_RELAY_FAILED', 500],
    };
    server = await FakeNgServer.start((cmd) => ({ result: 'error', 'error-reason': bstr(cmd.command['reason']) ?? '' }));
    client = new NgClient();
    for (const [reason, [code, status]] of Object.entries(reasons)) {
      const err = await rejection(client.request(server.target, { command: 'offer', reason }));
      expect([err.code, err.status], reason).to.deep.equal([code, status]);
      expect(err.message).to.include(reason);
    }
    expect(ngError('load limit', 'offer', 'x').code).to.equal('ERR_RELAY_NO_PORTS');
    expect(ngError('Parallel session limit reached', 'offer', 'x').code).to.equal('ERR_RELAY_NO_PORTS');
    expect(ngError('Unsupported transport protocol', 'offer', 'x').code).to.equal('ERR_RELAY_BAD_SDP');
    expect(ngError("Call-ID not found or tags didn't match", 'delete', 'x').status).to.equal(481);
  });

  it('rejects a reply that is not a bencoded dictionary with ERR_RELAY_BAD_REPLY', async () => {
    server = await FakeNgServer.start((cmd) => {
      server.socket.send(Buffer.from(`${cmd.cookie} l1:ae`), cmd.from.port, cmd.from.address);
      return undefined;
    });
    client = new NgClient();
    expect((await rejection(client.request(server.target, { command: 'ping' }))).code).to.equal('ERR_RELAY_BAD_REPLY');
  });

  it('close() fails pending requests with ERR_RELAY_CLOSED, and later ones too', async () => {
    server = await FakeNgServer.start(() => undefined);
    client = new NgClient({ timeout: 5000 });
    const pending = client.request(server.target, { command: 'ping' });
    await new Promise((r) => setTimeout(r, 20));
    await client.close();
    expect((await rejection(pending)).code).to.equal('ERR_RELAY_CLOSED');
    expect((await rejection(client.request(server.target, { command: 'ping' }))).code).to.equal('ERR_RELAY_CLOSED');
  });
});
