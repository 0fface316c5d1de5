/**
 * Runs async tasks one at a time per key (a Call-ID), in the order they were queued, while tasks
 * for other keys run freely: an answer never overtakes the offer it answers, a release never
 * overtakes either. Keys leave the map as soon as their queue is empty.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();

  /** Queues `task` behind every task queued before it for `key`; resolves or rejects as it does. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(key) ?? Promise.resolve()).then(task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }

  /** Resolves when every task queued so far has settled (for close()). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#tails.values()]);
  }

  /** Keys with tasks queued or running. */
  get size(): number {
    return this.#tails.size;
  }
}
