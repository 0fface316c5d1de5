import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLocationStore, InvalidArgumentError } from '../../lib/index.js';
import type { Binding } from '../../lib/index.js';

describe('FileLocationStore: registrations that survive a restart', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'natter-loc-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const binding = (aor: string, contact: string, expiresIn = 60_000): Binding => ({
    aor,
    contact,
    expiresAt: Date.now() + expiresIn,
    callId: 'c1',
    cseq: 1,
    source: { address: '192.0.2.1', port: 5060, transport: 'udp' },
    natted: false,
  });

  it('writes every change before it resolves, and a new store on the same file has the bindings back', async () => {
    const path = join(dir, 'loc.json');
    const a = await FileLocationStore.open(path);
    await a.save(binding('sip:alice@example.test', 'sip:alice@192.0.2.1'));
    await a.save(binding('sip:bob@example.test', 'sip:bob@192.0.2.2'));
    await a.save(binding('sip:bob@example.test', 'sip:bob@192.0.2.3'));
    expect(await a.remove('sip:bob@example.test', 'sip:bob@192.0.2.2')).to.equal(true);
    expect((JSON.parse(readFileSync(path, 'utf8')) as { bindings: Binding[] }).bindings).to.have.length(2);
    // no close(): as after a crash
    const b = await FileLocationStore.open(path);
    expect((await b.lookup('sip:alice@example.test')).map((x) => x.contact)).to.deep.equal(['sip:alice@192.0.2.1']);
    expect((await b.lookup('sip:bob@example.test')).map((x) => x.contact)).to.deep.equal(['sip:bob@192.0.2.3']);
    await a.close();
    await b.close();
  });

  it('shares one write among concurrent changes, and does not load expired bindings', async () => {
    const path = join(dir, 'loc.json');
    const a = await FileLocationStore.open(path);
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.save(binding(`sip:u${i}@example.test`, `sip:u${i}@192.0.2.1`, i === 0 ? 30 : 60_000))));
    expect((await a.all()).length).to.be.at.least(49);
    await a.close();
    await new Promise((r) => setTimeout(r, 50));
    const b = await FileLocationStore.open(path);
    expect((await b.all()).length).to.equal(49);
    await b.close();
  });

  it('starts empty without a file and refuses a file that is not its own', async () => {
    const fresh = await FileLocationStore.open(join(dir, 'none.json'));
    expect(await fresh.all()).to.deep.equal([]);
    await fresh.close();
    writeFileSync(join(dir, 'bad.json'), '{"nope": 1}');
    let err: unknown;
    try {
      await FileLocationStore.open(join(dir, 'bad.json'));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InvalidArgumentError);
  });
});
