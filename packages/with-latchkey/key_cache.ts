/**
 * Answers of `POST /keys/verify` that Latchkey lets a verifier reuse (`cacheSeconds`: a key with
 * no rate limit and no credits, marked cacheable), held per key for that long, so a request with
 * such a key is answered without any call. Held by the SHA-256 of the key, never the key itself.
 *
 * One verify at a time per key: requests that arrive while it is under way wait for it, and share
 * its answer if it may be reused. Otherwise (a refusal, or a key whose every use Latchkey must
 * count and limit) each of them asks for itself, and a key whose last answer could not be reused
 * is not waited on at all: its requests go to Latchkey side by side, as without a cache. An
 * answer is held from the moment its verify was sent, so whatever Latchkey commits after that
 * moment (a revocation, a ban) is seen within `cacheSeconds` of it. The least recently used keys
 * are dropped beyond `maxEntries`.
 */

export interface Verified<T> {
  value: T;
  /** Seconds the answer may be reused; null or absent (an older Latchkey): not at all. */
  cacheSeconds?: number | null;
}

export interface Answered<T> {
  value: T;
  /** True when no verify of this request's own was made: a use Latchkey has not counted. */
  cached: boolean;
  /** The key's hex SHA-256. */
  hash: string;
}

type Entry<T> =
  | { state: "held"; value: T; expiresAt: number }
  | { state: "verifying"; promise: Promise<Verified<T> | null> }
  | { state: "uncacheable" };

/** Latchkey's own bound on `cacheSeconds`; an answer saying more is held no longer. */
const maxCacheSeconds = 300;

/** The hex SHA-256 of a key, what the cache is keyed by. */
export async function keyHash(key: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)),
  );
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

export class KeyAnswerCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #maxEntries: number;

  constructor(maxEntries = 1000) {
    this.#maxEntries = maxEntries;
  }

  /** The key's answer: one held and fresh, the reusable answer of the verify under way, or its own. */
  async answer(
    key: string,
    now: () => number,
    verify: () => Promise<Verified<T>>,
  ): Promise<Answered<T>> {
    const hash = await keyHash(key);
    const entry = this.#entries.get(hash);
    if (entry?.state === "held" && now() < entry.expiresAt) {
      this.#set(hash, entry);
      return { value: entry.value, cached: true, hash };
    }
    const own = async (shared: boolean) => ({
      value: (await this.#verify(hash, now, verify, shared)).value,
      cached: false,
      hash,
    });
    if (entry?.state === "verifying") {
      const shared = await entry.promise;
      if (shared && reusableFor(shared) > 0) return { value: shared.value, cached: true, hash };
      return await own(false);
    }
    return await own(entry?.state !== "uncacheable");
  }

  async #verify(
    hash: string,
    now: () => number,
    verify: () => Promise<Verified<T>>,
    shared: boolean,
  ): Promise<Verified<T>> {
    const sentAt = now();
    const promise = verify();
    // Waiters get null for a refusal, and ask themselves: only the caller gets its refusal.
    const flight: Entry<T> = { state: "verifying", promise: promise.catch(() => null) };
    if (shared) this.#set(hash, flight);
    try {
      const verified = await promise;
      const seconds = reusableFor(verified);
      // A verify of a key already known uncacheable runs beside others: the last to finish
      // says what the key is now, unless a shared one is under way.
      if (shared || this.#entries.get(hash)?.state !== "verifying") {
        this.#set(
          hash,
          seconds > 0
            ? { state: "held", value: verified.value, expiresAt: sentAt + seconds * 1000 }
            : { state: "uncacheable" },
        );
      }
      return verified;
    } catch (error) {
      if (this.#entries.get(hash) === flight) this.#entries.delete(hash);
      throw error;
    }
  }

  /** Re-inserted last: the map's order is the order of use, oldest first. */
  #set(hash: string, entry: Entry<T>): void {
    this.#entries.delete(hash);
    this.#entries.set(hash, entry);
    while (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  /** The hashes held, oldest use first (for tests: never a key). */
  hashes(): string[] {
    return [...this.#entries.keys()];
  }
}

function reusableFor(verified: Verified<unknown>): number {
  const seconds = verified.cacheSeconds;
  return typeof seconds === "number" && seconds >= 1 ? Math.min(seconds, maxCacheSeconds) : 0;
}
