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

// SHA-256's round constants (FIPS 180-4, 4.2.2).
const rounds = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);
const initial = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];
const schedule = new Uint32Array(64);
const encoder = new TextEncoder();

const rotate = (x: number, n: number) => (x >>> n) | (x << (32 - n));

/**
 * The hex SHA-256 of a key, what the cache is keyed by: here, synchronously. WebCrypto's digest
 * is asynchronous, and Deno hands it to another thread: alone, on this project's busy 2-core
 * machine, p50 0.01 ms but p99 0.1–0.2 ms and p99.9 2–5 ms, where a cached answer's whole budget
 * is a p99 under 1 ms. A key is one or two blocks: a few microseconds of plain arithmetic.
 */
export function keyHash(key: string): string {
  const bytes = encoder.encode(key);
  const blocks = (bytes.length + 9 + 63) >> 6;
  const words = new Uint32Array(blocks * 16);
  for (let i = 0; i < bytes.length; i++) words[i >> 2] |= bytes[i] << (24 - (i & 3) * 8);
  words[bytes.length >> 2] |= 0x80 << (24 - (bytes.length & 3) * 8);
  words[blocks * 16 - 1] = bytes.length * 8;
  const hash = Uint32Array.from(initial);
  for (let block = 0; block < blocks; block++) {
    for (let t = 0; t < 16; t++) schedule[t] = words[block * 16 + t];
    for (let t = 16; t < 64; t++) {
      const x = schedule[t - 15];
      const y = schedule[t - 2];
      schedule[t] = schedule[t - 16] + (rotate(x, 7) ^ rotate(x, 18) ^ (x >>> 3)) +
        schedule[t - 7] + (rotate(y, 17) ^ rotate(y, 19) ^ (y >>> 10));
    }
    let [a, b, c, d, e, f, g, h] = hash;
    for (let t = 0; t < 64; t++) {
      const t1 = (h + (rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)) + ((e & f) ^ (~e & g)) +
        rounds[t] + schedule[t]) | 0;
      const t2 = ((rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) |
        0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    for (const [index, value] of [a, b, c, d, e, f, g, h].entries()) hash[index] += value;
  }
  let hex = "";
  for (const word of hash) hex += word.toString(16).padStart(8, "0");
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
    const hash = keyHash(key);
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
