import { readFile, rename, writeFile } from 'node:fs/promises';
import createDebug from 'debug';
import { InvalidArgumentError } from '../errors.js';
import type { Binding } from './binding.js';
import { MemoryLocationStore } from './location-store.js';
import type { LocationStore, MemoryLocationStoreOptions } from './location-store.js';

const debug = createDebug('natter:registrar');

/**
 * A location store that survives a restart (or a crash) of the proxy: the bindings live in memory
 * (a MemoryLocationStore, same limits) and are written to a JSON file after every change, before
 * the change resolves, so a REGISTER is answered 200 only once its binding is on disk. Writes go
 * to `PATH.tmp` and are renamed over `PATH`, so the file is always whole. Concurrent changes share
 * one write. The whole file is rewritten each time: for one proxy with thousands of bindings, not
 * for millions (use a shared store then).
 */
export class FileLocationStore implements LocationStore {
  readonly path: string;
  readonly #inner: MemoryLocationStore;
  #next: Promise<void> | undefined;
  #current: Promise<void> | undefined;
  /** Writes that failed (the change stays in memory; the next write retries with everything). */
  writeErrors = 0;

  private constructor(path: string, inner: MemoryLocationStore) {
    this.path = path;
    this.#inner = inner;
  }

  /** Opens (or creates) the store at `path`, loading the unexpired bindings it holds. */
  static async open(path: string, options: MemoryLocationStoreOptions = {}): Promise<FileLocationStore> {
    const store = new FileLocationStore(path, new MemoryLocationStore(options));
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new InvalidArgumentError(`cannot read location file ${path}: ${(err as Error).message}`);
    }
    if (text !== undefined && text.trim() !== '') {
      let bindings: Binding[];
      try {
        const json = JSON.parse(text) as { bindings?: unknown };
        if (!Array.isArray(json.bindings)) throw new Error('no "bindings" array');
        bindings = json.bindings as Binding[];
      } catch (err) {
        throw new InvalidArgumentError(`location file ${path} is not a natter location file: ${(err as Error).message}`);
      }
      const now = (options.clock ?? { now: () => Date.now() }).now();
      let loaded = 0;
      for (const b of bindings) {
        if (typeof b?.aor !== 'string' || typeof b.contact !== 'string' || typeof b.expiresAt !== 'number' || b.expiresAt <= now) continue;
        try {
          await store.#inner.save(b);
          loaded++;
        } catch {
          // over a limit: the rest is dropped
        }
      }
      debug('loaded %d bindings from %s', loaded, path);
    }
    return store;
  }

  get limits(): { readonly maxPerAor: number; readonly maxTotal: number } {
    return this.#inner.limits;
  }

  lookup(aor: string): Promise<Binding[]> {
    return this.#inner.lookup(aor);
  }

  all(): Promise<Binding[]> {
    return this.#inner.all();
  }

  async save(binding: Binding): Promise<void> {
    await this.#inner.save(binding);
    await this.#flush();
  }

  async remove(aor: string, contact: string): Promise<boolean> {
    const removed = await this.#inner.remove(aor, contact);
    if (removed) await this.#flush();
    return removed;
  }

  async removeAll(aor: string): Promise<number> {
    const n = await this.#inner.removeAll(aor);
    if (n > 0) await this.#flush();
    return n;
  }

  /** Waits for the last write, then closes the in-memory store. The file stays. */
  async close(): Promise<void> {
    await (this.#next ?? this.#current)?.catch(() => undefined);
    await this.#inner.close();
  }

  /** A write that starts after this call; changes made meanwhile share it. */
  #flush(): Promise<void> {
    if (this.#next !== undefined) return this.#next;
    const after = this.#current ?? Promise.resolve();
    const next = after
      .catch(() => undefined)
      .then(async () => {
        this.#next = undefined;
        this.#current = next;
        try {
          await this.#write();
        } finally {
          if (this.#current === next) this.#current = undefined;
        }
      });
    this.#next = next;
    return next;
  }

  async #write(): Promise<void> {
    const bindings = await this.#inner.all();
    const tmp = `${this.path}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify({ version: 1, savedAt: new Date().toISOString(), bindings }));
      await rename(tmp, this.path);
    } catch (err) {
      this.writeErrors++;
      debug('cannot write %s: %s', this.path, (err as Error).message);
      throw err;
    }
  }
}
