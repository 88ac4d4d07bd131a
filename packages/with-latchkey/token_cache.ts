/**
 * Tokens minted for principals, one mint at a time per principal: requests that arrive while a
 * principal's token is being minted wait for that mint instead of starting their own, and a
 * token is used until shortly before it expires. A failed mint is forgotten, so the next
 * request tries again; the oldest principals are dropped beyond `maxEntries`.
 */

interface Entry<T> {
  promise: Promise<T>;
  /** Set once the mint succeeded. */
  value?: T;
}

export class TokenCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #maxEntries: number;

  constructor(maxEntries = 1000) {
    this.#maxEntries = maxEntries;
  }

  /** The principal's token: a fresh one held, the mint in flight, or a new mint. */
  get(principal: string, isFresh: (value: T) => boolean, mint: () => Promise<T>): Promise<T> {
    const held = this.#entries.get(principal);
    if (held && (held.value === undefined || isFresh(held.value))) return held.promise;
    const entry: Entry<T> = { promise: mint() };
    // Re-inserted last: the map's order is the order of use, oldest first.
    this.#entries.delete(principal);
    this.#entries.set(principal, entry);
    entry.promise.then(
      (value) => entry.value = value,
      () => {
        if (this.#entries.get(principal) === entry) this.#entries.delete(principal);
      },
    );
    while (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    return entry.promise;
  }

  /** Forgets a principal's token (its credential was refused). */
  delete(principal: string): void {
    this.#entries.delete(principal);
  }

  get size(): number {
    return this.#entries.size;
  }
}
