import createDebug from 'debug';
import type { RelaySessionEnded } from './relay-allocator.js';

const debug = createDebug('natter:relay');

/** The listeners of RelayAllocator.onSessionEnded: a listener that throws never stops the others. */
export class SessionEndedListeners {
  readonly #listeners = new Set<(event: RelaySessionEnded) => void>();

  /** Adds a listener; returns the function that removes it. */
  add(listener: (event: RelaySessionEnded) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: RelaySessionEnded): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        debug('session-ended listener threw: %s', (err as Error).message);
      }
    }
  }
}
